"""One-row INSERTs for the survey POST's hot path, without the ORM's per-call compile.

`Model.objects.create()` builds its INSERT statement anew on every call; on the survey
POST that was three fifths of the view's CPU time (measured with cProfile on
process time). `insert(instance)` writes the same row with the statement built once
per model and database, and the values prepared by each field as `save()` prepares
them (`pre_save`, `get_db_prep_save`: defaults, JSON adaptation, time zones), so what
is stored is identical. It goes through the connection's cursor, so query logging and
`CaptureQueriesContext` see it.

Unlike `save()` it sends no pre_save/post_save signals: use it only for models nothing
listens to that way (CX Hub's cross-app announcements are explicit hooks, design §3).

On PostgreSQL (cxhub.db.postgresql), inside a transaction, the row does not even cost
a round trip of its own: its primary key is taken from a block this connection reserved
from the table's sequence (one `nextval` query per ID_BLOCK rows), and the bound INSERT
is queued to travel with the transaction's next statement or its COMMIT. The survey
POST of a detractor (BEGIN, response INSERT, case INSERT, COMMIT) is one message. An
error in the row (a constraint) then surfaces with that next statement or the COMMIT,
still inside the transaction, which rolls back as usual. Primary keys keep increasing
per connection, not across connections: order by time (CX Hub does), not by id.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import io
import json
import uuid

import psycopg2.extras
from django.db import connections, models, router

ID_BLOCK = 50

# Field classes whose get_db_prep_save() returns None, or a value of this exact type,
# unchanged (on every backend): such values skip the call.
_PASSED_THROUGH = {
    models.CharField: str,
    models.TextField: str,
    models.SlugField: str,
    models.IntegerField: int,
    models.SmallIntegerField: int,
    models.PositiveSmallIntegerField: int,
    models.PositiveIntegerField: int,
    models.BigIntegerField: int,
    models.BooleanField: bool,
}
_KEYS = (models.AutoField, models.BigAutoField)
# A JSONField without a custom encoder: a dict or list goes as its JSON text (what
# get_db_prep_save returns on every backend but PostgreSQL, whose jsonb columns take
# the text as well), without the driver's adapter object.
_JSON_TEXT = object()
# A DateTimeField: None goes as it is (every backend prepares it to None), and so does an
# aware datetime on PostgreSQL (its adapt_datetimefield_value returns it unchanged);
# other values and backends are prepared.
_AWARE_DATETIME = object()


def _passed_through(field) -> type | object | None:
    if type(field) is models.JSONField and field.encoder is None:
        return _JSON_TEXT
    if type(field) is models.DateTimeField:
        return _AWARE_DATETIME
    if type(field) in (models.ForeignKey, models.OneToOneField):
        return int if type(field.target_field) in _KEYS else None
    if type(field) in _KEYS:
        return int
    return _PASSED_THROUGH.get(type(field))


def _plan(fields: tuple) -> tuple:
    return tuple((field, _passed_through(field)) for field in fields)


def _params(plan: tuple, instance, connection) -> list:
    """Each field's value as save() sends it (pre_save, then get_db_prep_save)."""
    params = []
    postgresql = connection.vendor == "postgresql"
    for field, passed_through in plan:
        value = field.pre_save(instance, True)
        if passed_through is _AWARE_DATETIME:
            if value is not None and not (
                postgresql and type(value) is dt.datetime and value.tzinfo is not None
            ):
                value = field.get_db_prep_save(value, connection)
        elif passed_through is _JSON_TEXT:
            if type(value) is dict or type(value) is list:
                value = json.dumps(value)
            else:
                value = field.get_db_prep_save(value, connection)
        elif passed_through is None or (value is not None and type(value) is not passed_through):
            value = field.get_db_prep_save(value, connection)
        params.append(value)
    return params


def _insert_sql(connection, opts, fields) -> str:
    qn = connection.ops.quote_name
    # Identifiers from the model's metadata, quoted by the backend; values are parameters.
    return "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608
        qn(opts.db_table),
        ", ".join(qn(f.column) for f in fields),
        ", ".join(["%s"] * len(fields)),
    )


def _columns(opts) -> tuple:
    return tuple(f for f in opts.concrete_fields if not f.generated and f is not opts.pk)


@functools.cache
def _statement(model, alias: str) -> tuple[str, tuple, bool]:
    """The INSERT without the primary key, returning it where the backend can."""
    connection = connections[alias]
    opts = model._meta
    fields = _columns(opts)
    sql = _insert_sql(connection, opts, fields)
    returning = connection.features.can_return_columns_from_insert
    if returning:
        sql += f" RETURNING {connection.ops.quote_name(opts.pk.column)}"
    return sql, _plan(fields), returning


@functools.cache
def _queued_statement(model, alias: str) -> tuple[str, tuple]:
    """The INSERT with the primary key as its first value, nothing returned."""
    connection = connections[alias]
    opts = model._meta
    fields = (opts.pk, *_columns(opts))
    return _insert_sql(connection, opts, fields), _plan(fields)


def _new_ids(model, connection, n: int) -> list[int]:
    """`n` fresh primary keys from the table's sequence, in one query."""
    opts = model._meta
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [opts.db_table, opts.pk.column, n],
        )
        return [row[0] for row in cursor.fetchall()]


def _reserved_id(model, connection) -> int:
    """The next primary key from this connection's block of the table's sequence."""
    blocks = connection.connection.id_blocks
    ids = blocks.get(model._meta.db_table)
    if not ids:
        ids = blocks[model._meta.db_table] = _new_ids(model, connection, ID_BLOCK)[::-1]
    return ids.pop()


def _queueable(connection) -> bool:
    return connection.in_atomic_block and hasattr(connection.connection, "queue")


def _log(connection, sql: str) -> None:
    """Query logs (DEBUG, CaptureQueriesContext) list a write sent without a cursor
    execute of its own."""
    if connection.queries_logged:
        connection.queries_log.append({"sql": sql, "time": "0.000"})


def _mark_saved(instance, alias: str) -> None:
    instance._state.adding = False
    instance._state.db = alias


def insert(instance):
    """INSERT `instance` (a new, unsaved model instance with an auto primary key) as one
    row, set its primary key and return it, as `instance.save(force_insert=True)`
    would."""
    model = type(instance)
    alias = router.db_for_write(model, instance=instance)
    connection = connections[alias]
    connection.ensure_connection()
    if _queueable(connection):
        sql, plan = _queued_statement(model, alias)
        instance.pk = _reserved_id(model, connection)
        statement = connection.connection.bind(sql, _params(plan, instance, connection))
        connection.connection.queue(statement)
        _log(connection, statement.decode())
    else:
        sql, plan, returning = _statement(model, alias)
        params = _params(plan, instance, connection)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            pk = cursor.fetchone()[0] if returning else cursor.lastrowid
        instance.pk = pk
    _mark_saved(instance, alias)
    return instance


def copy_text(value: str) -> str:
    """A text value in PostgreSQL's COPY text format."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        value = (
            value.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return value


def _copy_value(value) -> str:
    """A prepared parameter (what get_db_prep_save returned) as COPY text."""
    if value is None:
        return "\\N"
    kind = type(value)
    if kind is str:
        return copy_text(value)
    if isinstance(value, str):  # a TextChoices member, say: its plain string
        return copy_text(str.__str__(value))
    if kind is bool:
        return "t" if value else "f"
    if kind is int or kind is float or kind is decimal.Decimal or kind is uuid.UUID:
        return str(value)
    if kind is dt.datetime or kind is dt.date:
        return value.isoformat()
    if isinstance(value, psycopg2.extras.Json):  # JSONField's adapter
        return copy_text(value.dumps(value.adapted))
    raise TypeError(f"no COPY text for {kind.__name__}")


def insert_many(instances: list) -> list:
    """INSERT new instances of one model, setting their primary keys, as
    `bulk_create(instances)` would.

    On PostgreSQL: their keys come from the sequence in one query and the rows go in
    with one COPY, half PostgreSQL's CPU of bulk_create's INSERT for 1,000 responses
    (14 vs 30 ms) and less of ours. Elsewhere, or for a value COPY text cannot
    represent: bulk_create.
    """
    if not instances:
        return instances
    model = type(instances[0])
    alias = router.db_for_write(model, instance=instances[0])
    connection = connections[alias]
    connection.ensure_connection()
    if connection.vendor != "postgresql":
        return model._default_manager.using(alias).bulk_create(instances)
    _, plan = _queued_statement(model, alias)
    ids = _new_ids(model, connection, len(instances))
    lines = []
    try:
        for instance, pk in zip(instances, ids, strict=True):
            instance.pk = pk
            values = _params(plan, instance, connection)
            lines.append("\t".join([_copy_value(v) for v in values]))
    except TypeError:
        for instance in instances:
            instance.pk = None
        return model._default_manager.using(alias).bulk_create(instances)
    opts = model._meta
    qn = connection.ops.quote_name
    copy = "COPY {} ({}) FROM STDIN".format(
        qn(opts.db_table), ", ".join(qn(field.column) for field, _ in plan)
    )
    with connection.cursor() as cursor:
        cursor.copy_expert(copy, io.StringIO("\n".join(lines) + "\n"))
    _log(connection, f"{copy} ({len(lines)} rows)")
    for instance in instances:
        _mark_saved(instance, alias)
    return instances
