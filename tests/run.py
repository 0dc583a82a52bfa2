"""`make test`: pick the services, say which in the first line, run pytest.

PostgreSQL and Redis are used when reachable (DATABASE_URL / REDIS_URL, or the
defaults on localhost). With CI set they are required: the run fails, it never
falls back. Elsewhere it falls back to SQLite and eager tasks and says so.
"""

import os
import sys
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/cxhub"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def reachable(url: str, default_port: int) -> str:
    """'' when a TCP connection and a protocol round trip work, else the reason."""
    parsed = urlparse(url)
    try:
        if parsed.scheme.startswith("postgres"):
            import psycopg2

            psycopg2.connect(
                host=parsed.hostname or "127.0.0.1",
                port=parsed.port or default_port,
                user=parsed.username or "postgres",
                password=parsed.password or None,
                dbname="postgres",
                connect_timeout=3,
            ).close()
        else:
            import redis

            redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3).ping()
    except Exception as exc:
        return (
            f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        )
    return ""


def where(url: str, default_port: int) -> str:
    """scheme://host:port/path of a service URL, without its user and password (what
    this prints ends up in CI logs)."""
    parts = urlparse(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or default_port}{parts.path}"


def main() -> int:
    ci = bool(os.environ.get("CI"))
    db_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    db_problem = reachable(db_url, 5432) if db_url.startswith("postgres") else "not PostgreSQL"
    redis_problem = reachable(redis_url, 6379)
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "cxhub.settings",
            "DEBUG": "true",
            "FAST_PASSWORD_HASHER": "true",
            "CELERY_TASK_ALWAYS_EAGER": "true",
            "CACHE_URL": "locmemcache://",
            "EMAIL_URL": "consolemail://",
            "SITE_URL": "http://testserver",
            "DJANGO_ALLOW_ASYNC_UNSAFE": "true",
        }
    )
    if ci and (db_problem or redis_problem):
        print(
            "make test: CI is set and the services are required. "
            f"PostgreSQL ({where(db_url, 5432)}): {db_problem or 'ok'}; "
            f"Redis ({where(redis_url, 6379)}): {redis_problem or 'ok'}",
            flush=True,
        )
        return 2
    parts = []
    if db_problem:
        env["DATABASE_URL"] = "sqlite:///" + str(ROOT / "db-test.sqlite3")
        parts.append(f"SQLite (PostgreSQL not reachable at {where(db_url, 5432)}: {db_problem})")
    else:
        env["DATABASE_URL"] = db_url
        parts.append(f"PostgreSQL at {urlparse(db_url).hostname}:{urlparse(db_url).port or 5432}")
    if redis_problem:
        env.pop("REDIS_URL", None)
        parts.append(
            f"eager tasks, no broker (Redis not reachable at {where(redis_url, 6379)}: {redis_problem})"
        )
    else:
        env["REDIS_URL"] = redis_url
        parts.append(f"Redis at {where(redis_url, 6379)}")
    print("make test: running on " + "; ".join(parts), flush=True)
    args = [sys.executable, "-m", "pytest", *sys.argv[1:]]
    os.chdir(ROOT)
    os.execve(sys.executable, args, env)  # noqa: S606 - replaces this process with pytest
    return 0


if __name__ == "__main__":
    sys.exit(main())
