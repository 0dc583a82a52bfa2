"""Reads for recognition: feed, leaderboard, praise wall, shout-outs, dashboard panel."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Q, Sum
from django.utils import timezone

from cxhub.models import Team
from recognition.models import Postcard, PostcardMonthly, ShoutOut, Value
from surveys import nps
from surveys.models import Response

User = get_user_model()
PERIODS = {"month": "This month", "quarter": "This quarter", "year": "This year", "all": "All time"}


def period_end(period: str, today: dt.date | None = None) -> dt.date | None:
    """First local day after the period containing today; None for all time."""
    start = period_start(period, today)
    if start is None:
        return None
    months = {"month": 1, "quarter": 3, "year": 12}[period]
    month = start.month - 1 + months
    return start.replace(year=start.year + month // 12, month=month % 12 + 1)


def period_start(period: str, today: dt.date | None = None) -> dt.date | None:
    """First local day of the period containing today; None for all time."""
    today = today or timezone.localdate()
    if period == "month":
        return today.replace(day=1)
    if period == "quarter":
        return today.replace(month=3 * ((today.month - 1) // 3) + 1, day=1)
    if period == "year":
        return today.replace(month=1, day=1)
    return None


@dataclass
class Rank:
    rank: int
    count: int
    user: object = None
    team: object = None


def _ranked(rows, key) -> list[Rank]:
    """Standard competition ranking: ties share a rank and the next rank skips (1, 1, 3)."""
    ranks, previous, rank = [], None, 0
    for position, (obj, count) in enumerate(rows, start=1):
        if count != previous:
            rank, previous = position, count
        ranks.append(Rank(rank=rank, count=count, **{key: obj}))
    return ranks


def leaderboard(
    *, period: str = "month", by: str = "person", limit: int = 50, today=None
) -> list[Rank]:
    """Postcards received in the period (hidden ones never count), highest first.

    One aggregate over the monthly counters that every send and hide keeps in step,
    so the cost does not grow with the number of postcards.
    """
    start, end = period_start(period, today), period_end(period, today)
    counters = PostcardMonthly.objects.filter(received__gt=0)
    if start is not None:
        counters = counters.filter(month__gte=start, month__lt=end)
    if by == "team":
        rows = _team_totals(counters)[:limit]
        teams = Team.objects.in_bulk([team_id for team_id, _ in rows])
        return _ranked([(teams[t], n) for t, n in rows], "team")
    rows = list(
        counters.values("recipient")
        .annotate(total=Sum("received"))
        .filter(total__gt=0)
        .order_by("-total", "recipient")[:limit]
    )
    users = User.objects.in_bulk([r["recipient"] for r in rows])
    return _ranked([(users[r["recipient"]], r["total"]) for r in rows], "user")


def _team_totals(counters) -> list[tuple[int, int]]:
    """Postcards received by each team's members (a member of two teams counts for both)."""
    rows = (
        counters.filter(recipient__memberships__isnull=False)
        .values("recipient__memberships__team")
        .annotate(total=Sum("received"))
        .filter(total__gt=0)
        .order_by("-total", "recipient__memberships__team")
    )
    return [(r["recipient__memberships__team"], r["total"]) for r in rows]


def feed(*, team_id: int | None = None, value_id: int | None = None, limit: int = 30):
    qs = Postcard.objects.visible().for_feed()
    if team_id is not None:
        qs = qs.filter(recipient__memberships__team_id=team_id).distinct()
    if value_id is not None:
        qs = qs.filter(value_id=value_id)
    return qs.order_by("-created_at")[:limit]


def received_by(user, *, limit: int = 100):
    return (
        Postcard.objects.visible().for_feed().filter(recipient=user).order_by("-created_at")[:limit]
    )


def colleagues_matching(query: str, *, exclude_user, limit: int = 10):
    query = (query or "").strip()
    if len(query) < 2:
        return User.objects.none()
    q = Q()
    for word in query.split()[:3]:
        q &= (
            Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(username__icontains=word)
        )
    return (
        User.objects.filter(q, is_active=True)
        .exclude(pk=exclude_user.pk)
        .order_by("first_name", "last_name")[:limit]
    )


def active_values():
    return Value.objects.filter(active=True)


@dataclass
class Praise:
    response: Response
    customer: str


def praise_wall(*, days: int = 30, limit: int = 60, include_excluded: bool = False) -> list[Praise]:
    """Promoter comments of the last `days` days. The customer is named by first name and
    initial at most: no email, no phone, no surname ever leaves this function."""
    since = timezone.now() - dt.timedelta(days=days)
    qs = (
        Response.objects.filter(category=nps.PROMOTER, created_at__gte=since)
        .exclude(comment="")
        .select_related("touchpoint", "person")
        .order_by("-created_at")
    )
    if not include_excluded:
        qs = qs.filter(praise_exclusion__isnull=True)
    return [
        Praise(response=r, customer=r.person.first_name_and_initial if r.person else "A customer")
        for r in qs[:limit]
    ]


def shoutouts_for(user):
    from cxhub import roles

    qs = (
        ShoutOut.objects.filter(status=ShoutOut.Status.PENDING)
        .select_related("response__touchpoint", "response__person")
        .prefetch_related("candidates")
    )
    if not roles.is_cx_admin(user):
        qs = qs.filter(lead=user)
    return qs.order_by("-created_at")


def dashboard_panel() -> dict:
    return {
        "latest_postcards": list(feed(limit=5)),
        "top_of_month": leaderboard(period="month", limit=5),
        "fresh_praise": praise_wall(limit=3),
    }
