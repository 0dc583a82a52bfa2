"""Demo follow-up data for `manage.py seed_demo`: a case for every demo detractor.

Bulk inserts (the demo has thousands of detractors), so this bypasses the services
on purpose; it writes the same rows the services would, in every state: closed cases
in the past (resolved with root causes, unreachable, some recovered), and open ones
this week (new, assigned, in progress, overdue, escalated).
"""

from __future__ import annotations

import datetime as dt
import random

from django.db import transaction
from django.utils import timezone

from cxhub.models import Membership
from feedback.models import CaseEvent, ContactAttempt, FollowUpCase, ImprovementAction, RootCause
from feedback.services import due_at_for, priority_for
from surveys.models import Response, Touchpoint

ROOT_CAUSES = [
    "Long wait on the phone",
    "Billing error",
    "Unresolved technical issue",
    "Unfriendly or unhelpful staff",
    "Price increase",
    "Missed appointment",
    "Poor network coverage",
    "Product defect",
]

RESOLUTIONS = [
    "Apologised, explained the charge and refunded the difference.",
    "Booked a technician for the next morning; the line works again.",
    "Escalated to the network team; coverage fix scheduled, customer informed.",
    "Credited one month and set up a direct line to the same agent.",
    "Walked the customer through the app; they can now pay online.",
]

ACTIONS = [
    (
        "Call-back within 2 hours",
        "Customers told us they waited too long on hold. Since October every "
        "support call can be turned into a call-back, promised within two hours.",
        "support-call",
        "done",
        ["Long wait on the phone"],
    ),
    (
        "Plain-language bills",
        "The new bill explains every line in plain words and shows what changed since last month.",
        "billing",
        "in_progress",
        ["Billing error", "Price increase"],
    ),
    (
        "Technician arrival window of 2 hours",
        "Instead of a whole day, customers now get a two-hour "
        "window and a text when the technician is on the way.",
        "technician-visit",
        "done",
        ["Missed appointment"],
    ),
    (
        "Three new masts in rural areas",
        "Coverage complaints pointed to three valleys; the new masts go live in December.",
        "network-coverage",
        "in_progress",
        ["Poor network coverage"],
    ),
]


def seed_cases(*, rng: random.Random, now: dt.datetime | None = None) -> int:
    """Open a case for every detractor response that has none. Idempotent."""
    now = now or timezone.now()
    causes = [
        RootCause.objects.get_or_create(name=name, touchpoint=None)[0] for name in ROOT_CAUSES
    ]
    managers: dict[int, list] = {}
    for m in Membership.objects.filter(role=Membership.Role.MANAGER).select_related("user"):
        managers.setdefault(m.team_id, []).append(m.user)
    leads = {
        m.team_id: m.user
        for m in Membership.objects.filter(role=Membership.Role.LEAD).select_related("user")
    }
    detractors = list(
        Response.objects.filter(category="detractor", case__isnull=True)
        .select_related("touchpoint")
        .order_by("created_at")
    )
    cases, plans = [], []
    for response in detractors:
        tp = response.touchpoint
        due = due_at_for(tp, response.created_at)
        case = FollowUpCase(
            response=response,
            touchpoint=tp,
            team_id=tp.owner_team_id,
            priority=priority_for(response.score),
            created_at=response.created_at,
            due_at=due,
        )
        team_managers = managers.get(tp.owner_team_id) or []
        age = now - response.created_at
        plan = {"attempts": [], "events": []}
        if team_managers and (age > dt.timedelta(days=7) or rng.random() < 0.75):
            owner = rng.choice(team_managers)
            assigned = response.created_at + dt.timedelta(minutes=rng.randrange(2, 90))
            if assigned < now:
                case.assignee, case.assigned_at, case.status = (
                    owner,
                    assigned,
                    FollowUpCase.Status.ASSIGNED,
                )
                plan["events"].append(
                    (
                        "assigned",
                        None,
                        assigned,
                        f"{owner.get_full_name()}. Automatic: least-loaded manager.",
                    )
                )
        if case.assignee and age > dt.timedelta(hours=3):
            _plan_work(case, plan, rng, now, causes, age)
        # As beat would have: every open case past its deadline is escalated (and its
        # lead told) within minutes; `make run` has no beat to do it later.
        if case.is_open and due + dt.timedelta(minutes=5) < now:
            case.escalated_at = case.escalation_notified_at = due + dt.timedelta(minutes=5)
            lead = leads.get(tp.owner_team_id)
            plan["events"].append(
                (
                    "escalated",
                    None,
                    case.escalated_at,
                    f"Past its deadline; escalated to {lead.get_full_name() if lead else 'CX admins'}.",
                )
            )
        cases.append(case)
        plans.append(plan)

    with transaction.atomic():
        FollowUpCase.objects.bulk_create(cases, batch_size=1000)
        attempts, events, links = [], [], []
        for case, plan in zip(cases, plans, strict=True):
            for at, outcome, notes in plan["attempts"]:
                attempts.append(
                    ContactAttempt(case=case, by=case.assignee, at=at, outcome=outcome, notes=notes)
                )
            for kind, actor, at, message in plan["events"]:
                events.append(
                    CaseEvent(
                        case=case,
                        kind=kind,
                        actor=actor or (case.assignee if kind in ("attempt", "closed") else None),
                        at=at,
                        message=message,
                    )
                )
            for cause in plan.get("causes", []):
                links.append(
                    FollowUpCase.root_causes.through(followupcase_id=case.pk, rootcause_id=cause.pk)
                )
        ContactAttempt.objects.bulk_create(attempts, batch_size=2000)
        CaseEvent.objects.bulk_create(events, batch_size=2000)
        FollowUpCase.root_causes.through.objects.bulk_create(links, batch_size=2000)
        _seed_actions(causes)
    return len(cases)


def _plan_work(case, plan, rng, now, causes, age) -> None:
    """Calls, and for older cases the close: mostly within the deadline, not always."""
    created = case.created_at
    first_wait = dt.timedelta(hours=rng.choice([1, 2, 4, 8, 20, 30, 44, 52, 70]))
    at = created + first_wait
    if at >= now:
        return
    reached = rng.random() < 0.8
    if not reached:
        plan["attempts"].append((at, rng.choice(["no_answer", "voicemail"]), ""))
        plan["events"].append(("attempt", None, at, "Phone: No answer."))
        at += dt.timedelta(hours=rng.randrange(3, 20))
        reached = at < now and rng.random() < 0.6
    case.status = FollowUpCase.Status.IN_PROGRESS
    if reached and at < now:
        plan["attempts"].append((at, "reached", "Listened to the customer and agreed next steps."))
        plan["events"].append(
            ("attempt", None, at, "Phone: Reached the customer. Listened and agreed next steps.")
        )
        case.first_contact_at = at
        case.reached_in_time = at <= case.due_at
    if age <= dt.timedelta(days=7):
        return
    closed = at + dt.timedelta(hours=rng.randrange(1, 48))
    if case.first_contact_at:
        chosen = rng.sample(causes[:5] if rng.random() < 0.7 else causes, rng.choice([1, 1, 2]))
        case.status, case.outcome, case.closed_at = "closed", "resolved", closed
        case.resolution = rng.choice(RESOLUTIONS)
        plan["causes"] = chosen
        plan["events"].append(
            (
                "closed",
                None,
                closed,
                f"Resolved. Root cause: {', '.join(c.name for c in chosen)}. {case.resolution}",
            )
        )
        if rng.random() < 0.3:
            case.recovered_at = closed + dt.timedelta(days=rng.randrange(14, 40))
            if case.recovered_at < now:
                plan["events"].append(
                    ("recovered", None, case.recovered_at, "The customer later scored 9.")
                )
            else:
                case.recovered_at = None
    else:
        case.status, case.outcome, case.closed_at = "closed", "unreachable", closed
        plan["events"].append(("closed", None, closed, "Unreachable."))


def _seed_actions(causes) -> None:
    if ImprovementAction.objects.exists():
        return
    by_slug = {tp.slug: tp for tp in Touchpoint.objects.select_related("owner_team")}
    now = timezone.now()
    by_name = {rc.name: rc for rc in causes}
    for i, (title, summary, slug, status, cause_names) in enumerate(ACTIONS):
        tp = by_slug.get(slug)
        if tp is None or tp.owner_team is None:
            continue
        action = ImprovementAction.objects.create(
            title=title,
            summary=summary,
            touchpoint=tp,
            owner_team=tp.owner_team,
            status=status,
            published_at=now - dt.timedelta(days=10 * (i + 1)),
        )
        # The root causes the action answers (the demo's "you said" for its "we did").
        action.root_causes.set([by_name[name] for name in cause_names])
    support = by_slug.get("support-call")
    if support and support.owner_team:
        ImprovementAction.objects.create(
            title="Weekend support hours (draft)",
            summary="Under discussion: opening the support line on Saturdays.",
            touchpoint=support,
            owner_team=support.owner_team,
        )
