"""Reads for surveys. Dashboards read only the daily rollups (NpsDaily)."""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Q, Sum
from django.db.models.functions import TruncWeek
from django.utils import timezone

from surveys import nps
from surveys.hooks import response_links
from surveys.models import NpsDaily, Response, TargetChange, Touchpoint
from surveys.privacy import shown_comment


@dataclass
class Period:
    """A half-open range of local days: start inclusive, end exclusive.

    It is compared with `compare_with` (what `compare_label` names: "October", "the
    same days last year") when given, else with the same number of days before it.
    """

    start: dt.date
    end: dt.date
    compare_with: Period | None = field(default=None, compare=False, repr=False)
    compare_label: str = field(default="", compare=False, repr=False)

    @classmethod
    def last_days(cls, days: int, today: dt.date | None = None) -> Period:
        today = today or timezone.localdate()
        end = today + dt.timedelta(days=1)
        return cls(end - dt.timedelta(days=days), end)

    def previous(self) -> Period:
        if self.compare_with is not None:
            return self.compare_with
        return Period(self.start - (self.end - self.start), self.start)

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """The instants the period starts and ends at, in the current time zone."""
        tz = timezone.get_current_timezone()
        return (
            dt.datetime.combine(self.start, dt.time.min, tzinfo=tz),
            dt.datetime.combine(self.end, dt.time.min, tzinfo=tz),
        )


@dataclass
class TouchpointSummary:
    """A touchpoint's NPS over a period and the one before: the dashboard's cards and
    the scorecard's rows. `target`: the one in force on the period's last day (a past
    period keeps the target it had, targets_on), the touchpoint's current one if None."""

    touchpoint: Touchpoint
    current: nps.Counts
    previous: nps.Counts
    target: int | None = None

    def __post_init__(self):
        if self.target is None:
            self.target = self.touchpoint.nps_target

    @property
    def change(self) -> int | None:
        return nps.change(self.current, self.previous)

    @property
    def vs_target(self) -> int | None:
        if self.current.nps is None:
            return None
        return self.current.nps - self.target

    # What the pages colour: only a difference beyond its margin of error, on samples
    # large enough for one (nps.significant).
    @property
    def target_significant(self) -> bool:
        return nps.significant(self.vs_target, self.current)

    @property
    def change_significant(self) -> bool:
        return nps.significant(self.change, self.current, self.previous)


def targets_on(day: dt.date, touchpoints) -> dict[int, int]:
    """Each touchpoint's NPS target on a local day: the latest TargetChange applying
    from that day or before (the first change records the target before it as applying
    since the start), else (never changed) its current target."""
    targets = {tp.pk: tp.nps_target for tp in touchpoints}
    seen = set()
    changes = (
        TargetChange.objects.filter(touchpoint_id__in=targets, applies_from__lte=day)
        .order_by("touchpoint_id", "-applies_from")
        .values_list("touchpoint_id", "nps_target")
    )
    for tp_id, target in changes:
        if tp_id not in seen:
            seen.add(tp_id)
            targets[tp_id] = target
    return targets


def counts_by_touchpoint(period: Period, touchpoint_ids=None) -> dict[int, nps.Counts]:
    qs = NpsDaily.objects.filter(date__gte=period.start, date__lt=period.end)
    if touchpoint_ids is not None:
        qs = qs.filter(touchpoint_id__in=touchpoint_ids)
    rows = (
        qs.values("touchpoint_id")
        .annotate(p=Sum("promoters"), pa=Sum("passives"), d=Sum("detractors"))
        .order_by()
    )
    return {r["touchpoint_id"]: nps.Counts(r["p"], r["pa"], r["d"]) for r in rows}


def touchpoint_summaries(*, period: Period | None = None) -> list[TouchpointSummary]:
    """NPS per active touchpoint over `period` (default last 30 days) and the one before,
    against the target each had on the period's last day. A touchpoint switched off
    since is there too while it has answers in the period: last year's scorecard keeps
    its rows and its answers in the total."""
    period = period or Period.last_days(30)
    current = counts_by_touchpoint(period)
    touchpoints = list(
        Touchpoint.objects.filter(Q(active=True) | Q(pk__in=list(current)))
        .select_related("owner_team")
        .order_by("name", "pk")
    )
    previous = counts_by_touchpoint(period.previous())
    targets = targets_on(period.end - dt.timedelta(days=1), touchpoints)
    return [
        TouchpointSummary(
            tp, current.get(tp.pk, nps.Counts()), previous.get(tp.pk, nps.Counts()), targets[tp.pk]
        )
        for tp in touchpoints
    ]


def total_counts(summaries: list[TouchpointSummary]) -> nps.Counts:
    total = nps.Counts()
    for s in summaries:
        total = total + s.current
    return total


def _week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def weekly_trend(*, weeks: int = 26, touchpoint: Touchpoint | None = None, today=None) -> dict:
    """Weekly NPS (Monday-started local weeks) for a chart: labels, overall and per touchpoint.

    Weeks without responses are None, drawn as gaps rather than as an NPS of 0. Each
    line carries its weeks' response counts and `min_sample` (nps.MIN_SAMPLE): the
    chart draws a week of fewer answers hollow, so +100 from one answer is not read as
    a triumph.
    """
    today = today or timezone.localdate()
    last_week = _week_start(today)
    first_week = last_week - dt.timedelta(weeks=weeks - 1)
    qs = NpsDaily.objects.filter(date__gte=first_week, date__lt=last_week + dt.timedelta(days=7))
    if touchpoint is not None:
        qs = qs.filter(touchpoint=touchpoint)
    rows = (
        qs.annotate(week=TruncWeek("date"))
        .values("touchpoint_id", "week")
        .annotate(p=Sum("promoters"), pa=Sum("passives"), d=Sum("detractors"))
        .order_by()
    )
    per_tp: dict[int, dict[dt.date, nps.Counts]] = defaultdict(dict)
    overall: dict[dt.date, nps.Counts] = defaultdict(nps.Counts)
    for row in rows:
        week = row["week"]
        week = week.date() if isinstance(week, dt.datetime) else week
        c = nps.Counts(row["p"], row["pa"], row["d"])
        per_tp[row["touchpoint_id"]][week] = c
        overall[week] = overall[week] + c
    labels = [first_week + dt.timedelta(weeks=i) for i in range(weeks)]
    names = dict(Touchpoint.objects.filter(pk__in=per_tp.keys()).values_list("pk", "name"))
    if touchpoint is not None:
        per_tp = {}  # the overall line is the touchpoint's own
    return {
        "label": touchpoint.name if touchpoint is not None else "All touchpoints",
        "labels": [w.isoformat() for w in labels],
        "overall": [overall[w].nps if w in overall else None for w in labels],
        "responses": [overall[w].total if w in overall else 0 for w in labels],
        "min_sample": nps.MIN_SAMPLE,
        "has_data": bool(overall),
        "series": [
            {
                "name": names[tp_id],
                "data": [weeks_[w].nps if w in weeks_ else None for w in labels],
                "responses": [weeks_[w].total if w in weeks_ else 0 for w in labels],
            }
            for tp_id, weeks_ in sorted(per_tp.items(), key=lambda kv: names[kv[0]])
        ],
    }


def score_distribution(*, touchpoint: Touchpoint, period: Period) -> list[int]:
    """Responses per score 0–10 in the period, from the rollups."""
    scores = [0] * 11
    for row in NpsDaily.objects.filter(
        touchpoint=touchpoint, date__gte=period.start, date__lt=period.end
    ).values_list("score_counts", flat=True):
        for i, n in enumerate(row or []):
            scores[i] += n
    return scores


@dataclass(frozen=True)
class Comment:
    score: int
    category: str
    created_at: dt.datetime
    comment: str


def latest_comments(
    *, touchpoint: Touchpoint, category: str = "", contact_details: bool, limit: int = 20
) -> list[Comment]:
    """The touchpoint's latest comments, scrubbed of contact details unless the viewer
    may see customer personal data (privacy.shown_comment)."""
    qs = Response.objects.filter(touchpoint=touchpoint).exclude(comment="").select_related("person")
    if category:
        qs = qs.filter(category=category)
    return [
        Comment(
            r.score, r.category, r.created_at, shown_comment(r, contact_details=contact_details)
        )
        for r in qs.order_by("-created_at")[:limit]
    ]


PUBLIC_TOUCHPOINT_TTL = 30.0
_public_touchpoints: dict[str, tuple[float, Touchpoint | None]] = {}


def public_touchpoint(slug: str) -> Touchpoint | None:
    """The active touchpoint behind a public link, remembered for 30 s per process.

    The kiosk/QR link is the hottest write path: this saves it a query per answer. An
    admin's change (deactivating a touchpoint) reaches every process within 30 s.
    """
    now = time.monotonic()
    hit = _public_touchpoints.get(slug)
    if hit is not None and hit[0] > now:
        return hit[1]
    touchpoint = Touchpoint.objects.filter(slug=slug, active=True).first()
    if len(_public_touchpoints) > 1000:
        _public_touchpoints.clear()
    _public_touchpoints[slug] = (now + PUBLIC_TOUCHPOINT_TTL, touchpoint)
    return touchpoint


def public_touchpoints_forget() -> None:
    _public_touchpoints.clear()


def nps_trend(
    *, period: Period, interval: str = "week", touchpoint_ids=None
) -> list[tuple[dt.date, nps.Counts]]:
    """Counts per local day, or per Monday-started week, of the period, from the
    rollups: one (first day, counts) per bucket, empty buckets included (their NPS is
    None, never 0). Weeks at the edges count only the days inside the period."""
    if interval not in ("day", "week"):
        raise ValueError(f"interval must be 'day' or 'week', not {interval!r}")
    qs = NpsDaily.objects.filter(date__gte=period.start, date__lt=period.end)
    if touchpoint_ids is not None:
        qs = qs.filter(touchpoint_id__in=touchpoint_ids)
    rows = (
        qs.values("date")
        .annotate(p=Sum("promoters"), pa=Sum("passives"), d=Sum("detractors"))
        .order_by()
    )
    step = dt.timedelta(days=1 if interval == "day" else 7)
    first = period.start if interval == "day" else _week_start(period.start)
    buckets: dict[dt.date, nps.Counts] = {}
    day = first
    while day < period.end:
        buckets[day] = nps.Counts()
        day += step
    for row in rows:
        key = row["date"] if interval == "day" else _week_start(row["date"])
        buckets[key] = buckets[key] + nps.Counts(row["p"], row["pa"], row["d"])
    return list(buckets.items())


def response_links_for(*, user, response_ids: list[int]) -> dict[int, list[dict]]:
    """What other apps link from these responses for this user (hooks.response_links):
    {response_id: [{"label", "url"}, ...]}, one query per answering app."""
    links: dict[int, list[dict]] = {}
    if not response_ids:
        return links
    for _receiver, answer in response_links.send(
        sender=Response, user=user, response_ids=response_ids
    ):
        for response_id, items in (answer or {}).items():
            links.setdefault(response_id, []).extend(items)
    return links
