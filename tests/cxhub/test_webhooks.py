"""Outgoing webhooks: signed, retried with backoff, logged, and never in the way.

Every test posts to a real HTTP receiver on 127.0.0.1 (http.server in a thread). Tasks
run eagerly as in the rest of the suite; see `celery_eager_retries` for how retries
are exercised.
"""

import datetime as dt
import json
import threading
import time
import uuid
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from celery.signals import task_retry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cxhub import tasks, webhooks
from cxhub.celery import app as celery_app
from cxhub.models import AlertDelivery, TeamAlert, WebhookDelivery, WebhookEndpoint
from feedback import services as feedback_services
from feedback.models import FollowUpCase, RootCause
from surveys import services as survey_services
from surveys.models import Response
from tests.factories import InvitationFactory, PersonFactory, UserFactory
from tests.surveys.test_worker import worker  # noqa: F401 - the fixture

NOW = dt.datetime(2026, 11, 18, 10, 0, tzinfo=dt.UTC)
ALL_EVENTS = list(WebhookEndpoint.Event.values)


def _readme_verify():
    """The receiver's check exactly as the README documents it (not cxhub's code)."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    snippet = readme[readme.index("#### Webhooks") :].split("```python\n", 1)[1].split("```")[0]
    namespace: dict = {}
    exec(snippet, namespace)  # noqa: S102 - our own README, under test
    return namespace["verify"]


verify_signature = _readme_verify()


@dataclass
class Received:
    path: str
    headers: Message  # case-insensitive, as HTTP headers are
    body: bytes
    answered: int

    @property
    def json(self) -> dict:
        return json.loads(self.body)


class Receiver:
    """What the fixture's server got; tell it to fail the next N requests, or to be slow."""

    def __init__(self):
        self.requests: list[Received] = []
        self.fail_next = 0
        self.fail_status = 500
        self.delay = 0.0
        self.url = ""
        self.lock = threading.Lock()

    @property
    def delivered(self) -> list[Received]:
        return [r for r in self.requests if 200 <= r.answered < 300]


class _Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # the client gave up (timeout test): nothing to report


@pytest.fixture
def receiver():
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server API
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with state.lock:
                failing = state.fail_next > 0
                state.fail_next -= failing
                status = state.fail_status if failing else 200
                state.requests.append(Received(self.path, self.headers, body, status))
            if state.delay:
                time.sleep(state.delay)
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "/elsewhere")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = _Quiet(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}/hooks/cx"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _forget_endpoints():
    # Endpoints are cached 30 s per process; no test sees another's.
    webhooks.webhook_endpoints_forget()
    yield
    webhooks.webhook_endpoints_forget()


@pytest.fixture
def endpoint(receiver, db):
    return webhooks.webhook_endpoint_create(url=receiver.url, events=ALL_EVENTS)


@pytest.fixture
def celery_eager_retries(monkeypatch):
    """Celery's own eager retry semantics, and the countdowns it was asked for.

    The suite runs tasks eagerly with task_eager_propagates on: a task's Retry then
    escapes apply() (publish logs it) and no retry runs in-process, as in production,
    where the web process never runs the retry. With propagation off, Celery's eager
    apply() runs each retry at once, in-process (ignoring the countdown), until the
    task returns: the real retry path, minus the waiting (so every attempt counts as
    due: see test_an_attempt_before_its_backoff_is_over_is_left_to_the_retry).
    """
    monkeypatch.setattr(webhooks, "EARLY_TOLERANCE", dt.timedelta(days=1))
    countdowns = []

    def record(sender=None, reason=None, **kwargs):
        countdowns.append(reason.when)

    saved = celery_app.conf.task_eager_propagates
    celery_app.conf.task_eager_propagates = False
    task_retry.connect(record, weak=False)
    yield countdowns
    task_retry.disconnect(record)
    celery_app.conf.task_eager_propagates = saved


def answer_survey(client, touchpoint, capture, score="9", comment=""):
    with capture(execute=True):
        answer = client.post(f"/s/{touchpoint.slug}/", {"score": score, "comment": comment})
    assert answer.status_code == 302, answer.content
    return Response.objects.latest("pk")


# --- signature and envelope -------------------------------------------------------------------


def test_the_signature_verifies_with_the_endpoint_secret_and_not_with_another_or_a_tampered_body(
    customer_client, touchpoint, endpoint, receiver, django_capture_on_commit_callbacks
):
    answer_survey(customer_client, touchpoint, django_capture_on_commit_callbacks)
    [request] = receiver.requests
    header = request.headers["X-CXHub-Signature"]
    assert header.startswith("t=") and ",v1=" in header
    assert verify_signature(endpoint.secret, header, request.body)
    assert not verify_signature("whsec_someone-else", header, request.body)
    tampered = request.body.replace(b'"score":9', b'"score":10')
    assert tampered != request.body
    assert not verify_signature(endpoint.secret, header, tampered)
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-CXHub-Event"] == "survey_response.created"


def test_an_old_signature_is_refused_so_a_captured_request_cannot_be_replayed(
    customer_client,
    touchpoint,
    endpoint,
    receiver,
    django_capture_on_commit_callbacks,
    time_machine,
):
    time_machine.move_to(NOW, tick=False)
    answer_survey(customer_client, touchpoint, django_capture_on_commit_callbacks)
    [request] = receiver.requests
    assert request.headers["X-CXHub-Signature"].startswith(f"t={int(NOW.timestamp())},")
    time_machine.move_to(NOW + dt.timedelta(minutes=10), tick=False)
    assert not verify_signature(endpoint.secret, request.headers["X-CXHub-Signature"], request.body)


def test_a_new_response_is_posted_as_survey_response_created_with_its_envelope(
    customer_client,
    touchpoint,
    endpoint,
    receiver,
    django_capture_on_commit_callbacks,
    time_machine,
):
    time_machine.move_to(NOW, tick=False)
    response = answer_survey(
        customer_client, touchpoint, django_capture_on_commit_callbacks, "4", "Slow <b>line</b>"
    )
    [request] = receiver.delivered
    delivery = WebhookDelivery.objects.get()
    assert request.json == {
        "event_type": "survey_response.created",
        "event_id": str(delivery.event_id),
        "created_at": int(NOW.timestamp()),
        "event_data": {
            "id": response.pk,
            "touchpoint": "support-call",
            "score": 4,
            "category": "detractor",
            "comment": "Slow <b>line</b>",
            "created_at": int(NOW.timestamp()),
            "updated_at": int(NOW.timestamp()),
            "person_id": None,
        },
    }
    assert request.headers["X-CXHub-Event-Id"] == str(delivery.event_id)
    assert (delivery.status, delivery.attempts, delivery.response_status_code) == ("sent", 1, 200)
    assert delivery.sent_at == NOW


def test_answering_the_same_invitation_again_is_posted_as_survey_response_updated(
    customer_client,
    touchpoint,
    endpoint,
    receiver,
    django_capture_on_commit_callbacks,
    time_machine,
):
    time_machine.move_to(NOW, tick=False)
    invitation = InvitationFactory(touchpoint=touchpoint)
    with django_capture_on_commit_callbacks(execute=True):
        customer_client.post(f"/r/{invitation.token}/", {"score": "6"})
    time_machine.move_to(NOW + dt.timedelta(hours=1), tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        answer = customer_client.post(f"/r/{invitation.token}/", {"score": "9", "comment": "Fixed"})
    assert answer.status_code == 302
    # 6 → 9 before anyone called also closes the case (case.closed, tested below).
    created, updated = (
        r.json for r in receiver.delivered if r.json["event_type"].startswith("survey_response.")
    )
    assert [created["event_type"], updated["event_type"]] == [
        "survey_response.created",
        "survey_response.updated",
    ]
    assert created["event_id"] != updated["event_id"]
    assert updated["event_data"]["id"] == created["event_data"]["id"]
    assert updated["event_data"]["score"] == 9
    assert updated["event_data"]["comment"] == "Fixed"
    assert updated["event_data"]["person_id"] == invitation.person_id
    assert updated["event_data"]["created_at"] == int(NOW.timestamp())
    assert updated["event_data"]["updated_at"] == int(NOW.timestamp()) + 3600


def test_closing_a_case_is_posted_as_case_closed(
    client, touchpoint, manager_a, receiver, django_capture_on_commit_callbacks, time_machine
):
    time_machine.move_to(NOW, tick=False)
    webhooks.webhook_endpoint_create(url=receiver.url, events=["case.closed"])
    cause = RootCause.objects.create(name="Long wait on the phone")
    with django_capture_on_commit_callbacks(execute=True):
        response = survey_services.response_record(touchpoint=touchpoint, score=2)
    case = FollowUpCase.objects.get(response=response)
    assert receiver.requests == []
    client.force_login(manager_a)
    time_machine.move_to(NOW + dt.timedelta(hours=3), tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(
            f"/cases/{case.pk}/close/",
            {"outcome": "resolved", "root_causes": [cause.pk], "resolution": "Called back."},
        )
    assert page.status_code == 302
    [request] = receiver.delivered
    assert request.json["event_type"] == "case.closed"
    assert request.json["event_data"] == {
        "id": case.pk,
        "response_id": response.pk,
        "status": "closed",
        "outcome": "resolved",
        "root_causes": ["Long wait on the phone"],
        "closed_at": int(NOW.timestamp()) + 3 * 3600,
    }


def test_a_case_that_closes_itself_when_the_customer_rescores_is_posted_as_case_closed(
    touchpoint, receiver, django_capture_on_commit_callbacks
):
    webhooks.webhook_endpoint_create(url=receiver.url, events=["case.closed"])
    invitation = InvitationFactory(touchpoint=touchpoint, person=PersonFactory())
    with django_capture_on_commit_callbacks(execute=True):
        response = survey_services.response_record(
            touchpoint=touchpoint, invitation=invitation, score=3
        )
    assert receiver.requests == []
    with django_capture_on_commit_callbacks(execute=True):
        survey_services.response_record(touchpoint=touchpoint, invitation=invitation, score=9)
    [request] = receiver.delivered
    data = request.json["event_data"]
    assert request.json["event_type"] == "case.closed"
    assert (data["response_id"], data["status"], data["outcome"]) == (
        response.pk,
        "closed",
        FollowUpCase.Outcome.NO_LONGER_DETRACTOR,
    )


def test_unsubscribing_is_posted_once_as_unsubscribe_created(
    customer_client, touchpoint, receiver, django_capture_on_commit_callbacks, time_machine
):
    time_machine.move_to(NOW, tick=False)
    webhooks.webhook_endpoint_create(url=receiver.url, events=["unsubscribe.created"])
    invitation = InvitationFactory(touchpoint=touchpoint, person=PersonFactory(email="zoe@x.net"))
    for _ in range(2):  # a second click on the link changes nothing and announces nothing
        with django_capture_on_commit_callbacks(execute=True):
            assert customer_client.post(f"/u/{invitation.token}/").status_code == 200
    [request] = receiver.delivered
    assert request.json["event_type"] == "unsubscribe.created"
    assert request.json["event_data"] == {
        "id": invitation.person_id,
        "email": "zoe@x.net",
        "unsubscribed_at": int(NOW.timestamp()),
    }


# --- who gets what ------------------------------------------------------------------------------


def test_an_endpoint_subscribed_to_some_events_gets_only_those(
    touchpoint, manager_a, receiver, django_capture_on_commit_callbacks
):
    cases_only = webhooks.webhook_endpoint_create(
        url=receiver.url + "/cases", events=["case.closed"]
    )
    responses_only = webhooks.webhook_endpoint_create(
        url=receiver.url + "/responses", events=["survey_response.created"]
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = survey_services.response_record(touchpoint=touchpoint, score=1)
    with django_capture_on_commit_callbacks(execute=True):
        feedback_services.contact_attempt_log(case=response.case, by=manager_a, outcome="no_answer")
        feedback_services.case_close(case=response.case, by=manager_a, outcome="unreachable")
    got = {(r.path, r.json["event_type"]) for r in receiver.delivered}
    assert got == {
        ("/hooks/cx/responses", "survey_response.created"),
        ("/hooks/cx/cases", "case.closed"),
    }
    assert set(cases_only.deliveries.values_list("event", flat=True)) == {"case.closed"}
    assert set(responses_only.deliveries.values_list("event", flat=True)) == {
        "survey_response.created"
    }


def test_inactive_endpoints_get_nothing(
    customer_client, touchpoint, receiver, django_capture_on_commit_callbacks
):
    webhooks.webhook_endpoint_create(url=receiver.url, events=ALL_EVENTS, active=False)
    answer_survey(customer_client, touchpoint, django_capture_on_commit_callbacks)
    assert receiver.requests == []
    assert WebhookDelivery.objects.count() == 0


def test_an_endpoint_deactivated_after_the_event_gets_nothing_and_the_log_says_why(
    touchpoint, endpoint, receiver, broker, django_capture_on_commit_callbacks
):
    broker()
    with django_capture_on_commit_callbacks(execute=True):
        survey_services.response_record(touchpoint=touchpoint, score=9)
    broker.restore()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=False)
    delivery = WebhookDelivery.objects.get()
    tasks.webhook_deliver.delay(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (
        "failed",
        0,
        "The endpoint is inactive.",
    )
    assert receiver.requests == []


def test_with_no_endpoint_recording_a_response_touches_no_webhook_table(
    touchpoint, receiver, django_capture_on_commit_callbacks
):
    def webhook_queries(score):
        with CaptureQueriesContext(connection) as queries:
            survey_services.response_record(touchpoint=touchpoint, score=score)
        return [q["sql"] for q in queries if "cxhub_webhook" in q["sql"]]

    assert len(webhook_queries(9)) == 1  # reads which events have endpoints, then caches it
    assert webhook_queries(3) == []
    # An endpoint for other events only: once the cache knows, responses cost nothing.
    webhooks.webhook_endpoint_create(url=receiver.url, events=["case.closed"])
    webhook_queries(8)
    assert webhook_queries(7) == []
    assert Response.objects.count() == 4
    assert WebhookDelivery.objects.count() == 0


def test_a_failure_while_queueing_a_webhook_never_breaks_the_survey_answer(
    customer_client, touchpoint, endpoint, receiver, django_capture_on_commit_callbacks, monkeypatch
):
    def broken(response):
        with connection.cursor() as cursor:  # a database error inside the receiver
            cursor.execute("SELECT 1 FROM no_such_table")

    monkeypatch.setattr(webhooks, "response_event_data", broken)
    response = answer_survey(
        customer_client, touchpoint, django_capture_on_commit_callbacks, "2", "still here"
    )
    assert response.comment == "still here"
    assert response.case.is_open  # the rest of the recording transaction committed
    assert WebhookDelivery.objects.count() == 0
    assert receiver.requests == []


# --- retries --------------------------------------------------------------------------------------


def test_a_receiver_answering_500_then_200_is_retried_and_the_log_shows_two_attempts(
    customer_client,
    touchpoint,
    endpoint,
    receiver,
    celery_eager_retries,
    django_capture_on_commit_callbacks,
):
    receiver.fail_next = 1
    answer_survey(customer_client, touchpoint, django_capture_on_commit_callbacks)
    first, second = receiver.requests
    assert (first.answered, second.answered) == (500, 200)
    assert celery_eager_retries == [30]  # Celery was asked to retry after the backoff
    assert first.json == second.json  # the same event, the same id: receivers dedupe
    assert verify_signature(endpoint.secret, second.headers["X-CXHub-Signature"], second.body)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_status_code) == ("sent", 2, 200)
    assert delivery.last_error == ""


def test_retries_back_off_exponentially_until_the_last_attempt_fails_the_delivery(
    touchpoint, endpoint, receiver, celery_eager_retries, django_capture_on_commit_callbacks
):
    receiver.fail_next = 100
    with django_capture_on_commit_callbacks(execute=True):
        survey_services.response_record(touchpoint=touchpoint, score=9)
    n = webhooks.MAX_WEBHOOK_ATTEMPTS
    assert len(receiver.requests) == n
    assert celery_eager_retries == [30, 60, 120, 240, 480, 960, 1800][: n - 1]
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_status_code) == ("failed", n, 500)
    assert "HTTP Error 500" in delivery.last_error


def test_an_attempt_before_its_backoff_is_over_is_left_to_the_retry(
    touchpoint, endpoint, receiver, django_capture_on_commit_callbacks, time_machine
):
    """A second message for a delivery (the sweeper's, while the Celery retry was only
    late) posts nothing before the backoff is over: one retry chain, not two."""
    receiver.fail_next = 1
    time_machine.move_to(NOW, tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        survey_services.response_record(touchpoint=touchpoint, score=9)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.next_attempt_at == NOW + dt.timedelta(seconds=30)
    assert webhooks.webhook_deliver(delivery_id=delivery.pk) is False  # 30 s early
    assert len(receiver.requests) == 1
    time_machine.move_to(NOW + dt.timedelta(seconds=26), tick=False)  # within the tolerance
    assert webhooks.webhook_deliver(delivery_id=delivery.pk) is True
    assert len(receiver.requests) == 2
    assert WebhookDelivery.objects.get().status == "sent"


def test_a_receiver_that_always_fails_ends_failed_after_n_attempts_and_the_survey_post_succeeded(
    customer_client,
    touchpoint,
    endpoint,
    receiver,
    django_capture_on_commit_callbacks,
    time_machine,
):
    receiver.fail_next = 100
    receiver.fail_status = 503
    time_machine.move_to(NOW, tick=False)
    response = answer_survey(customer_client, touchpoint, django_capture_on_commit_callbacks)
    assert Response.objects.get() == response
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_status_code) == (
        "pending",
        1,
        503,
    )
    assert delivery.next_attempt_at == NOW + dt.timedelta(seconds=30)
    # In production the Celery retry comes back after the backoff; here the beat sweeper
    # stands in for a retry whose message was lost, which is what a retry does.
    for _ in range(30):
        time_machine.shift(dt.timedelta(minutes=40))
        webhooks.webhooks_redeliver()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", webhooks.MAX_WEBHOOK_ATTEMPTS)
    assert "HTTP Error 503" in delivery.last_error
    assert len(receiver.requests) == webhooks.MAX_WEBHOOK_ATTEMPTS


def test_the_sweeper_leaves_a_retry_alone_until_it_is_overdue(
    touchpoint, endpoint, receiver, django_capture_on_commit_callbacks, time_machine
):
    receiver.fail_next = 1
    time_machine.move_to(NOW, tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        survey_services.response_record(touchpoint=touchpoint, score=9)
    # The retry is due in 30 s; the sweeper only steps in 2 minutes after that.
    time_machine.shift(dt.timedelta(seconds=90))
    assert webhooks.webhooks_redeliver() == 0
    time_machine.shift(dt.timedelta(seconds=61))
    assert webhooks.webhooks_redeliver() == 1
    assert [r.answered for r in receiver.requests] == [500, 200]
    assert webhooks.webhooks_redeliver() == 0


def test_a_receiver_that_does_not_answer_in_time_is_retried(
    touchpoint, endpoint, receiver, django_capture_on_commit_callbacks, monkeypatch, time_machine
):
    monkeypatch.setattr(webhooks, "TIMEOUT_SECONDS", 0.3)
    receiver.delay = 2
    time_machine.move_to(NOW, tick=True)
    with django_capture_on_commit_callbacks(execute=True):
        survey_services.response_record(touchpoint=touchpoint, score=9)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_status_code) == (
        "pending",
        1,
        None,
    )
    assert "timed out" in delivery.last_error
    receiver.delay = 0
    time_machine.move_to(NOW + dt.timedelta(minutes=5), tick=False)
    webhooks.webhooks_redeliver()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 2)


def test_a_redirect_is_not_followed_and_counts_as_a_failure(
    touchpoint, endpoint, receiver, django_capture_on_commit_callbacks
):
    receiver.fail_next, receiver.fail_status = 1, 302
    with django_capture_on_commit_callbacks(execute=True):
        survey_services.response_record(touchpoint=touchpoint, score=9)
    assert [(r.path, r.answered) for r in receiver.requests] == [("/hooks/cx", 302)]
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.response_status_code) == ("pending", 302)


def test_team_alerts_share_the_delivery_machinery_retries_included(
    team_a, touchpoint, receiver, celery_eager_retries, django_capture_on_commit_callbacks
):
    TeamAlert.objects.create(team=team_a, webhook_url=receiver.url)
    receiver.fail_next = 2
    with django_capture_on_commit_callbacks(execute=True):
        survey_services.response_record(touchpoint=touchpoint, score=1)
    assert [r.answered for r in receiver.requests] == [500, 500, 200]
    assert celery_eager_retries == [30, 60]
    alert = AlertDelivery.objects.get()
    assert (alert.status, alert.attempts, alert.last_error) == ("sent", 3, "")
    assert receiver.delivered[0].json == {"text": "New detractor (1) at Support call"}


def test_a_team_alert_switched_off_gets_nothing_more_not_even_what_was_queued(
    team_a, touchpoint, receiver, django_capture_on_commit_callbacks
):
    from cxhub import services as cxhub_services

    alert_config = TeamAlert.objects.create(team=team_a, webhook_url=receiver.url)
    receiver.fail_next = 1
    with django_capture_on_commit_callbacks(execute=True):
        survey_services.response_record(touchpoint=touchpoint, score=1)
    alert = AlertDelivery.objects.get()
    assert (alert.status, alert.attempts) == ("pending", 1)
    alert_config.active = False
    alert_config.save()
    AlertDelivery.objects.update(next_attempt_at=timezone.now())  # its retry is due
    assert cxhub_services.alert_deliver(delivery_id=alert.pk) is False
    assert len(receiver.requests) == 1
    alert.refresh_from_db()
    assert (alert.status, alert.last_error) == (
        "failed",
        "The team's alert webhook is switched off.",
    )


# --- broker down --------------------------------------------------------------------------------


def test_with_the_broker_down_the_answer_is_saved_and_the_sweeper_delivers_later(
    customer_client,
    touchpoint,
    endpoint,
    receiver,
    broker,
    django_capture_on_commit_callbacks,
    time_machine,
    caplog,
):
    broker()  # (a frozen clock would hang kombu's connection timeout: real time here)
    answer_survey(customer_client, touchpoint, django_capture_on_commit_callbacks)
    assert "could not enqueue cxhub.tasks.webhook_deliver" in caplog.text
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert receiver.requests == []
    broker.restore()  # the broker is back; beat runs the sweeper
    time_machine.move_to(timezone.now() + dt.timedelta(minutes=1), tick=False)
    assert webhooks.webhooks_redeliver() == 0  # not overdue yet: its message may be on the way
    time_machine.shift(dt.timedelta(minutes=2))
    assert webhooks.webhooks_redeliver() == 1
    [request] = receiver.delivered
    assert request.json["event_id"] == str(delivery.event_id)
    assert verify_signature(endpoint.secret, request.headers["X-CXHub-Signature"], request.body)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 1)
    assert webhooks.webhooks_redeliver() == 0


def test_an_escalation_alert_is_logged_with_the_escalation_and_survives_a_broker_outage(
    team_a, touchpoint, receiver, broker, django_capture_on_commit_callbacks, time_machine
):
    from cxhub import services as cxhub_services

    TeamAlert.objects.create(team=team_a, webhook_url=receiver.url, new_detractors=False)
    case = survey_services.response_record(touchpoint=touchpoint, score=2).case
    broker()  # down while the case is escalated
    with django_capture_on_commit_callbacks(execute=True):
        assert feedback_services.cases_escalate_overdue(now=case.due_at + dt.timedelta(minutes=1))
    alert = AlertDelivery.objects.get()
    assert (alert.kind, alert.status, alert.attempts) == ("escalation", "pending", 0)
    assert alert.text.startswith(f"Case #{case.pk} (Support call) is past its deadline: http")
    assert receiver.requests == []
    broker.restore()  # the broker is back; beat runs the sweeper
    time_machine.move_to(timezone.now() + dt.timedelta(minutes=3), tick=False)
    assert cxhub_services.alerts_redeliver() == 1
    assert [r.json for r in receiver.delivered] == [{"text": alert.text}]


# --- admin ----------------------------------------------------------------------------------------


def test_a_cx_admin_creates_an_endpoint_in_the_admin_and_sees_its_secret(
    client, cx_admin, customer_client, touchpoint, receiver, django_capture_on_commit_callbacks
):
    client.force_login(cx_admin)
    page = client.post(
        "/admin/cxhub/webhookendpoint/add/",
        {
            "url": receiver.url,
            "description": "CRM",
            "events": ["survey_response.created", "case.closed"],
            "active": "on",
        },
    )
    assert page.status_code == 302, page.content.decode()
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["survey_response.created", "case.closed"]
    assert endpoint.secret.startswith("whsec_") and len(endpoint.secret) > 40
    change = client.get(f"/admin/cxhub/webhookendpoint/{endpoint.pk}/change/")
    assert endpoint.secret in change.content.decode()
    # It takes effect at once: the next answer is posted to it.
    answer_survey(customer_client, touchpoint, django_capture_on_commit_callbacks)
    [request] = receiver.delivered
    assert verify_signature(endpoint.secret, request.headers["X-CXHub-Signature"], request.body)


def test_the_admin_refuses_unknown_events_and_non_http_urls(client, cx_admin):
    client.force_login(cx_admin)
    page = client.post(
        "/admin/cxhub/webhookendpoint/add/",
        {"url": "ftp://example.com/in", "events": ["survey_response.deleted"], "active": "on"},
    )
    assert page.status_code == 200
    html = page.content.decode()
    assert "Use an http:// or https:// URL." in html
    assert "Select a valid choice" in html
    assert WebhookEndpoint.objects.count() == 0


def test_staff_who_are_not_cx_admins_see_no_endpoint_and_no_secret(client, endpoint):
    staff = UserFactory(username="sam", is_staff=True)
    client.force_login(staff)
    assert client.get(f"/admin/cxhub/webhookendpoint/{endpoint.pk}/change/").status_code == 403
    assert client.get("/admin/cxhub/webhookdelivery/").status_code == 403
    assert endpoint.secret not in client.get("/admin/").content.decode()


def test_the_delivery_log_filters_by_status_and_event_and_redelivers_with_the_same_event_id(
    client, cx_admin, touchpoint, endpoint, receiver, django_capture_on_commit_callbacks
):
    receiver.fail_next = 100
    with django_capture_on_commit_callbacks(execute=True):
        survey_services.response_record(touchpoint=touchpoint, score=9)
    failed = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=failed.pk).update(status="failed")
    receiver.fail_next = 0
    with django_capture_on_commit_callbacks(execute=True):
        survey_services.response_record(touchpoint=touchpoint, score=8)
    sent = WebhookDelivery.objects.exclude(pk=failed.pk).get()
    assert sent.status == "sent"
    client.force_login(cx_admin)
    log = client.get("/admin/cxhub/webhookdelivery/?status__exact=failed").content.decode()
    assert f"/admin/cxhub/webhookdelivery/{failed.pk}/change/" in log
    assert f"/admin/cxhub/webhookdelivery/{sent.pk}/change/" not in log
    by_event = client.get("/admin/cxhub/webhookdelivery/?event__exact=case.closed")
    assert f"/webhookdelivery/{failed.pk}/change/" not in by_event.content.decode()
    detail = client.get(f"/admin/cxhub/webhookdelivery/{failed.pk}/change/").content.decode()
    assert str(failed.event_id) in detail and "HTTP Error 500" in detail
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(
            "/admin/cxhub/webhookdelivery/",
            {"action": "redeliver", "_selected_action": [failed.pk]},
        )
    assert page.status_code == 302
    again = WebhookDelivery.objects.exclude(pk__in=[failed.pk, sent.pk]).get()
    assert (again.event_id, again.status, again.attempts) == (failed.event_id, "sent", 1)
    assert receiver.delivered[-1].json["event_id"] == str(failed.event_id)
    failed.refresh_from_db()
    assert failed.status == "failed"  # the log keeps what happened


def test_webhook_event_ids_are_uuids_shared_by_every_endpoint_of_one_event(
    touchpoint, receiver, django_capture_on_commit_callbacks
):
    for path in ("/a", "/b"):
        webhooks.webhook_endpoint_create(url=receiver.url + path, events=ALL_EVENTS)
    with django_capture_on_commit_callbacks(execute=True):
        survey_services.response_record(touchpoint=touchpoint, score=9)
    ids = {r.json["event_id"] for r in receiver.delivered}
    assert len(receiver.delivered) == 2 and len(ids) == 1
    assert uuid.UUID(ids.pop()).version == 4


# --- a real worker --------------------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_posts_the_signed_webhook_after_the_commit(worker, touchpoint, receiver):  # noqa: F811
    endpoint = webhooks.webhook_endpoint_create(url=receiver.url, events=ALL_EVENTS)
    response = survey_services.response_record(touchpoint=touchpoint, score=10, comment="Great")
    delivery = worker.wait_for(
        lambda: WebhookDelivery.objects.filter(status="sent").first(), seconds=30
    )
    assert delivery is not None, "the worker never delivered the webhook"
    [request] = receiver.delivered
    assert verify_signature(endpoint.secret, request.headers["X-CXHub-Signature"], request.body)
    assert request.json["event_data"]["id"] == response.pk
    # The worker did it (its success is logged just after the row is written).
    assert worker.wait_for(lambda: worker.succeeded("cxhub.tasks.webhook_deliver")) == 1
