"""Reads for recognition: feed, person page, leaderboard, praise wall, shout-outs, the
dashboard panel, and the access helpers every view goes through."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Exists, OuterRef, Q, Sum
from django.http import Http404
from django.utils import timezone

from cxhub import caching, roles
from cxhub.models import Membership, Team
from recognition.models import Postcard, PostcardCount, PraiseExclusion, ShoutOut, Value
from surveys import nps
from surveys.models import Response, Touchpoint
from surveys.privacy import customer_label, scrub_comment

User = get_user_model()
PERIODS = {"month": "This month", "quarter": "This quarter", "year": "This year", "all": "All time"}
FEED_PAGE = 30
PRAISE_DAYS = 30


# --- access helpers -------------------------------------------------------------------


def person_get(*, username: str):
    """A colleague by username, or 404: an active one, or a former one (deactivated)
    whose postcards the feed and the leaderboards still show and link to."""
    shown = Postcard.objects.visible().filter(recipient=OuterRef("pk"))
    user = User.objects.filter(Q(is_active=True) | Exists(shown), username=username).first()
    if user is None:
        raise Http404("No such colleague")
    return user


def postcard_get_for_moderation(*, user, pk: int) -> Postcard:
    """A postcard a CX admin may hide: 403 for anyone else, 404 if there is none."""
    if not roles.is_cx_admin(user):
        raise PermissionDenied("Only CX admins can hide postcards.")
    postcard = Postcard.objects.filter(pk=pk).first()
    if postcard is None:
        raise Http404("No such postcard")
    return postcard


def praise_get_for_moderation(*, user, response_id: int) -> Response:
    """A promoter comment a CX admin may take off the wall: 403 / 404 otherwise."""
    if not roles.is_cx_admin(user):
        raise PermissionDenied("Only CX admins can take comments off the praise wall.")
    response = (
        Response.objects.filter(pk=response_id, category=nps.PROMOTER).exclude(comment="").first()
    )
    if response is None:
        raise Http404("No such comment")
    return response


def shoutout_get_for_user(*, user, pk: int) -> ShoutOut:
    """A shout-out only the lead it was proposed to may see and decide: 404 for others."""
    shoutout = (
        ShoutOut.objects.filter(pk=pk, lead=user)
        .select_related("response__touchpoint", "response__person")
        .first()
    )
    if shoutout is None:
        raise Http404("No such shout-out")
    return shoutout


def praise_response(response_id: int | None) -> Response | None:
    """The customer praise a postcard may quote (promoter, with a comment, on the wall)."""
    if response_id is None:
        return None
    return (
        Response.objects.filter(
            pk=response_id, category=nps.PROMOTER, praise_exclusion__isnull=True
        )
        .exclude(comment="")
        .select_related("touchpoint", "person")
        .first()
    )


# --- periods --------------------------------------------------------------------------


def period_start(period: str, today: dt.date | None = None) -> dt.date | None:
    """First local day of the period containing today; None for all time."""
    today = today or timezone.localdate(timezone=timezone.get_default_timezone())
    if period == "month":
        return today.replace(day=1)
    if period == "quarter":
        return today.replace(month=3 * ((today.month - 1) // 3) + 1, day=1)
    if period == "year":
        return today.replace(month=1, day=1)
    return None


def period_end(period: str, today: dt.date | None = None) -> dt.date | None:
    """First local day after the period containing today; None for all time."""
    start = period_start(period, today)
    if start is None:
        return None
    month = start.month - 1 + {"month": 1, "quarter": 3, "year": 12}[period]
    return start.replace(year=start.year + month // 12, month=month % 12 + 1)


# --- leaderboard ----------------------------------------------------------------------


@dataclass
class Rank:
    rank: int
    count: int
    user: object = None
    team: object = None


def _ranked(rows, key) -> list[Rank]:
    """Standard competition ranking ("1224"): equal counts share a rank and the next
    rank skips as many places as there were ties, so rank n means n-1 did better."""
    ranks, previous, rank = [], None, 0
    for position, (obj, count) in enumerate(rows, start=1):
        if count != previous:
            rank, previous = position, count
        ranks.append(Rank(rank=rank, count=count, **{key: obj}))
    return ranks


def _counter_key(period: str, today: dt.date | None) -> tuple[str, dt.date]:
    start = period_start(period, today)
    if start is None:
        return PostcardCount.Period.ALL, PostcardCount.ALL_TIME_START
    return period, start


def leaderboard(
    *, period: str = "month", by: str = "person", limit: int = 50, today: dt.date | None = None
) -> list[Rank]:
    """Visible postcards received in this month / quarter / year / all time, most first,
    per person or per team (a member of two teams counts for both). Hidden postcards
    never count. Ties share a rank (standard competition ranking).

    One query on the counters the send and hide services keep per person and period:
    for people, the top of the period read in order off the `postcardcount_rank`
    index; for teams, a sum over that period's rows (at most one per person). Periods
    are whole local months, quarters and years in settings.TIME_ZONE.
    """
    key, start = _counter_key(period, today)
    counters = PostcardCount.objects.filter(period=key, start=start, received__gt=0)
    if by == "team":
        rows = (
            counters.filter(recipient__memberships__isnull=False)
            .values("recipient__memberships__team", "recipient__memberships__team__name")
            .annotate(total=Sum("received"))
            .order_by("-total", "recipient__memberships__team__name")[:limit]
        )
        return _ranked(
            (
                (
                    Team(
                        pk=r["recipient__memberships__team"],
                        name=r["recipient__memberships__team__name"],
                    ),
                    r["total"],
                )
                for r in rows
            ),
            "team",
        )
    rows = counters.order_by("-received", "recipient").values_list(
        "recipient",
        "recipient__username",
        "recipient__first_name",
        "recipient__last_name",
        "received",
    )[:limit]
    return _ranked(
        (
            (User(pk=pk, username=username, first_name=first, last_name=last), received)
            for pk, username, first, last, received in rows
        ),
        "user",
    )


# --- feed and person page -------------------------------------------------------------


def feed(
    *,
    team_id: int | None = None,
    value_id: int | None = None,
    recipient=None,
    before: int | None = None,
    limit: int = FEED_PAGE,
) -> list[Postcard]:
    """Visible postcards, newest first; received by a member of `team_id`, of
    `value_id`, received by `recipient`, older than postcard `before` (the "older"
    link) when given."""
    qs = Postcard.objects.visible().for_feed()
    if recipient is not None:
        qs = qs.filter(recipient=recipient)
    if team_id is not None:
        qs = qs.filter(
            recipient_id__in=Membership.objects.filter(team_id=team_id).values("user_id")
        )
    if value_id is not None:
        qs = qs.filter(value_id=value_id)
    if before is not None:
        cursor = Postcard.objects.filter(pk=before).values_list("created_at", flat=True).first()
        if cursor is not None:
            qs = qs.filter(Q(created_at__lt=cursor) | Q(created_at=cursor, pk__lt=before))
    return list(qs.order_by("-created_at", "-pk")[:limit])


def received_count(user) -> int:
    """Visible postcards ever received: the person's all-time counter."""
    return (
        PostcardCount.objects.filter(
            recipient=user, period=PostcardCount.Period.ALL, start=PostcardCount.ALL_TIME_START
        )
        .values_list("received", flat=True)
        .first()
        or 0
    )


def colleagues_matching(query: str, *, exclude_user, limit: int = 10):
    """Active colleagues whose first name, last name or username contain every word typed."""
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
        .order_by("first_name", "last_name", "username")[:limit]
    )


def colleagues_by_username(username: str, *, exclude_user):
    """The colleague a "Thank them" link names, or None (never oneself)."""
    return (
        User.objects.filter(username=username, is_active=True).exclude(pk=exclude_user.pk).first()
    )


def praise_named_colleague(response_id: int | None, *, exclude_user):
    """The one active colleague the customer-shout-out suggestions of this praise name
    (not dismissed), for "Thank a colleague for this"; None when none, or several (the
    sender then searches), or only the sender themselves."""
    if praise_response(response_id) is None:  # not (or no longer) praise on the wall
        return None
    named = list(
        User.objects.filter(is_active=True, pk__in=_shoutout_candidates(response_id))
        .exclude(pk=exclude_user.pk)
        .distinct()[:2]
    )
    return named[0] if len(named) == 1 else None


def _shoutout_candidates(response_id: int):
    return ShoutOut.candidates.through.objects.filter(
        shoutout__response_id=response_id,
        shoutout__status__in=[ShoutOut.Status.PENDING, ShoutOut.Status.PUBLISHED],
    ).values("user_id")


def active_values():
    return Value.objects.filter(active=True)


# --- praise wall ----------------------------------------------------------------------


@dataclass(frozen=True)
class Praise:
    """A promoter comment as every employee may see it: no contact details, the
    customer as first name and initial, the comment scrubbed (see privacy.py)."""

    response_id: int
    score: int
    comment: str
    touchpoint: str
    created_at: dt.datetime
    customer: str


def praise_of(response: Response) -> Praise:
    """One response as praise (the send page quotes the praise that inspired it)."""
    name = response.person.name if response.person else ""
    return Praise(
        response_id=response.pk,
        score=response.score,
        comment=scrub_comment(response.comment, customer_name=name),
        touchpoint=response.touchpoint.name,
        created_at=response.created_at,
        customer=customer_label(name),
    )


PRAISE_FIELDS = ("pk", "score", "comment", "created_at", "touchpoint__name", "person__name")


PRAISE_PAGE = 50


def praise_wall(
    *, days: int = PRAISE_DAYS, limit: int = PRAISE_PAGE, before: int | None = None
) -> list[Praise]:
    """Promoter (9–10) comments of the last `days` local days, newest first, without
    those a CX admin excluded; older than response `before` when given (the "older"
    link: an id that is not on the wall gives nothing).

    Only the fields in PRAISE_FIELDS are read: a customer's email and phone never
    leave the database here. On PostgreSQL the query is one UNION ALL of a short
    newest-first scan per touchpoint on the comments index, so its cost does not grow
    with the number of responses.
    """
    today = timezone.localdate(timezone=timezone.get_default_timezone())
    first_day = today - dt.timedelta(days=days - 1)
    since = dt.datetime.combine(first_day, dt.time.min, tzinfo=timezone.get_default_timezone())
    excluded = PraiseExclusion.objects.filter(response=OuterRef("pk"))
    base = (
        # NOT EXISTS rather than a LEFT JOIN: the join's row estimate made PostgreSQL
        # read a month of comments and sort them (33 ms at 1M responses, 8 ms this way).
        Response.objects.filter(~Exists(excluded), category=nps.PROMOTER, created_at__gte=since)
        .exclude(comment="")
        .values(*PRAISE_FIELDS)
        .order_by("-created_at", "-pk")
    )
    if before is not None:
        anchor = base.filter(pk=before).values_list("created_at", flat=True).first()
        if anchor is None:
            return []
        base = base.filter(Q(created_at__lt=anchor) | Q(created_at=anchor, pk__lt=before))
    touchpoint_ids = list(Touchpoint.objects.order_by().values_list("pk", flat=True))
    if connection.features.supports_slicing_ordering_in_compound and len(touchpoint_ids) > 1:
        arms = [base.filter(touchpoint_id=t)[:limit] for t in touchpoint_ids]
        rows = arms[0].union(*arms[1:], all=True).order_by("-created_at", "-pk")[:limit]
    else:
        rows = base[:limit]
    return [
        Praise(
            response_id=r["pk"],
            score=r["score"],
            comment=scrub_comment(r["comment"], customer_name=r["person__name"]),
            touchpoint=r["touchpoint__name"],
            created_at=r["created_at"],
            customer=customer_label(r["person__name"]),
        )
        for r in rows
    ]


# --- shout-outs and the dashboard -----------------------------------------------------


@dataclass
class ShoutOutView:
    shoutout: ShoutOut
    customer: str
    comment: str
    candidates: list


def shoutout_view(shoutout: ShoutOut) -> ShoutOutView:
    name = shoutout.response.person.name if shoutout.response.person else ""
    return ShoutOutView(
        shoutout=shoutout,
        customer=customer_label(name),
        comment=scrub_comment(shoutout.response.comment, customer_name=name),
        candidates=sorted(shoutout.candidates.all(), key=lambda u: (u.get_full_name(), u.username)),
    )


SHOUTOUTS_PAGE = 50


def _shoutouts_waiting(user):
    """The shout-outs this lead can still publish: pending, and their comment still
    praise (a customer who changed their answer, or a comment a CX admin took off the
    wall, leaves nothing to publish)."""
    return ShoutOut.objects.filter(
        lead=user,
        status=ShoutOut.Status.PENDING,
        response__category=nps.PROMOTER,
        response__praise_exclusion__isnull=True,
    ).exclude(response__comment="")


def shoutouts_pending_for(user, *, limit: int = SHOUTOUTS_PAGE) -> tuple[list[ShoutOutView], int]:
    """The newest `limit` shout-outs waiting for this lead, and how many wait in all."""
    waiting = _shoutouts_waiting(user)
    qs = (
        waiting.select_related("response__touchpoint", "response__person")
        .prefetch_related("candidates")
        .order_by("-created_at")[:limit]
    )
    views = [shoutout_view(s) for s in qs]
    return views, (len(views) if len(views) < limit else waiting.count())


DASHBOARD_PANEL_KEY = "home-champions"


def _top_of_month(limit: int) -> dict:
    """The month's first `limit` people, and how many more share the last one's rank
    (the list would otherwise cut through a tie the leaderboard shows)."""
    ranks = leaderboard(period="month", limit=limit + 20)
    top = ranks[:limit]
    tied = sum(1 for r in ranks[limit:] if top and r.rank == top[-1].rank)
    return {"top_of_month": top, "top_of_month_tied": tied}


def _dashboard_shared() -> dict:
    return {
        "latest_postcards": feed(limit=5),
        **_top_of_month(5),
        "fresh_praise": praise_wall(limit=3),
    }


def dashboard_panel(*, user=None) -> dict:
    """The home dashboard's Customer Champions panel: the latest postcards, the top
    five of the month, a few fresh praise comments, and for a lead the number of
    shout-outs waiting.

    The first three are the same for every viewer: shared for a minute
    (cxhub.caching), and forgotten as soon as a postcard is sent or hidden or a comment
    taken off the wall, so those show at once; new praise shows within the minute.
    One query for a lead on a cache hit, four on a miss (five for a lead).
    """
    panel = {**caching.shared(DASHBOARD_PANEL_KEY, _dashboard_shared), "pending_shoutouts": 0}
    if user is not None and (
        roles.team_ids_with_role(user, Membership.Role.LEAD) or roles.is_cx_admin(user)
    ):
        panel["pending_shoutouts"] = _shoutouts_waiting(user).count()
    return panel
