"""One Redis, two services: when the cache and the broker share a server, the request
that meets a silent Redis pays one socket timeout, not one per service (cxhub.outages)."""

import redis.exceptions

from cxhub import outages

LOCAL = "redis://127.0.0.1:6379/0"


def test_urls_of_one_server_name_it_alike():
    assert (
        outages.server_of("redis://127.0.0.1:6379/0")
        == outages.server_of("redis://:secret@127.0.0.1:6379/2")
        == outages.server_of("rediss://127.0.0.1:6379")
    )
    assert outages.server_of("redis://cache.internal:6379/0") != outages.server_of(
        "redis://broker.internal:6379/0"
    )
    assert outages.server_of("memory://") == "memory://"


def test_an_outage_opens_every_breaker_of_the_server():
    outages.failed("cache", LOCAL, redis.exceptions.TimeoutError("Timeout reading from socket"))
    assert not outages.available("cache", LOCAL)
    assert not outages.available("broker", "redis://127.0.0.1:6379/3")
    assert outages.available("broker", "redis://elsewhere:6379/0")
    outages.reset()
    assert outages.available("cache", LOCAL) and outages.available("broker", LOCAL)


def test_an_error_that_is_not_an_outage_only_opens_its_own_service():
    outages.failed("cache", LOCAL, TypeError("cannot pickle '_thread.lock' object"))
    assert not outages.available("cache", LOCAL)
    assert outages.available("broker", LOCAL)


def test_after_the_broker_met_a_silent_redis_the_dashboard_skips_the_cache(
    customer_client,
    client,
    employee,
    touchpoint,
    silent_redis,
    django_capture_on_commit_callbacks,
    caplog,
):
    from tests.factories import InvitationFactory

    invitation = InvitationFactory(touchpoint=touchpoint)
    with django_capture_on_commit_callbacks(execute=True):  # an emailed link: no cache
        answer = customer_client.post(f"/r/{invitation.token}/", {"score": "3"})
    assert answer.status_code == 302
    assert "could not enqueue" in caplog.text
    tried = silent_redis.connections()
    client.force_login(employee)
    page = client.get("/")
    assert page.status_code == 200 and b"Customer dashboard" in page.content
    assert tried >= 1 and silent_redis.connections() == tried


def test_a_public_answer_meeting_a_silent_redis_pays_one_timeout_and_is_recorded(
    customer_client, touchpoint, silent_redis, django_capture_on_commit_callbacks, caplog
):
    """The public link counts answers in the cache first: its timeout opens the
    broker's breaker too, so the after-commit publish is skipped, not waited for."""
    from surveys.models import Response

    with django_capture_on_commit_callbacks(execute=True):
        answer = customer_client.post(f"/s/{touchpoint.slug}/", {"score": "3"})
    assert answer.status_code == 302
    assert Response.objects.filter(touchpoint=touchpoint, score=3).count() == 1
    assert "cache unavailable (counting public-survey answers: they go unlimited)" in caplog.text
    assert "broker marked down" in caplog.text
    assert silent_redis.connections() == 1
