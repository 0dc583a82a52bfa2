"""gunicorn settings for production (Dockerfile, docker-compose.yml) and the benchmarks.

    gunicorn cxhub.wsgi --config python:cxhub.gunicorn --access-logfile -

Sync workers, each holding one persistent PostgreSQL connection (CONN_MAX_AGE). A survey
answer spends most of its time waiting for PostgreSQL to flush its commit to disk, not on
the CPU, so there are more workers than cores: while one waits, another runs, and
PostgreSQL flushes the commits that arrive together in one write (group commit).
bench/ingest on 2 cores, survey POST against a bare view in the same run: 3 workers 0.23x,
5 workers 0.30x, 8 workers 0.37x (bench/README.md).

WEB_CONCURRENCY (gunicorn's own variable) sets the number of workers; the default is four
per core, at most MAX_DEFAULT_WORKERS, so that a big machine does not use up PostgreSQL's
connections (max_connections is 100 by default, and Celery's workers need theirs). The
cores are those the process may use (a container's cpuset); a CPU quota (docker
--cpus) is not seen: set WEB_CONCURRENCY there.
"""

import os

MAX_DEFAULT_WORKERS = 16


def cores() -> int:
    """The cores this process may run on (a container's cpuset, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_workers() -> int:
    return min(4 * cores(), MAX_DEFAULT_WORKERS)


bind = "0.0.0.0:8000"
workers = int(os.environ.get("WEB_CONCURRENCY") or default_workers())
worker_class = "sync"
