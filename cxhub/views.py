"""Pages that compose the apps: the home dashboard, the touchpoint page, the health check."""

import logging
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.views import defaults
from django.views.decorators.cache import never_cache

from cxhub import caching, roles
from cxhub.celery import app as celery_app
from cxhub.middleware import is_customer_path
from feedback import selectors as feedback_selectors
from recognition import selectors as recognition_selectors
from surveys import nps
from surveys import selectors as survey_selectors
from surveys.models import Response, Touchpoint

logger = logging.getLogger(__name__)


@login_required
def home(request):
    period = survey_selectors.Period.last_days(30)
    summaries = survey_selectors.touchpoint_summaries(period=period)
    return render(
        request,
        "cxhub/home.html",
        {
            "period": period,
            "summaries": summaries,
            "total": survey_selectors.total_counts(summaries),
            "trend": survey_selectors.weekly_trend(),
            # Organisation-wide figures that scan a month of cases are shared by every
            # viewer for a minute (the queue's own counters are always live).
            "health": caching.shared(
                f"home-loop-health:{period.start}",
                lambda: feedback_selectors.loop_health(period=period),
            ),
            "published_actions": feedback_selectors.published_actions(),
            "panel": recognition_selectors.dashboard_panel(user=request.user),
        },
    )


@login_required
def touchpoint_detail(request, slug):
    touchpoint = get_object_or_404(Touchpoint.objects.select_related("owner_team"), slug=slug)
    period = survey_selectors.Period.last_days(30)
    current = survey_selectors.counts_by_touchpoint(period, [touchpoint.pk])
    previous = survey_selectors.counts_by_touchpoint(period.previous(), [touchpoint.pk])
    summary = survey_selectors.TouchpointSummary(
        touchpoint,
        current.get(touchpoint.pk, nps.Counts()),
        previous.get(touchpoint.pk, nps.Counts()),
    )
    category = request.GET.get("category", "")
    if category not in Response.Category.values:
        category = ""
    distribution = survey_selectors.score_distribution(touchpoint=touchpoint, period=period)
    return render(
        request,
        "cxhub/touchpoint.html",
        {
            "touchpoint": touchpoint,
            "summary": summary,
            "distribution": distribution,
            "distribution_max": max(distribution) or 1,
            "trend": survey_selectors.weekly_trend(touchpoint=touchpoint),
            "comments": survey_selectors.latest_comments(
                touchpoint=touchpoint,
                category=category,
                contact_details=roles.is_cx_admin(request.user),
            ),
            "category": category,
            "categories": Response.Category.choices,
            # The same for every viewer: shared for a minute, like the home page's.
            "health": caching.shared(
                f"tp-loop-health:{touchpoint.pk}:{period.start}",
                lambda: feedback_selectors.loop_health(period=period, touchpoint_id=touchpoint.pk),
            ),
            # The figures are shared; what the viewer may do about each root cause
            # (plan an action, or open the one under way) is theirs, read live.
            "pareto": feedback_selectors.pareto_with_actions(
                caching.shared(
                    f"tp-pareto:{touchpoint.pk}:{period.start}",
                    lambda: feedback_selectors.root_cause_pareto(
                        period=survey_selectors.Period.last_days(90), touchpoint_id=touchpoint.pk
                    ),
                ),
                user=request.user,
                touchpoint=touchpoint,
            ),
            "published_actions": feedback_selectors.published_actions(touchpoint_id=touchpoint.pk),
        },
    )


def _database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True, connection.vendor
    except Exception as exc:  # reported, not raised: this is the health check
        return False, _failure("database", exc)


def _broker_ok() -> tuple[bool, str]:
    if celery_app.conf.task_always_eager:
        return True, "eager (no broker configured; tasks run in-process)"
    try:
        # One attempt, bounded by the broker socket timeouts (2 s): a retry would sleep
        # first, and a probe that answers later than its own timeout takes the web
        # process out of service for an outage that does not stop it.
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=0, timeout=2)
        return True, "reachable"
    except Exception as exc:
        return False, _failure("broker", exc)


def _failure(service: str, exc: Exception) -> str:
    """The answer names the error's kind only: /healthz is public, and the message
    carries hosts, ports and user names. The whole of it goes to the log."""
    logger.warning("healthz: %s unavailable: %s: %s", service, type(exc).__name__, exc)
    return f"unavailable ({type(exc).__name__})"


@never_cache
def no_favicon(request):
    """204: CX Hub has no icon. The product's pages say so in their <head>; the Django
    admin's pages ask for /favicon.ico, which was a 404 in every admin page's console."""
    return HttpResponse(status=204)


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


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: a refused form in the visitor's language (a customer whose
    survey page sat open, or whose browser blocks cookies), saying what to do. Django's
    own page is in English and addressed to developers; it also renders a custom
    403_csrf.html without the reason, so this view passes it."""
    from django.middleware.csrf import REASON_NO_CSRF_COOKIE

    context = {
        "no_cookie": reason == REASON_NO_CSRF_COOKIE,
        "reason": reason,
        "form_url": request.get_full_path(),
    }
    return render(request, "403_csrf.html", context, status=403)


def _visitor_language(request, *, load_user: bool = True) -> str:
    """The error pages' language: the browser's for an anonymous visitor (perhaps a
    customer), English for staff, whose pages are all English (see
    cxhub.middleware.CustomerLocaleMiddleware). `load_user=False` (the 500 page) looks
    only at a user already loaded: the error may be the database itself."""
    user = getattr(request, "user", None) if load_user else getattr(request, "_cached_user", None)
    try:
        if user is not None and user.is_authenticated:
            return settings.LANGUAGE_CODE
    except Exception:  # the session or user could not be read: as for a visitor
        logger.debug("Error page: the user could not be read", exc_info=True)
    return translation.get_language_from_request(request)


def _in_language(response, language: str):
    # Served in the visitor's language on a path that is otherwise English: caches
    # must keep one copy per language.
    if language != settings.LANGUAGE_CODE or not response.has_header("Content-Language"):
        patch_vary_headers(response, ["Accept-Language"])
        response.headers.setdefault("Content-Language", language)
    return response


def page_not_found(request, exception):
    """Django's page_not_found, with `survey_link` for the template: a customer's
    mistyped or old survey link is explained as such."""
    language = _visitor_language(request)
    context = {
        "request_path": quote(request.path),
        "survey_link": is_customer_path(request.path_info),
    }
    with translation.override(language):
        page = render(request, "404.html", context, status=404)
    return _in_language(page, language)


def server_error(request):
    language = _visitor_language(request, load_user=False)
    with translation.override(language):
        return _in_language(defaults.server_error(request), language)
