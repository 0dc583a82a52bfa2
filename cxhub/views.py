"""Pages that compose the apps: the home dashboard and the health check."""

import logging

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from cxhub.celery import app as celery_app
from surveys import selectors

logger = logging.getLogger(__name__)


@login_required
def home(request):
    period = selectors.Period.last_days(30)
    summaries = selectors.touchpoint_summaries(period=period)
    return render(
        request,
        "cxhub/home.html",
        {
            "period": period,
            "summaries": summaries,
            "total": selectors.total_counts(summaries),
            "trend": selectors.weekly_trend(),
        },
    )


def _database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True, connection.vendor
    except Exception as exc:  # reported, not raised: this is the health check
        return False, f"{type(exc).__name__}: {exc}"


def _broker_ok() -> tuple[bool, str]:
    if celery_app.conf.task_always_eager:
        return True, "eager (no broker configured; tasks run in-process)"
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True, "reachable"
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"


@never_cache
def healthz(request):
    """Database and broker state. 503 when the database is down: nothing works then.

    A broker outage is reported but still 200: requests keep working and the
    background work catches up once it is back.
    """
    db_ok, db_detail = _database_ok()
    broker_ok, broker_detail = _broker_ok()
    status = "ok" if db_ok and broker_ok else ("degraded" if db_ok else "down")
    return JsonResponse(
        {
            "status": status,
            "database": {"ok": db_ok, "detail": db_detail},
            "broker": {"ok": broker_ok, "detail": broker_detail},
        },
        status=200 if db_ok else 503,
    )
