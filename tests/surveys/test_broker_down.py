"""A web request never fails because the broker is down: data saved, work caught up later.

These tests point Celery at real, broken brokers: a closed port, and a server that
accepts connections but never answers (the case that blocked .delay() for 45 s).
"""

import time

from django.utils import timezone

from surveys import services
from surveys.models import NpsDaily, Response


def post_survey(client, touchpoint, capture):
    with capture(execute=True):
        return client.post(f"/s/{touchpoint.slug}/", {"score": "4", "comment": "broker is down"})


def test_survey_post_succeeds_with_the_broker_port_closed(
    customer_client, touchpoint, broker, django_capture_on_commit_callbacks, caplog
):
    broker()  # a closed port
    answer = post_survey(customer_client, touchpoint, django_capture_on_commit_callbacks)
    assert answer.status_code == 302
    response = Response.objects.get()
    assert response.comment == "broker is down"
    # The detractor's case is open all the same: only the background work waits.
    assert response.case.is_open
    assert "could not enqueue" in caplog.text
    # The sweeper catches up once the work can run.
    assert NpsDaily.objects.count() == 0
    services.rollups_reconcile()
    assert NpsDaily.objects.get(date=timezone.localdate()).detractors == 1


def test_survey_post_succeeds_when_the_broker_accepts_but_never_answers(
    customer_client, touchpoint, broker, silent_server, django_capture_on_commit_callbacks
):
    broker(silent_server.url)
    started = time.monotonic()
    answer = post_survey(customer_client, touchpoint, django_capture_on_commit_callbacks)
    elapsed = time.monotonic() - started
    assert answer.status_code == 302
    assert Response.objects.count() == 1
    # Not a timing test: a generous bound (the broker socket timeout is 2 s) that only
    # catches a hang such as the 45 s+ one of Celery's defaults.
    assert elapsed < 10, f"the request hung on the broker for {elapsed:.0f} s"


def test_after_one_failure_requests_skip_the_broker_for_a_while(
    customer_client, touchpoint, broker, django_capture_on_commit_callbacks, caplog
):
    broker()  # a closed port
    for _ in range(3):
        assert (
            post_survey(customer_client, touchpoint, django_capture_on_commit_callbacks).status_code
            == 302
        )
    assert Response.objects.count() == 3
    # Each detractor answer publishes two tasks (rollup, case assignment): six in all,
    # of which only the first tried the broker.
    assert caplog.text.count("could not enqueue") == 1
    assert caplog.text.count("broker marked down") == 5


def test_healthz_reports_a_broker_outage_without_failing(client, broker, db, caplog):
    broker()  # a closed port
    body = client.get("/healthz").json()
    assert body["status"] == "degraded"
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is False
    # The public answer names no host or port; the log has the whole error.
    assert body["broker"]["detail"] == "unavailable (OperationalError)"
    assert "127.0.0.1:1" not in str(body) and "127.0.0.1:1" in caplog.text


def test_a_failed_publish_is_not_retried(
    customer_client, touchpoint, broker, hanging_up_server, django_capture_on_commit_callbacks
):
    """One connection attempt and no sleep before a retry: the request that meets the
    outage pays a refused connection, not seconds (the sweepers redo the work)."""
    broker(hanging_up_server.url)
    answer = post_survey(customer_client, touchpoint, django_capture_on_commit_callbacks)
    assert answer.status_code == 302
    assert hanging_up_server.connections() == 1


def test_healthz_tries_the_broker_once_without_retrying(client, broker, hanging_up_server, db):
    """A probe must answer within its own timeout (Kubernetes': 1 s): one connection
    attempt, no retry and no sleep before one."""
    broker(hanging_up_server.url)
    body = client.get("/healthz").json()
    assert body["status"] == "degraded" and body["broker"]["ok"] is False
    assert hanging_up_server.connections() == 1


def test_healthz_is_ok_with_a_working_database(client, db):
    page = client.get("/healthz")
    assert page.status_code == 200
    assert page.json()["database"]["ok"] is True
