"""The executive scorecard, its CSV, the digest preview and the digest opt-out."""

import csv
import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone

from cxhub import selectors, services
from cxhub.models import DigestPreference
from cxhub.spreadsheet import safe_cell
from surveys import nps


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
    """(kind, Period, error) from ?period=month|last_month|quarter|year|custom&start=&end=;
    without a (known) period, the default one (selectors.scorecard_default_kind)."""
    default = selectors.scorecard_default_kind()
    kind = request.GET.get("period", default)
    if kind not in selectors.PERIODS:
        kind = default
    if kind != "custom":
        return kind, selectors.scorecard_period(kind), None
    fallback = selectors.scorecard_period(default)
    try:
        start = dt.date.fromisoformat(request.GET.get("start", ""))
        end = dt.date.fromisoformat(request.GET.get("end", ""))
    except ValueError:
        return kind, fallback, "Give a start and an end date (YYYY-MM-DD)."
    if not FIRST_DAY <= start <= LAST_DAY or not FIRST_DAY <= end <= LAST_DAY:
        # Before any date arithmetic: the year before 0001 or after 9999 does not exist.
        return kind, fallback, f"Choose dates from {FIRST_DAY:%Y-%m-%d} to {LAST_DAY:%Y-%m-%d}."
    if start > end:
        return kind, fallback, "The start date is after the end date."
    if (end - start).days > 3 * 366:
        return kind, fallback, "Choose a range of at most three years."
    return kind, selectors.scorecard_period("custom", start=start, end=end), None


# What the page calls the period it shows, above its dates.
HEADINGS = {
    "month": "This month so far",
    "quarter": "This quarter so far",
    "year": "This year so far",
}


@login_required
def scorecard(request):
    if not selectors.can_see_scorecard(request.user):
        return _forbidden(request)
    kind, period, error = _period(request)
    shown = selectors.scorecard_default_kind() if error else kind  # a refused range: the default
    previous = period.previous()
    context = selectors.scorecard(period)
    context.update(
        {
            "kind": kind,
            "heading": HEADINGS.get(shown, selectors.PERIODS[shown]),
            "periods": selectors.PERIODS,
            "error": error,
            "last_day": period.end - dt.timedelta(days=1),
            "days": (period.end - period.start).days,
            "previous": previous,
            "previous_last_day": previous.end - dt.timedelta(days=1),
            # Opened on last month because this one is only a few days old: say so.
            "young_month": shown == "last_month" and request.GET.get("period") != "last_month",
            "month_days": timezone.localdate().day,
            "min_sample": nps.MIN_SAMPLE,
            "query": request.GET.urlencode(),
            # A refused range keeps what was typed, to correct it.
            "typed_start": request.GET.get("start", "")[:10],
            "typed_end": request.GET.get("end", "")[:10],
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
            "small_sample",
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
                    row.target,
                    row.vs_target,
                    row.previous.nps,
                    row.change,
                    "yes" if row.change_significant else "no",
                    # Fewer than nps.MIN_SAMPLE answers: the margin of error means nothing.
                    "yes" if c.small_sample else "no",
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
    # The email as sent, with a way back above it (not part of the email).
    back = render_to_string("cxhub/_digest_preview_bar.html", request=request)
    head, body_tag, rest = html.partition("<body")
    if body_tag:
        tag_end = rest.index(">") + 1
        html = head + body_tag + rest[:tag_end] + back + rest[tag_end:]
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
