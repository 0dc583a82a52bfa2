"""cxhub.fastinsert: the survey POST's one-row INSERTs store what the ORM would, and on
PostgreSQL inside a transaction they travel with the transaction's next message."""

import datetime as dt
import zoneinfo

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cxhub import fastinsert
from surveys.models import Response
from tests.factories import TouchpointFactory

postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="queued INSERTs are the PostgreSQL backend's"
)


def _response(touchpoint, **fields):
    now = timezone.now()
    values = {
        "touchpoint": touchpoint,
        "score": 9,
        "category": "promoter",
        "comment": "",
        "channel": "web",
        "properties": {"source": "kiosk"},
        "created_at": now,
        "updated_at": now,
        **fields,
    }
    return Response(**values)


def _committed_count(**filters) -> int:
    """What another session (another worker) reads: committed rows only."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            where = " AND ".join(f"{column} = %s" for column in filters) or "TRUE"
            cursor.execute(
                f"SELECT count(*) FROM surveys_response WHERE {where}",  # noqa: S608 - test columns
                list(filters.values()),
            )
            return cursor.fetchone()[0]
    finally:
        other.close()


@pytest.mark.django_db
def test_the_row_is_the_one_the_orm_would_store():
    touchpoint = TouchpointFactory()
    template = _response(touchpoint, comment="Fast <b>& kind</b>")
    fast = fastinsert.insert(template)
    orm = _response(touchpoint, comment="Fast <b>& kind</b>", created_at=fast.created_at)
    orm.updated_at = fast.updated_at
    orm.save(force_insert=True)
    assert fast.pk is not None and not fast._state.adding and fast._state.db == "default"
    stored = Response.objects.values()
    by_pk = {row.pop("id"): row for row in stored}
    assert by_pk[fast.pk] == by_pk[orm.pk]
    assert by_pk[fast.pk]["properties"] == {"source": "kiosk"}
    assert by_pk[fast.pk]["source_key"] == ""  # the field's default, as save() fills it


@pytest.mark.django_db
def test_a_queued_row_stores_json_and_text_as_the_orm_does():
    """Inside a transaction (queued on PostgreSQL): properties go as JSON text, bound
    by the driver with the rest."""
    touchpoint = TouchpointFactory()
    props = {"note": AWKWARD, "quote": "it's \\ 100%", "list": [1, "é", None], "n": {"ok": True}}
    with transaction.atomic():
        fast = fastinsert.insert(_response(touchpoint, comment=AWKWARD, properties=props))
        orm = _response(touchpoint, comment=AWKWARD, properties=props, created_at=fast.created_at)
        orm.updated_at = fast.updated_at
        orm.save(force_insert=True)
    by_pk = {row.pop("id"): row for row in Response.objects.values()}
    assert by_pk[fast.pk] == by_pk[orm.pk]
    assert by_pk[fast.pk]["properties"] == props and by_pk[fast.pk]["comment"] == AWKWARD


@pytest.mark.django_db
def test_datetimes_and_empty_ones_are_stored_as_the_orm_stores_them():
    """Aware datetimes in any zone, and None, go unprepared on PostgreSQL; a naive one is
    prepared by the field as save() prepares it (made aware, with Django's warning)."""
    from feedback.models import FollowUpCase

    touchpoint = TouchpointFactory()
    brussels = zoneinfo.ZoneInfo("Europe/Brussels")
    values = {
        "touchpoint": touchpoint,
        "team_id": touchpoint.owner_team_id,
        "priority": 2,
        "created_at": dt.datetime(2026, 3, 29, 2, 30, tzinfo=dt.UTC),
        "due_at": dt.datetime(2026, 3, 31, 9, 15, 30, 123456, tzinfo=brussels),
        "closed_at": None,
    }
    rows = {}
    with transaction.atomic(), pytest.warns(RuntimeWarning, match="naive datetime"):
        for way in ("fast", "orm"):
            response = fastinsert.insert(_response(touchpoint))
            case = FollowUpCase(
                response=response, first_contact_at=dt.datetime(2026, 3, 30, 8), **values
            )
            fastinsert.insert(case) if way == "fast" else case.save(force_insert=True)
            rows[way] = case.pk
    stored = {r.pop("id"): r for r in FollowUpCase.objects.values()}
    fast, orm = stored[rows["fast"]], stored[rows["orm"]]
    assert fast.pop("response_id") != orm.pop("response_id")
    assert fast == orm
    assert fast["due_at"] == values["due_at"] and fast["closed_at"] is None


@postgresql
@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_the_insert_waits_for_the_commit_and_travels_with_it():
    touchpoint = TouchpointFactory()
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        response = fastinsert.insert(_response(touchpoint))
        assert response.pk is not None
        # Queued: not sent yet, so no round trip of its own.
        assert connection.connection.queued[-1].startswith(b'INSERT INTO "surveys_response"')
        assert _committed_count(id=response.pk) == 0
    assert connection.connection.queued == []
    assert _committed_count(id=response.pk) == 1
    # The query log still shows it, between Django's BEGIN and COMMIT.
    sqls = [q["sql"] for q in queries.captured_queries]
    assert any(sql.startswith('INSERT INTO "surveys_response"') for sql in sqls)
    assert sqls[-1] == "COMMIT"


@postgresql
@pytest.mark.django_db(transaction=True)
def test_a_later_read_in_the_same_transaction_sees_the_queued_row():
    touchpoint = TouchpointFactory()
    with transaction.atomic():
        response = fastinsert.insert(_response(touchpoint, comment="100% happy"))
        # A statement with parameters after a queued value holding a percent sign.
        assert Response.objects.filter(pk=response.pk, comment="100% happy").exists()
    assert Response.objects.get(pk=response.pk).comment == "100% happy"


@postgresql
@pytest.mark.django_db(transaction=True)
def test_a_bad_queued_row_fails_the_commit_and_nothing_is_stored():
    touchpoint = TouchpointFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        fastinsert.insert(_response(touchpoint, comment="kept?"))
        fastinsert.insert(_response(touchpoint, score=11))  # the CHECK (0..10) refuses it
    assert _committed_count() == 0
    # The connection is clean again: the next transaction works.
    with transaction.atomic():
        ok = fastinsert.insert(_response(touchpoint))
    assert _committed_count(id=ok.pk) == 1


@postgresql
@pytest.mark.django_db(transaction=True)
def test_a_rollback_drops_queued_rows_and_a_savepoint_only_its_own():
    touchpoint = TouchpointFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        fastinsert.insert(_response(touchpoint))
        raise RuntimeError("undo")
    assert connection.connection.queued == []
    assert _committed_count() == 0

    with transaction.atomic():
        kept = fastinsert.insert(_response(touchpoint, comment="outer"))
        with pytest.raises(RuntimeError), transaction.atomic():
            fastinsert.insert(_response(touchpoint, comment="inner"))
            raise RuntimeError("undo the savepoint")
    assert list(Response.objects.values_list("pk", "comment")) == [(kept.pk, "outer")]


@postgresql
@pytest.mark.django_db(transaction=True)
def test_keys_come_from_a_block_the_connection_reserved():
    touchpoint = TouchpointFactory()
    with transaction.atomic():
        first = fastinsert.insert(_response(touchpoint))
        second = fastinsert.insert(_response(touchpoint))
    assert second.pk == first.pk + 1
    # A row written another way gets a key outside this connection's block.
    other = _response(touchpoint)
    other.save()
    assert other.pk not in {
        first.pk,
        second.pk,
        *connection.connection.id_blocks["surveys_response"],
    }


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_row_is_written_at_once():
    touchpoint = TouchpointFactory()
    response = fastinsert.insert(_response(touchpoint))
    assert _committed_count(id=response.pk) == 1


# --- insert_many: COPY on PostgreSQL ---------------------------------------------------

AWKWARD = "Tab\there, line\nbreak, back\\slash, \\N, 'quotes' \"too\", émoji 🎉, =cmd"


@pytest.mark.django_db
def test_insert_many_stores_what_bulk_create_stores():
    touchpoint = TouchpointFactory()
    props = {"plan": "pro", "note": AWKWARD, "nested": {"n": 1, "ok": True, "none": None}}
    fast = fastinsert.insert_many(
        [
            _response(touchpoint, comment=AWKWARD, properties=props),
            _response(touchpoint, score=3, category="detractor"),
        ]
    )
    orm = Response.objects.bulk_create(
        [
            _response(touchpoint, comment=AWKWARD, properties=props, created_at=fast[0].created_at),
            _response(touchpoint, score=3, category="detractor", created_at=fast[1].created_at),
        ]
    )
    for row, twin in zip(orm, fast, strict=True):  # the same times: compare rows whole
        Response.objects.filter(pk=row.pk).update(updated_at=twin.updated_at)
    assert all(r.pk is not None and not r._state.adding for r in fast)
    by_pk = {row.pop("id"): row for row in Response.objects.values()}
    assert by_pk[fast[0].pk] == by_pk[orm[0].pk]
    assert by_pk[fast[1].pk] == by_pk[orm[1].pk]
    assert by_pk[fast[0].pk]["comment"] == AWKWARD
    assert by_pk[fast[0].pk]["properties"] == props


@postgresql
@pytest.mark.django_db
def test_insert_many_keys_follow_the_order_given():
    touchpoint = TouchpointFactory()
    rows = fastinsert.insert_many([_response(touchpoint, score=9 + i % 2) for i in range(6)])
    keys = [r.pk for r in rows]
    assert keys == sorted(keys) and len(set(keys)) == 6
    assert (
        list(Response.objects.filter(pk__in=keys).order_by("pk").values_list("pk", flat=True))
        == keys
    )


@postgresql
@pytest.mark.django_db(transaction=True)
def test_insert_many_is_part_of_its_transaction():
    touchpoint = TouchpointFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        fastinsert.insert_many([_response(touchpoint) for _ in range(3)])
        assert Response.objects.count() == 3  # visible inside
        raise RuntimeError("undo")
    assert _committed_count() == 0


@postgresql
@pytest.mark.django_db
def test_a_value_copy_cannot_carry_falls_back_to_bulk_create(monkeypatch):
    touchpoint = TouchpointFactory()

    def no_copy(value):
        raise TypeError("no COPY text")

    monkeypatch.setattr(fastinsert, "_copy_value", no_copy)
    rows = fastinsert.insert_many([_response(touchpoint, comment="via the ORM")])
    assert Response.objects.get(pk=rows[0].pk).comment == "via the ORM"


def test_copy_text_escapes_what_copy_would_misread():
    assert fastinsert.copy_text("a\tb\nc\rd\\e") == "a\\tb\\nc\\rd\\\\e"
    assert fastinsert.copy_text("plain") == "plain"


@postgresql
@pytest.mark.django_db
def test_insert_many_copies_choices_members_too():
    from surveys.models import Invitation

    touchpoint = TouchpointFactory()
    with CaptureQueriesContext(connection) as queries:
        rows = fastinsert.insert_many([_response(touchpoint, channel=Invitation.Channel.SMS)])
    assert any(q["sql"].startswith('COPY "surveys_response"') for q in queries.captured_queries)
    assert not any(q["sql"].startswith("INSERT") for q in queries.captured_queries)
    assert Response.objects.get(pk=rows[0].pk).channel == "sms"


@postgresql
@pytest.mark.django_db(transaction=True)
def test_a_queued_row_whose_error_a_savepoint_swallowed_fails_the_commit():
    """The queued INSERT's error surfaces with the next statement; if a block catches it
    (a savepoint's `except`), the commit must fail loudly, not roll back in silence."""
    from django.db import InternalError

    touchpoint = TouchpointFactory()
    # An offset PostgreSQL refuses (it takes up to ±15:59; Python up to ±23:59).
    far = dt.datetime(2026, 6, 1, 10, tzinfo=dt.timezone(-dt.timedelta(hours=16)))
    with pytest.raises(InternalError, match="nothing was committed"), transaction.atomic():
        fastinsert.insert(_response(touchpoint, created_at=far, updated_at=far))
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT 1")  # carries the queued INSERT, which fails
        except Exception as error:  # what a best-effort block (a cache lookup) does
            caught = error
    assert "time zone displacement out of range" in str(caught)
    assert Response.objects.count() == 0
    assert fastinsert.insert(_response(touchpoint)).pk  # the connection works again
    assert Response.objects.count() == 1
