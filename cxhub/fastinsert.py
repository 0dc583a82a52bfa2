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

import functools

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


def _passed_through(field) -> type | None:
    if type(field) in (models.ForeignKey, models.OneToOneField):
        return int if type(field.target_field) in _KEYS else None
    if type(field) in _KEYS:
        return int
    return _PASSED_THROUGH.get(type(field))


@functools.cache
def _plan(fields: tuple) -> tuple:
    return tuple((field, _passed_through(field)) for field in fields)


def _params(fields: tuple, instance, connection) -> list:
    """Each field's value as save() sends it (pre_save, then get_db_prep_save)."""
    params = []
    for field, passed_through in _plan(fields):
        value = field.pre_save(instance, True)
        if passed_through is None or (value is not None and type(value) is not passed_through):
            value = field.get_db_prep_save(value, connection)
        params.append(value)
    return params


@functools.cache
def _statement(model, alias: str) -> tuple[str, tuple, bool]:
    connection = connections[alias]
    opts = model._meta
    fields = tuple(f for f in opts.concrete_fields if not f.generated and f is not opts.pk)
    qn = connection.ops.quote_name
    # Identifiers from the model's metadata, quoted by the backend; values are parameters.
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608
        qn(opts.db_table),
        ", ".join(qn(f.column) for f in fields),
        ", ".join(["%s"] * len(fields)),
    )
    returning = connection.features.can_return_columns_from_insert
    if returning:
        sql += f" RETURNING {qn(opts.pk.column)}"
    return sql, fields, returning


@functools.cache
def _queued_statement(model, alias: str) -> tuple[str, tuple]:
    """The INSERT with the primary key as its first value, nothing returned."""
    connection = connections[alias]
    opts = model._meta
    fields = (opts.pk, *(f for f in opts.concrete_fields if not f.generated and f is not opts.pk))
    qn = connection.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 - identifiers, as above
        qn(opts.db_table),
        ", ".join(qn(f.column) for f in fields),
        ", ".join(["%s"] * len(fields)),
    )
    return sql, fields


def _reserved_id(model, connection) -> int:
    """The next primary key from this connection's block of the table's sequence."""
    blocks = connection.connection.id_blocks
    opts = model._meta
    ids = blocks.get(opts.db_table)
    if not ids:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [opts.db_table, opts.pk.column, ID_BLOCK],
            )
            ids = blocks[opts.db_table] = [row[0] for row in reversed(cursor.fetchall())]
    return ids.pop()


def _queueable(connection) -> bool:
    return connection.in_atomic_block and hasattr(connection.connection, "queue")


def insert(instance):
    """INSERT `instance` (a new, unsaved model instance with an auto primary key) as one
    row, set its primary key and return it, as `instance.save(force_insert=True)`
    would."""
    model = type(instance)
    alias = router.db_for_write(model, instance=instance)
    connection = connections[alias]
    connection.ensure_connection()
    if _queueable(connection):
        sql, fields = _queued_statement(model, alias)
        instance.pk = _reserved_id(model, connection)
        params = _params(fields, instance, connection)
        with connection.cursor() as cursor:
            statement = cursor.mogrify(sql, params)
        connection.connection.queue(statement)
        if connection.queries_logged:
            connection.queries_log.append({"sql": statement.decode(), "time": "0.000"})
    else:
        sql, fields, returning = _statement(model, alias)
        params = _params(fields, instance, connection)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            pk = cursor.fetchone()[0] if returning else cursor.lastrowid
        instance.pk = pk
    instance._state.adding = False
    instance._state.db = alias
    return instance
