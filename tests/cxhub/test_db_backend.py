"""The PostgreSQL backend's health check (cxhub/db/postgresql): skipped on a connection
that ran a query a moment ago, done as Django does on one idle for longer, and a
connection the server dropped is replaced."""

import time

import pytest
from django.db import connection

from cxhub.db.postgresql import base

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the backend is PostgreSQL's (CI runs it)"
)


@pytest.fixture
def checks(monkeypatch):
    calls = []
    real = connection.is_usable

    def counting():
        calls.append(True)
        return real()

    monkeypatch.setattr(connection, "is_usable", counting)
    return calls


def _new_request():
    connection.health_check_done = False  # what close_if_unusable_or_obsolete does


def test_the_settings_use_the_backend(db):
    from django.db import connections

    assert isinstance(connections["default"], base.DatabaseWrapper)
    assert connection.health_check_enabled


def test_a_connection_used_a_moment_ago_is_not_checked_again(db, checks):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    _new_request()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 2")
    assert checks == []


def test_a_connection_idle_for_longer_is_checked_before_its_first_query(db, checks):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    connection._last_used = time.monotonic() - base.HEALTH_CHECK_AFTER - 0.1
    _new_request()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 2")
        assert cursor.fetchone() == (2,)
    assert checks == [True]


@pytest.mark.django_db(transaction=True)
def test_an_idle_connection_the_server_dropped_is_replaced(django_db_blocker):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        old_pid = cursor.fetchone()[0]
    from django.db import connections

    # Another session ends this one, as a server restart or an idle timeout would.
    other = connections.create_connection("default")
    with other.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [old_pid])
    other.close()
    connection._last_used = time.monotonic() - base.HEALTH_CHECK_AFTER - 0.1
    connection.close_if_unusable_or_obsolete()  # request_started
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != old_pid
