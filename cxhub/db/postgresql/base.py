"""Django's PostgreSQL backend with two round trips less on a busy request.

1. A cheaper connection health check. With persistent connections (CONN_MAX_AGE) and
   CONN_HEALTH_CHECKS, Django runs `SELECT 1` before the first query of every request
   that reuses a connection, so that a connection the server dropped since the previous
   request is replaced instead of failing the request. On the survey POST that round
   trip was a sixth of a gunicorn worker's time (py-spy, bench/ingest).

   This backend skips the check when the connection ran a query less than
   HEALTH_CHECK_AFTER seconds ago: a busy worker's connection was alive a moment ago,
   and a connection idle for longer is checked as before. A connection that did break
   in that moment fails its query; Django then closes it at the end of the request (its
   `errors_occurred` check), so the next request gets a fresh one.

2. BEGIN travels with the transaction's first statement. psycopg2 opens a transaction
   by sending `BEGIN` on its own and waiting for the answer before the first statement:
   a survey POST (BEGIN, INSERT, COMMIT) made three round trips for one row, and each
   costs both processes a wake-up (pgbench here, 3 clients: BEGIN/INSERT/COMMIT 2,350
   transactions/s, a lone INSERT 3,830/s). Here the driver stays in autocommit and the
   backend sends `BEGIN;` in front of the transaction's first statement, in the same
   message (PostgreSQL runs both; the answer is the statement's), then `COMMIT` or
   `ROLLBACK` itself. A transaction that ran no statement sends nothing at all.
   Statements that cannot carry the prefix (executemany, COPY, server-side cursors,
   composed SQL) get their BEGIN sent just before them. Only with the default isolation
   level: with an `isolation_level` in OPTIONS the driver opens transactions as usual.

   Writes whose answer nobody waits for can be queued (`Connection.queue`, used by
   cxhub.fastinsert): they travel with the next statement or the COMMIT.
"""

import datetime as dt
import functools
import time

import psycopg2.errors
import psycopg2.extensions
from django.db.backends.postgresql import base, operations
from django.db.backends.utils import debug_transaction

HEALTH_CHECK_AFTER = 1.0
_IN_ERROR = psycopg2.extensions.TRANSACTION_STATUS_INERROR


class Connection(psycopg2.extensions.connection):
    """A psycopg2 connection left in autocommit, whose transactions the backend opens.

    `begin_pending`: Django started a transaction and nothing was sent yet.
    `queued`: statements (already bound, as bytes) waiting to travel with the next
    statement or the COMMIT; see `queue()`.
    Whether the server holds a transaction open is libpq's own record
    (`info.transaction_status`, no round trip).
    """

    begin_pending = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.queued: list[bytes] = []
        self.id_blocks: dict[str, list[int]] = {}  # cxhub.fastinsert's reserved keys
        self._binder = None  # the cursor bind() uses
        self._plain = None  # see _plain_strings()

    @property
    def in_transaction(self) -> bool:
        return self.info.transaction_status in (
            psycopg2.extensions.TRANSACTION_STATUS_INTRANS,
            psycopg2.extensions.TRANSACTION_STATUS_INERROR,
        )

    def _queue_begin(self) -> None:
        if self.begin_pending:
            self.begin_pending = False
            self.queued.append(b"BEGIN")

    def queue(self, statement: bytes) -> None:
        """Send `statement` (bound SQL) with the transaction's next message instead of
        on its own: for a write whose answer is not needed (an INSERT with a known
        primary key). Its errors surface with that next statement or the COMMIT."""
        self._queue_begin()
        self.queued.append(statement)

    def bind(self, sql: str, params) -> bytes:
        """`sql` with `params` bound as `cursor.mogrify` binds them.

        The values of a queued INSERT (int, str, None, bool, aware datetime) are written
        here as the literals psycopg2 writes for them, in a third of mogrify's time (4
        vs 11 us for a response row); anything else, or a connection whose strings are
        not standard-conforming UTF-8, goes to mogrify on a cursor kept for it.
        """
        parts = _placeholders(sql)
        if parts is not None and self._plain_strings():
            pieces = [parts[0]]
            for value, part in zip(params, parts[1:], strict=True):
                literal = _literal(value)
                if literal is None:
                    break
                pieces.append(literal)
                pieces.append(part)
            else:
                return "".join(pieces).encode()
        if self._binder is None:
            self._binder = psycopg2.extensions.cursor(self)
        return self._binder.mogrify(sql, params)

    def _plain_strings(self) -> bool:
        """Whether a string literal is its text in quotes with quotes doubled: with
        standard_conforming_strings (PostgreSQL's default) a backslash is an ordinary
        character, and in UTF-8 no multi-byte character contains a quote byte."""
        if self._plain is None:
            self._plain = (
                self.encoding == "UTF8"
                and self.get_parameter_status("standard_conforming_strings") == "on"
            )
        return self._plain

    def take_prefix(self) -> bytes:
        """What must precede the next statement: a pending BEGIN and queued writes."""
        self._queue_begin()
        prefix = b";".join(self.queued) + b";" if self.queued else b""
        self.queued = []
        return prefix

    def send_prefix(self) -> None:
        """Send what is pending on its own (before statements that cannot carry it)."""
        prefix = self.take_prefix()
        if prefix:
            with psycopg2.extensions.cursor(self) as cursor:
                cursor.execute(prefix)

    def end(self, sql: str, *, still_pending: bool) -> None:
        """COMMIT (with the queued writes, in one message) or ROLLBACK (dropping them).

        A COMMIT of a transaction that an earlier error aborted raises instead of doing
        what PostgreSQL does, a silent rollback: with writes queued, that error can have
        surfaced inside a block that caught it (a savepoint's `except`), and the caller
        must not be told its rows were stored.
        """
        if sql == "COMMIT" and self.info.transaction_status == _IN_ERROR:
            self.queued = []
            self.begin_pending = False
            with psycopg2.extensions.cursor(self) as cursor:
                cursor.execute("ROLLBACK")
            self.begin_pending = still_pending
            raise psycopg2.errors.InFailedSqlTransaction(
                "the transaction was aborted by an earlier error and has been rolled back:"
                " nothing was committed"
            )
        if sql == "COMMIT":
            message = self.take_prefix() if self.queued else b""
            send = bool(message) or self.in_transaction
            message += b"COMMIT"
        else:
            self.queued = []
            send = self.in_transaction
            message = b"ROLLBACK"
        self.begin_pending = False
        try:
            if send:
                with psycopg2.extensions.cursor(self) as cursor:
                    cursor.execute(message)
        finally:
            self.begin_pending = still_pending


@functools.lru_cache(maxsize=64)
def _placeholders(sql: str) -> list[str] | None:
    """The text around each `%s` of `sql`, or None when it holds any other `%`."""
    parts = sql.split("%s")
    return None if any("%" in part for part in parts) else parts


def _literal(value) -> str | None:
    """`value` as the SQL literal psycopg2 writes for it, or None (left to psycopg2)."""
    kind = type(value)
    if value is None:
        return "NULL"
    if isinstance(value, str):  # also a TextChoices member: its plain text
        if "\x00" in value:  # psycopg2 refuses it with its own error
            return None
        return "'" + str.__str__(value).replace("'", "''") + "'"
    if kind is int:
        return str(value) if value >= 0 else f" {value}"  # no "--" after a "-"
    if kind is bool:
        return "true" if value else "false"
    if kind is dt.datetime and value.tzinfo is not None:
        return f"'{value.isoformat()}'::timestamptz"
    return None


class Cursor(psycopg2.extensions.cursor):
    prefix_length = 0  # of the last query: the BEGIN and queued writes it carried

    def execute(self, query, vars=None):
        connection = self.connection
        self.prefix_length = 0
        if connection.begin_pending or connection.queued:
            if self.name is None and isinstance(query, str):
                prefix = connection.take_prefix()
                self.prefix_length = len(prefix.decode())
                if vars is not None:
                    prefix = prefix.replace(b"%", b"%%")  # bound already: no placeholders
                query = prefix + query.encode()
            else:
                connection.send_prefix()
        return super().execute(query, vars)

    def executemany(self, query, vars_list):
        self.connection.send_prefix()
        return super().executemany(query, vars_list)

    def callproc(self, *args, **kwargs):
        self.connection.send_prefix()
        return super().callproc(*args, **kwargs)

    def copy_expert(self, *args, **kwargs):
        self.connection.send_prefix()
        return super().copy_expert(*args, **kwargs)

    def copy_from(self, *args, **kwargs):
        self.connection.send_prefix()
        return super().copy_from(*args, **kwargs)

    def copy_to(self, *args, **kwargs):
        self.connection.send_prefix()
        return super().copy_to(*args, **kwargs)


class DatabaseOperations(operations.DatabaseOperations):
    def last_executed_query(self, cursor, sql, params):
        # Query logs and assertNumQueries show the statement, not the BEGIN it carried.
        query = super().last_executed_query(cursor, sql, params)
        prefix = getattr(cursor, "prefix_length", 0)
        return query[prefix:] if query and prefix else query


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
    _last_used = 0.0

    @property
    def begins_lazily(self) -> bool:
        return "isolation_level" not in self.settings_dict["OPTIONS"]

    def get_connection_params(self):
        params = super().get_connection_params()
        if self.begins_lazily:
            params["connection_factory"] = Connection
            params["cursor_factory"] = Cursor
        return params

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        if isinstance(connection, Connection):
            connection.autocommit = True  # for good: the backend sends BEGIN itself
        return connection

    def _cursor(self, name=None):
        cursor = super()._cursor(name)
        self._last_used = time.monotonic()
        return cursor

    def close_if_health_check_failed(self):
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and time.monotonic() - self._last_used < HEALTH_CHECK_AFTER
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    # --- transactions opened by the first statement's BEGIN ---------------------------

    def _lazy(self) -> bool:
        return isinstance(self.connection, Connection)

    def _set_autocommit(self, autocommit):
        if not self._lazy():
            return super()._set_autocommit(autocommit)
        if autocommit and self.connection.in_transaction:
            # As psycopg2 itself refuses it: leaving a transaction needs COMMIT/ROLLBACK.
            raise psycopg2.ProgrammingError("set_session cannot be used inside a transaction")
        self.connection.begin_pending = not autocommit

    def _commit(self):
        if self.connection is not None and self._lazy():
            with debug_transaction(self, "COMMIT"), self.wrap_database_errors:
                return self.connection.end("COMMIT", still_pending=not self.autocommit)
        return super()._commit()

    def _rollback(self):
        if self.connection is not None and self._lazy():
            with debug_transaction(self, "ROLLBACK"), self.wrap_database_errors:
                return self.connection.end("ROLLBACK", still_pending=not self.autocommit)
        return super()._rollback()
