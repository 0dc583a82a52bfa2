import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone

from cxhub import outages
from surveys import services
from tests.factories import ResponseFactory, TouchpointFactory

pytestmark = pytest.mark.django_db

URL = "/api/metrics/"


@pytest.fixture
def scores(touchpoint, touchpoint_b):
    """Support call today: 3 promoters, 1 passive, 1 detractor; billing 8 days ago: 1 detractor."""
    now = timezone.now()
    for score in (10, 9, 9, 7, 0):
        ResponseFactory(touchpoint=touchpoint, score=score, created_at=now)
    ResponseFactory(touchpoint=touchpoint_b, score=3, created_at=now - dt.timedelta(days=8))
    today = timezone.localdate()
    services.rollups_recompute_range(start=today - dt.timedelta(days=30), end=today)
    return today


def test_metrics_per_touchpoint_and_overall(read_api, scores):
    body = read_api.get(URL).json()
    assert body["since"] == (scores - dt.timedelta(days=29)).isoformat()
    assert body["until"] == scores.isoformat() and body["interval"] == "week"
    support = next(t for t in body["touchpoints"] if t["touchpoint"] == "support-call")
    assert support == {
        "touchpoint": "support-call",
        "name": "Support call",
        "nps_target": 30,
        "nps": 40,
        "responses": 5,
        "promoters": 3,
        "passives": 1,
        "detractors": 1,
        "promoter_percent": 60.0,
        "passive_percent": 20.0,
        "detractor_percent": 20.0,
        "margin_of_error": 70.1,  # 196 × sqrt((0.6 + 0.2 − 0.4²) / 5)
        "small_sample": True,  # 5 < nps.MIN_SAMPLE: the pages say "few answers (n = 5)"
    }
    assert body["overall"]["responses"] == 6
    assert body["overall"]["nps"] == 17  # (3 - 2) / 6


def test_small_sample_is_documented_and_false_from_thirty_responses(read_api, client, touchpoint):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    field = schema["components"]["schemas"]["Counts"]["properties"]["small_sample"]
    assert field["type"] == "boolean" and "Fewer than 30 responses" in field["description"]
    assert "small_sample" in schema["components"]["schemas"]["Counts"]["required"]
    for i in range(30):
        ResponseFactory(touchpoint=touchpoint, score=10 if i % 2 else 3)
    services.rollups_recompute_range(start=timezone.localdate(), end=timezone.localdate())
    body = read_api.get(URL).json()
    assert (body["overall"]["responses"], body["overall"]["small_sample"]) == (30, False)


def test_metrics_for_one_touchpoint_with_a_daily_trend(read_api, scores):
    since = scores - dt.timedelta(days=9)
    body = read_api.get(
        URL, {"touchpoint": "billing", "trend": "day", "since": since.isoformat()}
    ).json()
    assert [t["touchpoint"] for t in body["touchpoints"]] == ["billing"]
    assert len(body["trend"]) == 10
    assert body["trend"][0]["start"] == since.isoformat()
    with_data = [p for p in body["trend"] if p["responses"]]
    assert [(p["start"], p["nps"]) for p in with_data] == [
        ((scores - dt.timedelta(days=8)).isoformat(), -100)
    ]
    assert body["trend"][-1]["nps"] is None  # no responses: no NPS, never 0


def test_a_weekly_trend_starts_on_mondays(read_api, scores):
    body = read_api.get(URL).json()
    starts = [dt.date.fromisoformat(p["start"]) for p in body["trend"]]
    assert all(d.weekday() == 0 for d in starts)
    assert sum(p["responses"] for p in body["trend"]) == 6


def test_no_responses_is_no_nps(read_api, touchpoint):
    body = read_api.get(URL).json()
    assert body["overall"]["nps"] is None and body["overall"]["margin_of_error"] is None


@pytest.mark.parametrize(
    "params, field",
    [
        ({"since": "2026-13-01"}, "since"),
        ({"since": "2026-02-01", "until": "2026-01-01"}, "since"),
        ({"since": "1900-01-01"}, "since"),
        ({"until": "9999-12-31"}, "until"),
        ({"since": "2010-01-01", "until": "2026-01-01"}, "since"),
        ({"trend": "hour"}, "trend"),
        ({"touchpoint": "nowhere"}, "touchpoint"),
    ],
)
def test_bad_metric_queries_are_a_400(read_api, touchpoint, params, field):
    response = read_api.get(URL, params)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_metrics_ignore_inactive_touchpoints_without_data(read_api, touchpoint):
    TouchpointFactory(slug="gone", active=False)
    body = read_api.get(URL).json()
    assert [t["touchpoint"] for t in body["touchpoints"]] == ["support-call"]


# --- throttling -----------------------------------------------------------------------------


def _rates(api="3/min", batch="2/min"):
    from django.conf import settings

    rf = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api": api, "api_batch": batch}}
    return override_settings(REST_FRAMEWORK=rf)


def test_too_many_requests_get_429_with_retry_after(read_api, touchpoint):
    with _rates():
        codes = [read_api.get("/api/touchpoints/").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        response = read_api.get("/api/metrics/")
    assert response.status_code == 429
    retry = response["Retry-After"]
    assert retry.isdigit() and 1 <= int(retry) <= 60
    assert response.json()["status"] == 429 and "throttled" in response.json()["message"].lower()


def test_each_key_has_its_own_allowance(read_api, write_api, touchpoint):
    with _rates(api="2/min"):
        for _ in range(2):
            read_api.get("/api/touchpoints/")
        assert read_api.get("/api/touchpoints/").status_code == 429
        assert write_api.get("/api/touchpoints/").status_code == 200


def test_batches_have_their_own_rate(write_api, touchpoint):
    body = {"responses": [{"touchpoint": "support-call", "score": 9}]}
    with _rates(api="100/min", batch="1/min"):
        assert write_api.post("/api/responses/batch/", body, format="json").status_code == 201
        assert write_api.post("/api/responses/batch/", body, format="json").status_code == 429
        assert write_api.get("/api/touchpoints/").status_code == 200


def test_the_throttle_counts_on_redis_in_one_round_trip(touchpoint):
    """The production cache path (INCR + EXPIRE pipelined) against the real Redis."""
    import os

    from django.core.cache.backends.redis import RedisCache

    from cxhub.caching import _incr_with_ttl

    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("no Redis")
    cache = RedisCache(url, {})
    key = f"test-throttle-{timezone.now().timestamp()}"
    assert [_incr_with_ttl(cache, key, 5) for _ in range(3)] == [1, 2, 3]
    assert 0 < cache._cache.get_client(key).ttl(cache.make_key(key)) <= 5
    cache.delete(key)


def test_with_the_cache_down_api_requests_still_succeed_unthrottled(
    write_api, touchpoint, caplog, cache_at
):
    from surveys.models import Response

    with _rates(api="1/min"), cache_at("redis://127.0.0.1:1/0"):  # nothing listens there
        codes = [
            write_api.post(
                "/api/responses/",
                {"touchpoint": "support-call", "score": 2, "comment": f"cache down {i}"},
                format="json",
            ).status_code
            for i in range(3)
        ]
    assert codes == [201, 201, 201]  # at 1/min, counted, the 2nd and 3rd would be 429
    assert Response.objects.filter(comment__startswith="cache down").count() == 3
    assert "cache unavailable (counting API requests: they go unthrottled)" in caplog.text


def test_a_cache_that_never_answers_costs_one_request_its_timeout_then_is_skipped(
    read_api, touchpoint, silent_server, cache_at
):
    with cache_at(silent_server.url):
        assert read_api.get("/api/touchpoints/").status_code == 200
        tried = silent_server.connections()
        codes = [read_api.get("/api/touchpoints/").status_code for _ in range(3)]
    assert tried >= 1
    assert codes == [200, 200, 200]
    assert silent_server.connections() == tried  # skipped: no new connection, no wait


def test_a_silent_redis_costs_an_api_write_one_timeout_not_two(
    write_api, touchpoint, silent_redis, django_capture_on_commit_callbacks, caplog
):
    # The production throttle, counted on the cache.
    with _rates(api="100/min"), django_capture_on_commit_callbacks(execute=True):
        answer = write_api.post(
            "/api/responses/",
            {"touchpoint": "support-call", "score": 2, "comment": "Redis is silent"},
            format="json",
        )
    assert answer.status_code == 201
    from surveys.models import Response

    assert Response.objects.get().case.is_open
    # The throttle's count waited for the silent server; the after-commit publishes
    # (rollup, case assignment) did not try it again.
    assert "cache unavailable (counting API requests" in caplog.text
    assert "broker marked down" in caplog.text
    assert silent_redis.connections() == 1


def test_the_throttle_counts_again_once_the_cache_is_back(read_api, touchpoint, cache_at):
    with _rates(api="2/min"), cache_at("redis://127.0.0.1:1/0"):
        assert read_api.get("/api/touchpoints/").status_code == 200
    outages.reset()  # what outages.RETRY_AFTER seconds do
    with _rates(api="2/min"):
        codes = [read_api.get("/api/touchpoints/").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


# --- error bodies -------------------------------------------------------------------------------


def test_every_error_has_the_same_shape(anon, read_api, write_api, touchpoint):
    for response in (
        anon.get("/api/responses/"),
        read_api.post("/api/responses/", {"touchpoint": "support-call", "score": 1}, format="json"),
        read_api.get("/api/responses/999999/"),
        write_api.post(
            "/api/responses/", {"touchpoint": "support-call", "score": 11}, format="json"
        ),
        read_api.delete("/api/touchpoints/support-call/"),
    ):
        body = response.json()
        assert set(body) == {"status", "message", "errors"}
        assert body["status"] == response.status_code >= 400
        assert body["message"]


def test_a_session_must_send_the_csrf_token_to_write(cx_admin, touchpoint):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(cx_admin)
    response = client.post(
        "/api/responses/", {"touchpoint": "support-call", "score": 9}, format="json"
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["message"]
