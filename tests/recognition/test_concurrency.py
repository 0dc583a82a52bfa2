"""Two requests at the same moment, on real transactions (PostgreSQL in make test)."""

import threading

import pytest
from django.db import connection, connections

from recognition import services
from recognition.models import Postcard, PostcardCount, Value

pytestmark = pytest.mark.django_db(transaction=True)


def _at_once(*calls):
    """Run the calls in threads released together; return their results or errors."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait()
            results[i] = call()
        except Exception as exc:  # reported to the test
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


@pytest.fixture
def value(db):
    return Value.objects.create(name="One team")


def test_a_double_submit_racing_itself_creates_one_postcard(employee, manager_a, value):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises every write: no race to lose")

    def send():
        return services.postcard_send(
            sender=employee, recipient=manager_a, value=value, message="Hi", idempotency_key="k"
        )

    results = _at_once(send, send)
    assert all(isinstance(r, tuple) for r in results), results
    assert sorted(created for _, created in results) == [False, True]
    assert results[0][0].pk == results[1][0].pk
    assert Postcard.objects.count() == 1
    assert set(PostcardCount.objects.values_list("received", flat=True)) == {1}


def test_a_double_submit_of_the_last_postcard_of_the_day_sends_it_once(
    employee, manager_a, value, settings
):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises every write: no race to lose")
    settings.POSTCARD_DAILY_CAP = 1

    def send():
        return services.postcard_send(
            sender=employee, recipient=manager_a, value=value, message="Hi", idempotency_key="k"
        )

    results = _at_once(send, send)
    # Both get the one postcard: the second is not refused for the cap the first used up.
    assert all(isinstance(r, tuple) for r in results), results
    assert sorted(created for _, created in results) == [False, True]
    assert Postcard.objects.count() == 1


def test_two_tabs_cannot_both_pass_the_daily_cap(employee, manager_a, value, settings):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises every write: no race to lose")
    settings.POSTCARD_DAILY_CAP = 1

    def send(key):
        return lambda: services.postcard_send(
            sender=employee, recipient=manager_a, value=value, message="Hi", idempotency_key=key
        )

    results = _at_once(send("tab-1"), send("tab-2"))
    assert sum(isinstance(r, services.RecognitionError) for r in results) == 1, results
    assert Postcard.objects.count() == 1


def test_postcards_to_one_person_at_once_all_count(employee, manager_a, lead_a, manager_b, value):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises every write: no race to lose")

    def send(sender):
        return lambda: services.postcard_send(
            sender=sender, recipient=manager_a, value=value, message="Hi", idempotency_key="k"
        )

    results = _at_once(send(employee), send(lead_a), send(manager_b))
    assert all(isinstance(r, tuple) for r in results), results
    assert set(PostcardCount.objects.values_list("received", flat=True)) == {3}
