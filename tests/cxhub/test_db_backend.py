"""The PostgreSQL backend (cxhub/db/postgresql).

Its health check is skipped on a connection that ran a query a moment ago, done as
Django does on one idle for longer, and a connection the server dropped is replaced.

Its transactions open with a BEGIN sent in front of their first statement: still real
transactions (isolated, rolled back, savepoints, locks), with every kind of statement.
"""

import datetime as dt
import io
import re
import time
import zoneinfo

import psycopg2
import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxhub.db.postgresql import base
from cxhub.models import Team
from surveys.models import Invitation

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


# --- BEGIN sent with the transaction's first statement ---------------------------------


def _other_session_sees(slug: str) -> bool:
    """What a separate session (another worker) reads, committed data only."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM cxhub_team WHERE slug = %s", [slug])
            return cursor.fetchone()[0] == 1
    finally:
        other.close()


@pytest.mark.django_db(transaction=True)
def test_a_transaction_sends_its_begin_with_its_first_statement():
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        # One message for both: the driver sent no BEGIN of its own before it.
        assert cursor.cursor.query == b"BEGIN;SELECT 1"
        status = connection.connection.info.transaction_status
        assert status == psycopg2.extensions.TRANSACTION_STATUS_INTRANS
        cursor.execute("SELECT 2")
        assert cursor.cursor.query == b"SELECT 2"
    assert connection.connection.info.transaction_status == (
        psycopg2.extensions.TRANSACTION_STATUS_IDLE
    )
    with connection.cursor() as cursor:  # autocommit again: no BEGIN
        cursor.execute("SELECT 3")
        assert cursor.cursor.query == b"SELECT 3"


@pytest.mark.django_db(transaction=True)
def test_query_logs_show_the_statement_not_the_begin_it_carried():
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        Team.objects.create(name="Logged", slug="logged")
    sqls = [q["sql"] for q in queries.captured_queries]
    assert sqls[0] == "BEGIN"
    assert sqls[1].startswith('INSERT INTO "cxhub_team"')
    assert sqls[-1] == "COMMIT"


@pytest.mark.django_db(transaction=True)
def test_uncommitted_writes_stay_invisible_to_others_and_a_rollback_undoes_them():
    with pytest.raises(RuntimeError), transaction.atomic():
        Team.objects.create(name="Pending", slug="pending")
        assert not _other_session_sees("pending")
        raise RuntimeError("undo")
    assert not Team.objects.filter(slug="pending").exists()
    with transaction.atomic():
        Team.objects.create(name="Kept", slug="kept")
    assert _other_session_sees("kept")


@pytest.mark.django_db(transaction=True)
def test_a_savepoint_rolls_back_alone():
    with transaction.atomic():
        Team.objects.create(name="Outer", slug="outer")
        with pytest.raises(IntegrityError), transaction.atomic():
            Team.objects.create(name="Outer", slug="outer-again")  # unique name
    assert list(Team.objects.values_list("slug", flat=True)) == ["outer"]


@pytest.mark.django_db(transaction=True)
def test_a_failing_first_statement_leaves_the_connection_usable():
    Team.objects.create(name="Taken", slug="taken")
    with pytest.raises(IntegrityError), transaction.atomic():
        Team.objects.create(name="Taken", slug="taken-2")
    assert connection.connection.info.transaction_status == (
        psycopg2.extensions.TRANSACTION_STATUS_IDLE
    )
    with transaction.atomic():
        Team.objects.create(name="Next", slug="next")
    assert _other_session_sees("next")


@pytest.mark.django_db(transaction=True)
def test_statements_that_cannot_carry_the_begin_are_inside_the_transaction_too():
    with pytest.raises(RuntimeError), transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO cxhub_team (name, slug) VALUES (%s, %s)",
            [("Many 1", "many-1"), ("Many 2", "many-2")],
        )
        # A server-side cursor (QuerySet.iterator) as the first statement elsewhere.
        assert [t.slug for t in Team.objects.order_by("slug").iterator(chunk_size=1)] == [
            "many-1",
            "many-2",
        ]
        raise RuntimeError("undo")
    assert not Team.objects.exists()

    with pytest.raises(RuntimeError), transaction.atomic(), connection.cursor() as cursor:
        cursor.copy_expert(
            "COPY cxhub_team (name, slug) FROM STDIN WITH (FORMAT csv)",
            io.StringIO("Copied,copied\n"),
        )
        assert Team.objects.filter(slug="copied").exists()
        raise RuntimeError("undo")
    assert not Team.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_transaction_that_ran_nothing_sends_nothing():
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        pass
    # Django logs its BEGIN and COMMIT; the server received neither.
    assert [q["sql"] for q in queries.captured_queries] == ["BEGIN", "COMMIT"]
    assert connection.connection.begin_pending is False
    assert connection.connection.in_transaction is False


@pytest.mark.django_db(transaction=True)
def test_select_for_update_holds_its_lock_until_commit():
    team = Team.objects.create(name="Locked", slug="locked")
    other = connections.create_connection("default")
    try:
        with transaction.atomic():
            Team.objects.select_for_update().get(pk=team.pk)
            with pytest.raises(Exception, match="could not obtain lock"), other.cursor() as c:
                c.execute("SELECT id FROM cxhub_team WHERE id = %s FOR UPDATE NOWAIT", [team.pk])
        with other.cursor() as c:
            c.execute("SELECT id FROM cxhub_team WHERE id = %s FOR UPDATE NOWAIT", [team.pk])
            assert c.fetchone() == (team.pk,)
    finally:
        other.close()


@pytest.mark.django_db(transaction=True)
def test_manual_transactions_begin_again_after_each_commit():
    transaction.set_autocommit(False)
    try:
        Team.objects.create(name="First", slug="first")
        transaction.commit()
        assert _other_session_sees("first")
        Team.objects.create(name="Second", slug="second")
        assert not _other_session_sees("second")
        transaction.rollback()
    finally:
        transaction.set_autocommit(True)
    assert list(Team.objects.values_list("slug", flat=True)) == ["first"]


# --- bind(): the literals of a queued INSERT -------------------------------------------

_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.text(),  # quotes, backslashes, any Unicode; NUL too (both refuse it)
    st.datetimes(
        min_value=dt.datetime(1, 1, 2),
        max_value=dt.datetime(9999, 12, 30),
        timezones=st.sampled_from([dt.UTC, zoneinfo.ZoneInfo("Europe/Brussels")]),
    ),
    st.datetimes(),  # naive: left to psycopg2
    st.floats(allow_nan=True),  # left to psycopg2
    st.sampled_from(list(Invitation.Channel)),  # a TextChoices member: its text
)


def _mogrified(sql, params):
    with connection.cursor() as cursor:
        return cursor.cursor.mogrify(sql, params)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.lists(_values, min_size=1, max_size=6))
def test_bind_writes_the_literals_psycopg2_writes(db, params):
    sql = "SELECT " + ", ".join(["%s"] * len(params))
    connection.ensure_connection()
    try:
        expected = _mogrified(sql, params)
    except ValueError as error:  # a NUL in a string
        with pytest.raises(ValueError, match=re.escape(str(error))):
            connection.connection.bind(sql, params)
    else:
        assert connection.connection.bind(sql, params) == expected


@pytest.mark.django_db
def test_bound_text_reads_back_as_it_was():
    text = "it's \\ 'quoted' \\' -- é 😀 %s %(x)s"
    connection.ensure_connection()
    statement = connection.connection.bind("SELECT %s, %s, %s", [text, -1, None])
    with connection.cursor() as cursor:
        cursor.execute(statement.decode())
        assert cursor.fetchone() == (text, -1, None)


@pytest.mark.django_db
def test_sql_with_other_percent_signs_is_bound_by_psycopg2():
    connection.ensure_connection()
    sql = "SELECT %s, '100%%'"
    assert connection.connection.bind(sql, ["a"]) == _mogrified(sql, ["a"]) == b"SELECT 'a', '100%'"


@pytest.mark.django_db
def test_plain_values_are_bound_without_the_driver_and_others_with_it():
    connection.ensure_connection()
    raw = connection.connection
    raw._binder = None
    raw.bind("SELECT %s, %s, %s, %s", [1, "a", None, dt.datetime.now(dt.UTC)])
    assert raw._binder is None  # written here, no mogrify
    raw.bind("SELECT %s", [1.5])
    assert raw._binder is not None


def test_without_standard_conforming_strings_the_driver_binds_strings():
    settings_dict = connection.settings_dict
    raw = psycopg2.connect(
        dbname=settings_dict["NAME"] or "postgres",
        user=settings_dict["USER"],
        host=settings_dict["HOST"],
        port=settings_dict["PORT"] or 5432,
        connection_factory=base.Connection,
        options="-c standard_conforming_strings=off",
    )
    try:
        statement = raw.bind("SELECT %s", ["a\\b"])
        assert statement == raw.cursor().mogrify("SELECT %s", ["a\\b"])
        assert statement == b"SELECT E'a\\\\b'"  # the backslash escaped, not as is
    finally:
        raw.close()
