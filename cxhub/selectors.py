"""The executive scorecard and the weekly digest: reads composed from every app."""

from __future__ import annotations

import calendar
import datetime as dt

from django.contrib.auth import get_user_model
from django.db.models import Count, Q
from django.utils import timezone

from cxhub import roles
from cxhub.models import Membership, Team
from feedback import selectors as feedback_selectors
from feedback import services as feedback_services
from feedback.models import FollowUpCase, ImprovementAction, RootCause
from recognition.models import Postcard
from surveys import nps, privacy
from surveys import selectors as survey_selectors
from surveys.models import Response
from surveys.privacy import shown_comment
from surveys.selectors import Period

User = get_user_model()
PERIODS = {
    "month": "This month",
    "last_month": "Last month",
    "quarter": "This quarter",
    "year": "This year",
    "custom": "Custom range",
}
# Until a month is this many days old, "this month so far" is a few days against the
# few days before (on the 1st, one day against the day before): the scorecard opens on
# the last complete month instead.
YOUNG_MONTH_DAYS = 7


def can_see_scorecard(user) -> bool:
    return (
        roles.is_cx_admin(user)
        or roles.is_executive(user)
        or bool(roles.team_ids_with_role(user, Membership.Role.LEAD))
    )


def scorecard_default_kind(today: dt.date | None = None) -> str:
    """The period the scorecard opens on: this month so far, or last month while this
    one is younger than YOUNG_MONTH_DAYS days."""
    today = today or timezone.localdate()
    return "last_month" if today.day < YOUNG_MONTH_DAYS else "month"


def _months_back(day: dt.date, months: int) -> dt.date:
    """The first of the month `months` before the month of `day` (after, if negative)."""
    index = day.year * 12 + day.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1)


def _same_days_in(earlier: dt.date, first: dt.date, today: dt.date) -> Period:
    """From `earlier` (a month, quarter or year before `first`) to the date that is to
    it what `today` is to `first` (19 Nov in this quarter: 19 Aug in the one before),
    capped to a shorter month (31 Mar: 28 Feb)."""
    offset = (today.year * 12 + today.month) - (first.year * 12 + first.month)
    month = _months_back(earlier, -offset)
    last = month.replace(day=min(today.day, calendar.monthrange(month.year, month.month)[1]))
    return Period(earlier, last + dt.timedelta(days=1))


def scorecard_period(kind: str, *, start=None, end=None, today=None) -> Period:
    """This month/quarter/year so far, last month, or a custom [start, end] range of
    local days, each with what an executive compares it with: last month with the
    month before; a month, quarter or year so far with the same days of the month or
    quarter before, or of last year; a custom range with as many days before it."""
    today = today or timezone.localdate()
    if kind == "custom" and start and end:
        return Period(start, end + dt.timedelta(days=1))
    if kind == "last_month":
        this_month = today.replace(day=1)
        first = _months_back(this_month, 1)
        before = Period(_months_back(this_month, 2), first)
        return Period(first, this_month, before, f"{before.start:%B %Y}")
    if kind == "year":
        first, months, label = today.replace(month=1, day=1), 12, "the same days last year"
    elif kind == "quarter":
        first = today.replace(month=3 * ((today.month - 1) // 3) + 1, day=1)
        months, label = 3, "the same days of last quarter"
    else:
        first, months, label = today.replace(day=1), 1, "the same days of last month"
    before = _same_days_in(_months_back(first, months), first, today)
    return Period(first, today + dt.timedelta(days=1), before, label)


# One row of the scorecard: the dashboard card's figures, with the same significance.
ScoreRow = survey_selectors.TouchpointSummary


def score_rows(period: Period) -> list[ScoreRow]:
    return survey_selectors.touchpoint_summaries(period=period)


def postcards_per_team(period: Period) -> dict[int, int]:
    start, end = period.bounds()
    rows = (
        Postcard.objects.visible()
        .filter(created_at__gte=start, created_at__lt=end, recipient__memberships__isnull=False)
        .values("recipient__memberships__team")
        .annotate(n=Count("id"))
    )
    return {r["recipient__memberships__team"]: r["n"] for r in rows}


def scorecard(period: Period) -> dict:
    rows = score_rows(period)
    total = nps.Counts()
    previous_total = nps.Counts()
    for r in rows:
        total, previous_total = total + r.current, previous_total + r.previous
    postcards = postcards_per_team(period)
    teams = [
        {
            "team": team,
            "health": feedback_selectors.loop_health(period=period, team_id=team.pk),
            "postcards": postcards.get(team.pk, 0),
        }
        for team in Team.objects.all()
    ]
    return {
        "period": period,
        "rows": rows,
        "total": total,
        "total_change": nps.change(total, previous_total),
        "teams": teams,
        "root_causes": feedback_selectors.root_cause_pareto(period=period)[:5],
        "actions": ImprovementAction.objects.select_related("owner_team", "touchpoint").order_by(
            "status", "-updated_at"
        )[:10],
    }


# --- the weekly digest ------------------------------------------------------------------


def digest_week(today: dt.date | None = None) -> Period:
    """The last complete Monday-to-Sunday week."""
    today = today or timezone.localdate()
    this_monday = today - dt.timedelta(days=today.weekday())
    return Period(this_monday - dt.timedelta(days=7), this_monday)


def digest_recipients():
    """Executives and team leads with an email address who have not opted out."""
    leads = Membership.objects.filter(role=Membership.Role.LEAD).values("user")
    return (
        User.objects.filter(is_active=True)
        .exclude(email="")
        .filter(Q(groups__name=roles.EXECUTIVES) | Q(pk__in=leads))
        .exclude(digest_preference__opted_out_at__isnull=False)
        .distinct()
        .order_by("pk")
    )


def _quotes(week: Period) -> list[dict]:
    start, end = week.bounds()
    base = (
        # Not a comment a CX admin took off the praise wall (recognition.PraiseExclusion).
        Response.objects.filter(
            created_at__gte=start, created_at__lt=end, praise_exclusion__isnull=True
        )
        .exclude(comment="")
        .select_related("touchpoint", "person")
    )
    picks = [
        ("praise", base.filter(score__gte=9).order_by("-score", "-created_at")[:2]),
        ("pain", base.filter(score__lte=3).order_by("score", "-created_at")[:1]),
    ]
    return [
        {
            "kind": kind,
            "score": r.score,
            # The digest goes to the top team: no contact details (design §6).
            "comment": shown_comment(r, contact_details=False)[:300],
            "touchpoint": r.touchpoint.name,
            "customer": r.person.first_name_and_initial if r.person else privacy.NO_NAME,
        }
        for kind, qs in picks
        for r in qs
    ]


def champions_of_the_week(week: Period, limit: int = 3):
    start, end = week.bounds()
    rows = (
        Postcard.objects.visible()
        .filter(created_at__gte=start, created_at__lt=end)
        .values("recipient")
        .annotate(n=Count("id"))
        .order_by("-n", "recipient")[:limit]
    )
    users = User.objects.in_bulk([r["recipient"] for r in rows])
    return [{"user": users[r["recipient"]], "count": r["n"]} for r in rows]


def recovered_in(week: Period, *, team_id: int | None = None, limit: int = 10) -> dict:
    """Cases marked recovered in the week (their customer later scored 9–10): how many
    customers and cases, and the `limit` most recent cases (a team lead's list; none
    for the organisation's figure, whose readers see no cases, design §6)."""
    start, end = week.bounds()
    cases = FollowUpCase.objects.filter(recovered_at__gte=start, recovered_at__lt=end)
    if team_id is not None:
        cases = cases.filter(team_id=team_id)
    counts = cases.aggregate(
        people=Count("response__person", distinct=True),
        # A customer erased since: their case no longer names them, but still counts.
        erased=Count("pk", filter=Q(response__person__isnull=True)),
        total=Count("pk"),
    )
    return {
        "customers": counts["people"] + counts["erased"],
        "total": counts["total"],
        "cases": list(
            cases.select_related("response__touchpoint", "assignee").order_by(
                "-recovered_at", "-pk"
            )[:limit]
        ),
    }


def top_root_causes_closed_in(week: Period, *, team_id: int | None = None, limit: int = 5) -> dict:
    """The root causes most often recorded on the cases closed in the week, with their
    counts, and how many cases were closed. Unlike feedback's root_cause_pareto (cases
    opened in a period, most of them not diagnosed yet) this counts what the week's
    closed cases found."""
    start, end = week.bounds()
    # Follow-up work only: not the cases that closed themselves (the customer changed
    # their score before any call) nor the history an import closed on arrival.
    not_work = Q(outcome=FollowUpCase.Outcome.NO_LONGER_DETRACTOR) | Q(
        resolution=feedback_services.IMPORTED_HISTORY
    )
    closed = FollowUpCase.objects.filter(closed_at__gte=start, closed_at__lt=end).exclude(not_work)
    if team_id is not None:
        closed = closed.filter(team_id=team_id)
    return {
        "closed": closed.count(),
        # filter() before annotate(): the count is of those cases only.
        "rows": list(
            RootCause.objects.filter(cases__in=closed)
            .annotate(n=Count("cases"))
            .order_by("-n", "name")
            .values("name", "n")[:limit]
        ),
    }


def digest_context(user, week: Period | None = None) -> dict:
    """What one recipient's digest says: the headline figures week over week, recovered
    customers and the closed cases' top root causes, their own teams' figures, overdue
    and recovered cases (team leads), champions, a few customer quotes."""
    week = week or digest_week()
    rows = score_rows(week)
    total = sum((r.current for r in rows), nps.Counts())
    previous = sum((r.previous for r in rows), nps.Counts())
    led = roles.team_ids_with_role(user, Membership.Role.LEAD)
    my_teams = []
    for team in Team.objects.filter(pk__in=led):
        my_teams.append(
            {
                "team": team,
                "rows": [r for r in rows if r.touchpoint.owner_team_id == team.pk],
                "health": feedback_selectors.loop_health(period=week, team_id=team.pk),
                "overdue": list(
                    FollowUpCase.objects.overdue()
                    .filter(team=team)
                    .select_related("response__touchpoint", "assignee")
                    .order_by("due_at")[:10]
                ),
                "recovered": recovered_in(week, team_id=team.pk),
                "root_causes": top_root_causes_closed_in(week, team_id=team.pk),
            }
        )
    return {
        "user": user,
        "week": week,
        "week_last_day": week.end - dt.timedelta(days=1),
        "rows": rows,
        "total": total,
        "change": nps.change(total, previous),
        "health": feedback_selectors.loop_health(period=week),
        # The organisation's figure only: its readers see no cases (design §6).
        "recovered": recovered_in(week, limit=0),
        "root_causes": top_root_causes_closed_in(week),
        "my_teams": my_teams,
        "champions": champions_of_the_week(week),
        "quotes": _quotes(week),
    }
