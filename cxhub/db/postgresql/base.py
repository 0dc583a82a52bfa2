"""Django's PostgreSQL backend with a cheaper connection health check.

With persistent connections (CONN_MAX_AGE) and CONN_HEALTH_CHECKS, Django runs
`SELECT 1` before the first query of every request that reuses a connection, so that
a connection the server dropped since the previous request is replaced instead of
failing the request. On the survey POST that round trip was a sixth of a gunicorn
worker's time (py-spy, bench/ingest).

This backend skips the check when the connection ran a query less than
HEALTH_CHECK_AFTER seconds ago: a busy worker's connection was alive a moment ago,
and a connection idle for longer is checked as before. A connection that did break in
that moment fails its query; Django then closes it at the end of the request (its
`errors_occurred` check), so the next request gets a fresh one.
"""

import time

from django.db.backends.postgresql import base

HEALTH_CHECK_AFTER = 1.0


class DatabaseWrapper(base.DatabaseWrapper):
    _last_used = 0.0

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
