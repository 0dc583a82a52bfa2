"""The cache (Redis in production) fails open: pages and writes that use it still work
when it is down, and after one failure a process leaves it alone for a while, so a
Redis that never answers costs one request its timeout, not every request."""

from recognition import services as recognition_services
from recognition.models import Value
from tests.factories import ResponseFactory

CLOSED = "redis://127.0.0.1:1/0"  # nothing listens there


def test_the_dashboard_is_computed_uncached_with_the_cache_down(
    client, employee, touchpoint, caplog, cache_at
):
    ResponseFactory(touchpoint=touchpoint, score=10, comment="Lovely")
    client.force_login(employee)
    with cache_at(CLOSED):
        page = client.get("/")
        again = client.get(f"/touchpoints/{touchpoint.slug}/")
    assert page.status_code == 200 and b"Customer dashboard" in page.content
    assert again.status_code == 200
    assert "cache unavailable (reading" in caplog.text


def test_a_cache_that_never_answers_is_skipped_after_one_failure(
    client, employee, touchpoint, silent_server, cache_at
):
    client.force_login(employee)
    with cache_at(silent_server.url):
        assert client.get("/").status_code == 200
        tried = silent_server.connections()
        pages = [client.get(path).status_code for path in ("/", f"/touchpoints/{touchpoint.slug}/")]
    assert tried >= 1
    assert pages == [200, 200]
    assert silent_server.connections() == tried  # no new connection: no timeout paid


def test_a_write_that_forgets_cached_figures_succeeds_with_the_cache_silent(
    employee, manager_a, silent_server, cache_at, django_capture_on_commit_callbacks
):
    value = Value.objects.create(name="One team")

    def send(message):
        with django_capture_on_commit_callbacks(execute=True):
            postcard, created = recognition_services.postcard_send(
                sender=employee,
                recipient=manager_a,
                value=value,
                message=message,
                idempotency_key=message,
            )
        return postcard, created

    with cache_at(silent_server.url):
        first = send("Thanks for the quick fix!")
        tried = silent_server.connections()
        second = send("And for the follow-up call.")
    assert first[1] and second[1]
    assert tried >= 1 and silent_server.connections() == tried
