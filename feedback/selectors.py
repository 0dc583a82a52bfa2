"""Reads for the follow-up loop, and the access helpers every view and API uses."""

from __future__ import annotations

import datetime as dt
import re
import statistics
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Aggregate, Count, F, FloatField, Q
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from cxhub import roles
from cxhub.models import Membership, Team
from feedback.models import CaseEvent, FollowUpCase, ImprovementAction, RootCause
from surveys.selectors import Period

# --- access (design §6) -------------------------------------------------------------


def cases_visible_to(user):
    """Cases the user may open: all for CX admins, their teams' for managers and
    leads, none for anyone else (employees and executives see aggregates only)."""
    qs = FollowUpCase.objects.all()
    if roles.is_cx_admin(user):
        return qs
    return qs.filter(team_id__in=roles.managed_team_ids(user))


def case_get_for_user(user, pk) -> FollowUpCase:
    """The case, or 404 for anything the user may not see (never 403 with data)."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404("No such case") from None
    case = cases_visible_to(user).for_case_page().filter(pk=pk).first()
    if case is None:
        raise Http404("No such case")
    return case


def case_links_for_responses(user, response_ids) -> dict[int, list[dict]]:
    """{response_id: [{"label": "Case #N", "url": …}]} for the responses whose case the
    user may open (cases_visible_to): one query, through the unique response index."""
    case_url = reverse("feedback:case-detail", args=[0]).removesuffix("0/")
    pairs = (
        cases_visible_to(user).filter(response_id__in=response_ids).values_list("response_id", "pk")
    )
    return {
        response_id: [{"label": f"Case #{pk}", "url": f"{case_url}{pk}/"}]
        for response_id, pk in pairs
    }


def can_work_cases(user) -> bool:
    return roles.is_cx_admin(user) or bool(roles.managed_team_ids(user))


def can_reassign(user, case: FollowUpCase) -> bool:
    return roles.is_cx_admin(user) or case.team_id in roles.team_ids_with_role(
        user, Membership.Role.LEAD
    )


def reassign_candidates(case: FollowUpCase):
    from django.contrib.auth import get_user_model

    return (
        get_user_model()
        .objects.filter(
            is_active=True,
            memberships__team_id=case.team_id,
            memberships__role__in=[Membership.Role.MANAGER, Membership.Role.LEAD],
        )
        .distinct()
        .order_by("first_name", "username")
    )


# --- the queue ----------------------------------------------------------------------


@dataclass
class QueueCounters:
    open: int
    overdue: int
    due_today: int
    unassigned: int
    escalated: int


@dataclass
class QueueRow:
    """One case as a queue row shows it (read as values: the page renders up to 75)."""

    pk: int
    url: str
    due_at: dt.datetime
    escalated_at: dt.datetime | None
    priority: int
    score: int
    comment: str
    touchpoint: str
    assignee: str  # the owner's name, "" when unassigned

    @property
    def priority_label(self) -> str:
        return FollowUpCase.PRIORITY_LABELS.get(self.priority, str(self.priority))


QUEUE_FIELDS = (
    "pk",
    "due_at",
    "escalated_at",
    "priority",
    "response__score",
    "response__comment",
    "response__touchpoint__name",
    "assignee__username",
    "assignee__first_name",
    "assignee__last_name",
)


def _display_name(first: str | None, last: str | None, username: str | None) -> str:
    """As User.get_full_name() or the username; "" for no user (a LEFT JOIN's NULLs)."""
    return f"{first or ''} {last or ''}".strip() or username or ""


def _case_url_prefix() -> str:
    # Each row links to its case page: one reverse() for the page, not one per row.
    return reverse("feedback:case-detail", args=[0]).removesuffix("0/")


def _queue_row_fields(r: dict, case_url: str) -> dict:
    """A QueueRow's fields from a .values(*QUEUE_FIELDS) row."""
    return {
        "pk": r["pk"],
        "url": f"{case_url}{r['pk']}/",
        "due_at": r["due_at"],
        "escalated_at": r["escalated_at"],
        "priority": r["priority"],
        "score": r["response__score"],
        "comment": r["response__comment"],
        "touchpoint": r["response__touchpoint__name"],
        "assignee": _display_name(
            r["assignee__first_name"], r["assignee__last_name"], r["assignee__username"]
        ),
    }


def queue_for_user(user, *, team_id: int | None = None, limit: int = 25) -> dict:
    """The first `limit` of my open cases (of every team I may see: overdue first, then
    by deadline), of my teams' unassigned cases, and for leads and admins of the teams'
    other open cases (queue_list's lists); with counters."""
    now = timezone.now()

    def first(show: str, *, total: bool = True):
        values = queue_list(user, show, team_id=team_id)
        rows = queue_list_rows(values[:limit])
        # How many in all: counted only when the first `limit` may not be all.
        return rows, (values.count() if total and len(rows) == limit else len(rows))

    mine, mine_total = first("mine")
    unassigned, _ = first("unassigned", total=False)  # counters.unassigned says how many
    others, others_total = [], 0
    if roles.is_cx_admin(user) or roles.team_ids_with_role(user, Membership.Role.LEAD):
        others, others_total = first("others")
    return {
        "mine": mine,
        "unassigned": unassigned,
        "others": others,
        "counters": queue_counters(user, team_id=team_id, now=now),
        "mine_total": mine_total,
        "others_total": others_total,
        "limit": limit,
        "now": now,
    }


def queue_counters(user, *, team_id: int | None = None, now=None) -> QueueCounters:
    """The queue's counters over the open cases of the user's teams (or one of them)."""
    now = now or timezone.now()
    visible = cases_visible_to(user)
    open_cases = (visible if team_id is None else visible.filter(team_id=team_id)).open()
    end_of_today = Period.last_days(1).bounds()[1]
    counts = open_cases.aggregate(
        open=Count("due_at"),
        overdue=Count("due_at", filter=Q(due_at__lt=now)),
        due_today=Count("due_at", filter=Q(due_at__gte=now, due_at__lt=end_of_today)),
        unassigned=Count("due_at", filter=Q(assignee__isnull=True)),
        escalated=Count("due_at", filter=Q(escalated_at__isnull=False)),
    )
    return QueueCounters(**counts)


# The queue's lists in full, page by page (?show=…): what the queue shows the first
# `limit` of, and the counters' subsets. Each: (heading, what it holds when empty).
QUEUE_LISTS = {
    "open": ("Open cases", "No open cases. Every detractor has been called back."),
    "mine": ("My cases", "You have no open cases."),
    "unassigned": ("Unassigned", "No unassigned cases. Every detractor has an owner."),
    "others": ("Assigned to others", "No cases assigned to others."),
    "overdue": ("Overdue", "No overdue cases."),
    "due_today": ("Due today", "No case falls due for the rest of today."),
    "escalated": ("Escalated", "No escalated cases."),
}


def queue_list(user, show: str, *, team_id: int | None = None):
    """The open cases of one of QUEUE_LISTS that the user may open (in one team, or in
    all theirs), ordered as the queue orders them: values rows for queue_list_rows().
    "mine" spans every team the user may see, as the queue's own section does."""
    visible = cases_visible_to(user)
    teams = (visible if team_id is None else visible.filter(team_id=team_id)).open()
    if show == "mine":
        qs = visible.open().filter(assignee=user).order_by("due_at", "pk")
    elif show == "unassigned":
        qs = teams.filter(status=FollowUpCase.Status.NEW, assignee__isnull=True).order_by(
            "-priority", "due_at", "pk"
        )
    elif show == "others":
        qs = teams.filter(assignee__isnull=False).exclude(assignee=user).order_by("due_at", "pk")
    elif show == "overdue":
        qs = teams.filter(due_at__lt=timezone.now()).order_by("due_at", "pk")
    elif show == "due_today":
        qs = teams.filter(due_at__gte=timezone.now(), due_at__lt=Period.last_days(1).bounds()[1])
        qs = qs.order_by("due_at", "pk")
    elif show == "escalated":
        qs = teams.filter(escalated_at__isnull=False).order_by("due_at", "pk")
    elif show == "open":
        qs = teams.order_by("due_at", "pk")
    else:
        raise ValueError(f"no queue list {show!r}")
    return qs.values(*QUEUE_FIELDS)


def queue_list_rows(values) -> list[QueueRow]:
    """QueueRows from a page of queue_list() values."""
    case_url = _case_url_prefix()
    return [QueueRow(**_queue_row_fields(r, case_url)) for r in values]


# --- finding a case -----------------------------------------------------------------

CASE_NUMBER = re.compile(r"(?:case\s*)?#?\s*(\d+)", re.IGNORECASE)
WHOLE_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
SEARCH_MAX_LENGTH = 100
BIGINT_MAX = 2**63 - 1


@dataclass
class CaseSearchRow(QueueRow):
    status: str = ""
    status_label: str = ""
    closed_at: dt.datetime | None = None
    customer_name: str = ""
    customer_email: str = ""


@dataclass
class CaseSearch:
    query: str
    by: str  # "number" or "customer"
    rows: list[CaseSearchRow] = field(default_factory=list)
    limit: int = 25

    @property
    def limited(self) -> bool:
        return len(self.rows) >= self.limit


SEARCH_FIELDS = (
    *QUEUE_FIELDS,
    "status",
    "closed_at",
    "response__person__name",
    "response__person__email",
)


def case_search(user, query: str, *, limit: int = 25) -> CaseSearch:
    """The cases the user may open that match `query`, newest first, at most `limit`.

    "#123", "123" or "case 123" is the case number: a primary-key lookup. Anything
    else is the customer's name or email address: a whole address is matched exactly
    (emails are stored lower-cased, so the unique index serves it), a part of a name
    or address by substring. Customer details are matched only among
    `cases_visible_to(user)`, the cases whose contact details the user sees on the case
    page (design §6: a manager or lead their teams' customers, a CX admin everyone's),
    so a search never reveals a customer of a case the user may not open. Open and
    closed cases alike: someone calling back about a closed case must be found too.
    """
    query = " ".join(query.split())[:SEARCH_MAX_LENGTH]
    visible = cases_visible_to(user)
    number = CASE_NUMBER.fullmatch(query)
    if number:
        search = CaseSearch(query=query, by="number", limit=limit)
        pk = int(number.group(1))
        if pk > BIGINT_MAX:  # beyond any id; PostgreSQL would refuse to compare
            return search
        matches = visible.filter(pk=pk)
    else:
        search = CaseSearch(query=query, by="customer", limit=limit)
        if not query:
            return search
        if WHOLE_EMAIL.fullmatch(query):
            matches = visible.filter(response__person__email=query.lower())
        else:
            matches = visible.filter(
                Q(response__person__name__icontains=query)
                | Q(response__person__email__icontains=query)
            )
    case_url = _case_url_prefix()
    statuses = dict(FollowUpCase.Status.choices)
    search.rows = [
        CaseSearchRow(
            **_queue_row_fields(r, case_url),
            status=r["status"],
            status_label=statuses.get(r["status"], r["status"]),
            closed_at=r["closed_at"],
            customer_name=r["response__person__name"] or "",
            customer_email=r["response__person__email"] or "",
        )
        for r in matches.order_by("-created_at", "-pk").values(*SEARCH_FIELDS)[:limit]
    ]
    return search


# services.SCORE_CHANGED at the start of a message (a reopening's says so first): never
# inside a quote of the customer's comment or a manager's note.
_SCORE_CHANGED = re.compile(
    r"(?:The customer answered again after the case was closed\. )?"
    r"Score changed from (\d+) to \d+\."
)
_SCORE_CHANGE_KINDS = (CaseEvent.Kind.RESCORED, CaseEvent.Kind.REOPENED, CaseEvent.Kind.CLOSED)


def case_timeline(case: FollowUpCase) -> list[CaseEvent]:
    """The case's events, starting with its opening (read from the case row itself:
    the score it opened with is the response's, unless the customer changed it since,
    in which case the first change says what it was: services.SCORE_CHANGED)."""
    events = list(CaseEvent.objects.filter(case=case).select_related("actor").order_by("at", "pk"))
    score = case.response.score
    for event in events:
        found = event.kind in _SCORE_CHANGE_KINDS and _SCORE_CHANGED.match(event.message)
        if found:
            score = int(found.group(1))
            break
    opened = CaseEvent(
        case=case,
        kind=CaseEvent.Kind.OPENED,
        at=case.created_at,
        message=f"Score {score} at {case.response.touchpoint.name}.",
    )
    return [opened, *events]


def customer_history(case: FollowUpCase):
    """The customer's other responses, newest first (the 'history with the company')."""
    from surveys.models import Response

    person_id = case.response.person_id
    if person_id is None:
        return Response.objects.none()
    return (
        Response.objects.filter(person_id=person_id)
        .exclude(pk=case.response_id)
        .select_related("touchpoint", "case")
        .order_by("-created_at")[:20]
    )


def root_causes_for(touchpoint):
    return RootCause.objects.filter(active=True).filter(
        Q(touchpoint__isnull=True) | Q(touchpoint=touchpoint)
    )


# --- the organisation's view: loop health, Pareto, actions -----------------------------


@dataclass
class LoopHealth:
    cases: int
    due_or_contacted: int
    contacted_in_time: int
    median_hours_to_contact: float | None
    open: int
    overdue: int
    resolved: int
    recovered: int

    @property
    def contacted_in_time_percent(self) -> float | None:
        if not self.due_or_contacted:
            return None
        return round(100 * self.contacted_in_time / self.due_or_contacted, 1)

    @property
    def recovery_percent(self) -> float | None:
        if not self.resolved:
            return None
        return round(100 * self.recovered / self.resolved, 1)


def loop_health(
    *, period: Period, touchpoint_id: int | None = None, team_id: int | None = None, now=None
) -> LoopHealth:
    """Closed-loop health of the cases opened in the period.

    - contacted in time: cases reached (first_contact_at) by their deadline, out of
      the cases that were either reached or are past their deadline (a case still
      within its deadline and not yet reached counts neither way);
    - median time to first contact, in hours, over reached cases;
    - open and overdue: all open cases now (not only the period's);
    - recovery: resolved cases whose customer later scored 9–10, out of resolved cases.
    """
    now = now or timezone.now()
    start, end = period.bounds()
    scope = FollowUpCase.objects.all()
    if touchpoint_id is not None:
        scope = scope.filter(touchpoint_id=touchpoint_id)
    if team_id is not None:
        scope = scope.filter(team_id=team_id)
    in_period = scope.filter(created_at__gte=start, created_at__lt=end)
    # Counting a column the period index carries (not the primary key) keeps these
    # aggregates index-only on PostgreSQL.
    n = "created_at"
    counts = in_period.aggregate(
        cases=Count(n),
        due_or_contacted=Count(n, filter=Q(first_contact_at__isnull=False) | Q(due_at__lt=now)),
        contacted_in_time=Count(n, filter=Q(reached_in_time=True)),
        resolved=Count(n, filter=Q(outcome=FollowUpCase.Outcome.RESOLVED)),
        recovered=Count(
            n, filter=Q(outcome=FollowUpCase.Outcome.RESOLVED, recovered_at__isnull=False)
        ),
    )
    live = scope.open().aggregate(
        open=Count("due_at"), overdue=Count("due_at", filter=Q(due_at__lt=now))
    )
    return LoopHealth(
        median_hours_to_contact=_median_hours_to_contact(
            in_period.filter(first_contact_at__isnull=False)
        ),
        **counts,
        **live,
    )


class _MedianSeconds(Aggregate):
    """PostgreSQL's exact median of the seconds from opening to first contact."""

    template = "percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM %(expressions)s))"
    output_field = FloatField()


def _median_hours_to_contact(contacted) -> float | None:
    if connection.vendor == "postgresql":
        seconds = contacted.aggregate(m=_MedianSeconds(F("first_contact_at") - F("created_at")))[
            "m"
        ]
        return None if seconds is None else round(seconds / 3600, 1)
    waits = [
        (contact - created).total_seconds() / 3600
        for created, contact in contacted.values_list("created_at", "first_contact_at")
    ]
    return round(statistics.median(waits), 1) if waits else None


def root_cause_pareto(*, period: Period, touchpoint_id: int | None = None) -> list[dict]:
    """Root causes by the number of detractor cases they drove, with the cumulative share."""
    start, end = period.bounds()
    case_filter = Q(cases__created_at__gte=start, cases__created_at__lt=end)
    if touchpoint_id is not None:
        case_filter &= Q(cases__touchpoint_id=touchpoint_id)
    rows = list(
        RootCause.objects.annotate(n=Count("cases", filter=case_filter))
        .filter(n__gt=0)
        .order_by("-n", "name")
        .values("pk", "name", "active", "n")
    )
    total = sum(r["n"] for r in rows)
    running = 0
    for r in rows:
        running += r["n"]
        r["percent"] = round(100 * r["n"] / total, 1)
        r["cumulative"] = round(100 * running / total, 1)
    return rows


def published_actions(*, touchpoint_id: int | None = None, limit: int = 6):
    qs = (
        ImprovementAction.objects.filter(published_at__isnull=False)
        .select_related("owner_team", "touchpoint")
        .prefetch_related("root_causes")
    )
    if touchpoint_id is not None:
        qs = qs.filter(touchpoint_id=touchpoint_id)
    return qs.order_by("-published_at")[:limit]


def actions_for_user(user):
    """Every action for CX admins; leads see all too, and edit their teams' ones."""
    return ImprovementAction.objects.select_related("owner_team", "touchpoint").prefetch_related(
        "root_causes"
    )


def can_edit_actions(user) -> bool:
    return roles.is_cx_admin(user) or bool(roles.team_ids_with_role(user, Membership.Role.LEAD))


def action_teams_for_user(user):
    """The teams whose improvement actions the user may create and edit: every team for
    CX admins, their own teams for leads (action_edit, and the links that lead there)."""
    if roles.is_cx_admin(user):
        return Team.objects.all()
    return Team.objects.filter(pk__in=roles.team_ids_with_role(user, Membership.Role.LEAD))


def can_create_action_for(user, team_id: int | None) -> bool:
    """Whether action_edit lets the user create an action owned by this team (None, for
    a touchpoint that no team owns: by any team the user may choose)."""
    if not can_edit_actions(user):
        return False
    return team_id is None or action_teams_for_user(user).filter(pk=team_id).exists()


OPEN_ACTION_STATUSES = (ImprovementAction.Status.PLANNED, ImprovementAction.Status.IN_PROGRESS)


@dataclass
class ActionLink:
    title: str
    status_label: str
    url: str


def pareto_with_actions(rows: list[dict], *, user, touchpoint) -> list[dict]:
    """The touchpoint page's Pareto rows (shared by every viewer) with what this viewer
    may do about each root cause:

    - `open_action`: the newest planned or in-progress action that addresses the root
      cause at this touchpoint (or at every touchpoint), when the viewer may read it
      (drafts: those who edit actions) — so nobody plans the same action twice;
    - `plan_url`: otherwise, for those action_edit lets create an action for the
      touchpoint's owner team, the new-action form with the root cause, the touchpoint
      and the team chosen.

    One query, whatever the number of rows (none when there are no rows)."""
    ids = [r["pk"] for r in rows if r.get("pk")]  # a cached row of an older shape has none
    if not ids:
        return [dict(r) for r in rows]
    editor = can_edit_actions(user)
    team_id = touchpoint.owner_team_id
    may_plan = can_create_action_for(user, team_id)
    editable = set(action_teams_for_user(user).values_list("pk", flat=True)) if editor else set()
    links = ImprovementAction.root_causes.through.objects.filter(
        rootcause_id__in=ids, improvementaction__status__in=OPEN_ACTION_STATUSES
    ).filter(
        Q(improvementaction__touchpoint=touchpoint) | Q(improvementaction__touchpoint__isnull=True)
    )
    if not editor:
        links = links.filter(improvementaction__published_at__isnull=False)
    open_actions: dict[int, ActionLink] = {}
    statuses = dict(ImprovementAction.Status.choices)
    actions_url = reverse("feedback:actions")
    for link in links.order_by("-improvementaction__created_at").values(
        "rootcause_id",
        "improvementaction_id",
        "improvementaction__title",
        "improvementaction__status",
        "improvementaction__owner_team_id",
    ):
        if link["rootcause_id"] in open_actions:
            continue
        pk = link["improvementaction_id"]
        url = (
            reverse("feedback:action-edit", args=[pk])
            if link["improvementaction__owner_team_id"] in editable
            else f"{actions_url}#action-{pk}"
        )
        open_actions[link["rootcause_id"]] = ActionLink(
            title=link["improvementaction__title"],
            status_label=statuses.get(link["improvementaction__status"], ""),
            url=url,
        )
    new_action_url = reverse("feedback:action-create")
    result = []
    for r in rows:
        row = dict(r)
        row["open_action"] = open_actions.get(r.get("pk"))
        if may_plan and row["open_action"] is None and r.get("pk") and r.get("active", True):
            query = {"root_cause": r["pk"], "touchpoint": touchpoint.pk}
            if team_id is not None:
                query["team"] = team_id
            row["plan_url"] = f"{new_action_url}?{urlencode(query)}"
        result.append(row)
    return result
