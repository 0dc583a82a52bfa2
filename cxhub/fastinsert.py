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
"""

from __future__ import annotations

import functools

from django.db import connections, router


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


def insert(instance):
    """INSERT `instance` (a new, unsaved model instance with an auto primary key) as one
    row, set its primary key and return it, as `instance.save(force_insert=True)`
    would."""
    model = type(instance)
    alias = router.db_for_write(model, instance=instance)
    connection = connections[alias]
    sql, fields, returning = _statement(model, alias)
    params = [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        pk = cursor.fetchone()[0] if returning else cursor.lastrowid
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = alias
    return instance
