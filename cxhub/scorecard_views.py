"""The executive scorecard, its CSV, the digest preview and the digest opt-out."""

import csv
import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.template.loader import render_to_string

from cxhub import selectors, services
from cxhub.models import DigestPreference
from cxhub.spreadsheet import safe_cell


def _forbidden(request):
    return HttpResponseForbidden(
        render_to_string(
            "feedback/forbidden.html",
            {"message": "The scorecard is for executives, team leads and CX admins."},
            request,
        )
    )


FIRST_DAY = dt.date(2000, 1, 1)
LAST_DAY = dt.date(2100, 1, 1)


def _period(request):
    """(kind, Period, error) from ?period=month|quarter|year|custom&start=&end=."""
    kind = request.GET.get("period", "month")
    if kind not in selectors.PERIODS:
        kind = "month"
    if kind != "custom":
        return kind, selectors.scorecard_period(kind), None
    try:
        start = dt.date.fromisoformat(request.GET.get("start", ""))
        end = dt.date.fromisoformat(request.GET.get("end", ""))
    except ValueError:
        return (
            kind,
            selectors.scorecard_period("month"),
            "Give a start and an end date (YYYY-MM-DD).",
        )
    if not FIRST_DAY <= start <= LAST_DAY or not FIRST_DAY <= end <= LAST_DAY:
        # Before any date arithmetic: the year before 0001 or after 9999 does not exist.
        return (
            kind,
            selectors.scorecard_period("month"),
            f"Choose dates from {FIRST_DAY:%Y-%m-%d} to {LAST_DAY:%Y-%m-%d}.",
        )
    if start > end:
        return kind, selectors.scorecard_period("month"), "The start date is after the end date."
    if (end - start).days > 3 * 366:
        return kind, selectors.scorecard_period("month"), "Choose a range of at most three years."
    return kind, selectors.scorecard_period("custom", start=start, end=end), None


@login_required
def scorecard(request):
    if not selectors.can_see_scorecard(request.user):
        return _forbidden(request)
    kind, period, error = _period(request)
    context = selectors.scorecard(period)
    context.update(
        {
            "kind": kind,
            "periods": selectors.PERIODS,
            "error": error,
            "last_day": period.end - dt.timedelta(days=1),
            "query": request.GET.urlencode(),
        }
    )
    return render(request, "cxhub/scorecard.html", context, status=400 if error else 200)


@login_required
def scorecard_csv(request):
    if not selectors.can_see_scorecard(request.user):
        return _forbidden(request)
    kind, period, error = _period(request)
    if error:
        return HttpResponse(error, status=400, content_type="text/plain")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    last = period.end - dt.timedelta(days=1)
    response["Content-Disposition"] = f'attachment; filename="scorecard-{period.start}-{last}.csv"'
    writer = csv.writer(response)
    writer.writerow(
        [
            "touchpoint",
            "responses",
            "nps",
            "margin_of_error",
            "target",
            "vs_target",
            "previous_nps",
            "change",
            "change_significant",
        ]
    )
    for row in selectors.score_rows(period):
        c = row.current
        writer.writerow(
            [
                safe_cell(v)
                for v in (
                    row.touchpoint.name,
                    c.total,
                    c.nps,
                    c.margin_of_error,
                    row.touchpoint.nps_target,
                    row.vs_target,
                    row.previous.nps,
                    row.change,
                    "yes" if row.change_significant else "no",
                )
            ]
        )
    return response


@login_required
def digest_preview(request):
    if not selectors.can_see_scorecard(request.user):
        return _forbidden(request)
    message = services.digest_render(user=request.user)
    html = message.alternatives[0][0]
    if request.GET.get("format") == "text":
        return HttpResponse(message.body, content_type="text/plain; charset=utf-8")
    return HttpResponse(html)


@login_required
def digest_opt_out(request):
    preference = DigestPreference.objects.filter(user=request.user).first()
    opted_out = bool(preference and preference.opted_out_at)
    if request.method == "POST":
        opted_out = request.POST.get("subscribe") != "1"
        services.digest_set_opt_out(user=request.user, opted_out=opted_out)
        messages.success(
            request,
            "You will no longer get the weekly digest."
            if opted_out
            else "You will get the weekly digest again.",
        )
        return redirect("digest-opt-out")
    return render(request, "cxhub/digest_opt_out.html", {"opted_out": opted_out})
