"""Writes for the follow-up loop. Each service is one transaction; emails go after commit."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Count, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from cxhub import fastinsert, leases, roles
from cxhub.models import Membership, Team
from cxhub.queue import enqueue_debounced_on_commit, enqueue_on_commit, publish
from feedback.hooks import case_closed, case_escalated
from feedback.models import CaseEvent, ContactAttempt, FollowUpCase, ImprovementAction, RootCause
from surveys import nps
from surveys.models import Invitation, Response, Touchpoint

logger = logging.getLogger(__name__)
User = get_user_model()

DEFAULT_DEADLINE_HOURS = 48
ASSIGN_DEBOUNCE_SECONDS = 1


class CaseError(Exception):
    """An action the case's state does not allow; the message says why."""


def _event(case, kind, message="", actor=None, at=None) -> CaseEvent:
    return CaseEvent.objects.create(
        case=case, kind=kind, message=message, actor=actor, at=at or timezone.now()
    )


def _name(user) -> str:
    return user.get_full_name() or user.username


def priority_for(score: int) -> int:
    """0–2 are the angriest customers: call them first."""
    if score <= 2:
        return 3
    if score <= 4:
        return 2
    return 1


# --- opening, and following the customer's answer ----------------------------------


def due_at_for(touchpoint, answered_at: dt.datetime) -> dt.datetime:
    """A case's deadline: the touchpoint's follow-up hours (48 by default) after the
    answer."""
    hours = touchpoint.followup_deadline_hours or DEFAULT_DEADLINE_HOURS
    return answered_at + dt.timedelta(hours=hours)


def case_open(*, response: Response) -> FollowUpCase:
    """Open the follow-up case of a detractor's response. Must run inside the
    transaction that records the response (see feedback.receivers)."""
    # fastinsert: the same row as FollowUpCase.objects.create(), less CPU on the
    # survey POST (a detractor's case is written inside its transaction).
    case = fastinsert.insert(_new_case(response, response.touchpoint))
    # No "opened" event row: the case row itself records the opening, and the timeline
    # shows it from there (one insert less on the survey's hot path).
    _assign_after_commit({case.team_id})
    return case


def _new_case(response: Response, touchpoint: Touchpoint) -> FollowUpCase:
    return FollowUpCase(
        response=response,
        touchpoint=touchpoint,
        team_id=touchpoint.owner_team_id,
        priority=priority_for(response.score),
        created_at=response.updated_at,
        due_at=due_at_for(touchpoint, response.updated_at),
    )


def _assign_after_commit(team_ids) -> None:
    from feedback import tasks

    # One assignment run per team per second, whatever the burst of detractors.
    for team_id in team_ids:
        if team_id is not None:
            enqueue_debounced_on_commit(
                tasks.cases_assign_team, team_id, window=ASSIGN_DEBOUNCE_SECONDS
            )


def cases_follow_new_responses(*, responses: list[Response]) -> list[FollowUpCase]:
    """case_follow_response for a batch of new responses (surveys.hooks
    .responses_recorded), inside its transaction: the detractors' cases are opened as
    case_open opens them, with one bulk insert; promoters mark their earlier cases
    recovered."""
    detractors = [r for r in responses if r.category == nps.DETRACTOR]
    touchpoints = {r.touchpoint_id: r.touchpoint for r in detractors}
    cases = fastinsert.insert_many([_new_case(r, touchpoints[r.touchpoint_id]) for r in detractors])
    _assign_after_commit({c.team_id for c in cases})
    for response in responses:
        _mark_recovered_by(response)
    return cases


IMPORTED_HISTORY = (
    "Imported history: the response was imported after its follow-up deadline had passed,"
    " so the case was closed on import (no follow-up was recorded in CX Hub)."
)


def cases_open_imported(*, responses: list[Response]) -> list[FollowUpCase]:
    """Open the cases of imported detractors with one bulk insert. Must run inside the
    transaction that inserts the responses (see feedback.receivers), like case_open.

    Each case has case_open's team, touchpoint, priority and deadline (counted from the
    answer's time). One whose deadline has already passed is history: it is opened
    closed ("imported history": outcome unreachable, the resolution and a timeline
    event say so, closed now) so that queues are not flooded with years-old cases; a
    recent one opens as new and is assigned after commit as case_open's are.
    """
    detractors = [r for r in responses if r.category == nps.DETRACTOR]
    if not detractors:
        return []
    touchpoints = Touchpoint.objects.in_bulk({r.touchpoint_id for r in detractors})
    now = timezone.now()
    cases = []
    for response in detractors:
        touchpoint = touchpoints[response.touchpoint_id]
        due_at = due_at_for(touchpoint, response.created_at)
        history = due_at <= now
        cases.append(
            FollowUpCase(
                response_id=response.pk,
                touchpoint_id=touchpoint.pk,
                team_id=touchpoint.owner_team_id,
                priority=priority_for(response.score),
                created_at=response.created_at,
                due_at=due_at,
                status=FollowUpCase.Status.CLOSED if history else FollowUpCase.Status.NEW,
                outcome=FollowUpCase.Outcome.UNREACHABLE if history else "",
                closed_at=now if history else None,
                resolution=IMPORTED_HISTORY if history else "",
            )
        )
    fastinsert.insert_many(cases)  # COPY on PostgreSQL
    fastinsert.insert_many(
        [
            CaseEvent(case_id=case.pk, kind=CaseEvent.Kind.CLOSED, message=IMPORTED_HISTORY, at=now)
            for case in cases
            if case.status == FollowUpCase.Status.CLOSED
        ]
    )
    _assign_after_commit({c.team_id for c in cases if c.status == FollowUpCase.Status.NEW})
    return cases


def case_follow_response(
    *,
    response: Response,
    created: bool,
    previous_score: int | None,
    previous_comment: str | None = None,
) -> None:
    """Keep the case in step with a response that was just recorded or changed.

    Called inside the recording transaction. Guarantees: every detractor response has
    a case when the transaction commits; a detractor who answers again with something
    new (score or comment) after their case was closed has it reopened, with a new
    deadline, and its manager is told; the timeline keeps what they said before; a
    later promoter answer from the same person marks their closed cases recovered.
    """
    # Locked: a manager logging a call (contact_attempt_log locks it too) and this
    # decision do not interleave, so a worked case is never closed behind their back.
    case = (
        None
        if created
        else FollowUpCase.objects.select_for_update().filter(response=response).first()
    )
    changed = "" if case is None else _answer_change(response, previous_score, previous_comment)
    if response.category == nps.DETRACTOR:
        if case is None:
            case_open(response=response)
        elif not case.is_open and changed:
            _case_reopen(case, response, changed)
        elif changed:
            _event(case, CaseEvent.Kind.RESCORED, changed)
    elif case is not None and case.is_open:
        _case_customer_no_longer_detractor(case, response, changed)
    _mark_recovered_by(response)


# How the timeline says a score changed; case_timeline reads the opening score back.
SCORE_CHANGED = "Score changed from {old} to {new}."


def _answer_change(response: Response, previous_score, previous_comment) -> str:
    """What the customer changed in their answer, for the timeline ("" for nothing):
    the scores, and the comment they had written before, which the response no longer
    holds (GDPR erasure blanks it there too: cases_erase_personal_notes)."""
    parts = []
    if previous_score is not None and previous_score != response.score:
        parts.append(SCORE_CHANGED.format(old=previous_score, new=response.score))
    if previous_comment is not None and previous_comment != response.comment:
        if previous_comment:
            parts.append(f"New comment; the earlier one was: \u201c{previous_comment}\u201d")
        else:
            parts.append("Comment added.")
    return " ".join(parts)


def _mark_recovered_by(response: Response) -> None:
    if response.category == nps.PROMOTER and response.person_id:
        cases_mark_recovered(person_id=response.person_id, by_response=response)


def _case_reopen(case: FollowUpCase, response: Response, changed: str) -> None:
    """A closed case whose customer answered again as a detractor: open again, with the
    deadline counted from now (not overdue at once) and escalation possible again; the
    manager who had it keeps it and is emailed (a case whose manager is no longer one
    of the team's goes back to the team's queue and its automatic assignment)."""
    from feedback import tasks

    # Still one of the team's managers or its lead (whom case_reassign may give it to),
    # not only an active account: one who moved team or left hands it back to the queue.
    assignee = (
        case.assignee if case.assignee_id and _works_team(case.assignee, case.team_id) else None
    )
    case.assignee = assignee
    case.status = FollowUpCase.Status.ASSIGNED if assignee else FollowUpCase.Status.NEW
    case.outcome = ""
    case.closed_at = None
    case.priority = priority_for(response.score)
    case.due_at = due_at_for(response.touchpoint, timezone.now())
    case.escalated_at = case.escalation_notified_at = None
    # Recovered no more: the customer is a detractor again. (first_contact_at and
    # reached_in_time stay: they tell how the first call went.)
    case.recovered_at = None
    case.assignee_to_notify = assignee is not None
    case.assignee_notify_claimed_at = None
    case.save(
        update_fields=[
            "assignee",
            "status",
            "outcome",
            "closed_at",
            "priority",
            "due_at",
            "escalated_at",
            "escalation_notified_at",
            "recovered_at",
            "assignee_to_notify",
            "assignee_notify_claimed_at",
        ]
    )
    _event(
        case,
        CaseEvent.Kind.REOPENED,
        f"The customer answered again after the case was closed. {changed}",
    )
    if assignee is not None:
        enqueue_on_commit(tasks.case_notify_assignee, case.pk, assignee.pk)
    else:
        _assign_after_commit({case.team_id})


def _works_team(user, team_id) -> bool:
    """An active manager of the team, or its lead (the people a case may be given to)."""
    return team_managers(team_id).filter(pk=user.pk).exists() or (
        user.is_active and team_id in roles.team_ids_with_role(user, Membership.Role.LEAD)
    )


def _case_customer_no_longer_detractor(case, response, message: str) -> None:
    untouched = case.status in (FollowUpCase.Status.NEW, FollowUpCase.Status.ASSIGNED)
    if untouched and not case.attempts.exists():
        case.status = FollowUpCase.Status.CLOSED
        case.outcome = FollowUpCase.Outcome.NO_LONGER_DETRACTOR
        case.closed_at = timezone.now()
        case.save(update_fields=["status", "outcome", "closed_at"])
        _event(case, CaseEvent.Kind.CLOSED, message + " Closed: no longer a detractor.")
        case_closed.send_robust(sender=FollowUpCase, case_id=case.pk)
    else:
        _event(case, CaseEvent.Kind.RESCORED, message + " The case stays open: work has started.")


def cases_mark_recovered(*, person_id: int, by_response: Response) -> int:
    """A promoter answer marks the person's earlier closed cases as recovered."""
    cases = list(
        FollowUpCase.objects.filter(
            response__person_id=person_id,
            status=FollowUpCase.Status.CLOSED,
            recovered_at__isnull=True,
            response__created_at__lt=by_response.created_at,
        ).exclude(outcome=FollowUpCase.Outcome.NO_LONGER_DETRACTOR)
    )
    now = timezone.now()
    for case in cases:
        case.recovered_at = now
        case.save(update_fields=["recovered_at"])
        _event(
            case,
            CaseEvent.Kind.RECOVERED,
            f"The customer later scored {by_response.score} at {by_response.touchpoint.name}.",
        )
    return len(cases)


# --- assignment -----------------------------------------------------------------------


def team_managers(team_id: int):
    return User.objects.filter(
        is_active=True, memberships__team_id=team_id, memberships__role=Membership.Role.MANAGER
    )


def case_assign_auto(*, case_id: int) -> FollowUpCase | None:
    """Assign an unassigned open case to the team's least-loaded manager (fewest open
    cases; ties to the one who has waited longest for a case, then by name).

    Locking the team row serialises automatic assignment within a team, so two cases
    opened at once do not both go to the same "least loaded" manager. Safe to run twice.
    """
    with transaction.atomic():
        case = (
            FollowUpCase.objects.select_for_update()
            .filter(pk=case_id, assignee__isnull=True, status=FollowUpCase.Status.NEW)
            .first()
        )
        if case is None or case.team_id is None:
            return None
        Team.objects.select_for_update().filter(pk=case.team_id).first()
        manager = (
            team_managers(case.team_id)
            .annotate(
                open_cases=Count(
                    "assigned_cases",
                    filter=~Q(assigned_cases__status=FollowUpCase.Status.CLOSED),
                )
            )
            .order_by("open_cases", "last_login", "username")
            .first()
        )
        if manager is None:
            return None
        _assign(
            case,
            manager,
            actor=None,
            kind=CaseEvent.Kind.ASSIGNED,
            note="Automatic: least-loaded manager.",
        )
    return case


def cases_assign_team(*, team_id: int, limit: int = 500) -> int:
    """Assign the team's waiting new cases, oldest first, each to the least-loaded manager."""
    ids = list(
        FollowUpCase.objects.filter(
            team_id=team_id, status=FollowUpCase.Status.NEW, assignee__isnull=True
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(1 for pk in ids if case_assign_auto(case_id=pk))


def _assign(case, user, *, actor, kind, note="") -> None:
    case.assignee = user
    case.assigned_at = timezone.now()
    # Someone else gave them the case: they are told by email (owed until sent).
    case.assignee_to_notify = actor != user
    case.assignee_notify_claimed_at = None  # the previous assignee's email, if being sent
    if case.status == FollowUpCase.Status.NEW:
        case.status = FollowUpCase.Status.ASSIGNED
    case.save(
        update_fields=[
            "assignee",
            "assigned_at",
            "assignee_to_notify",
            "assignee_notify_claimed_at",
            "status",
        ]
    )
    _event(case, kind, f"{_name(user)}. {note}".strip(), actor=actor)
    if case.assignee_to_notify:
        from feedback import tasks

        enqueue_on_commit(tasks.case_notify_assignee, case.pk, user.pk)


def case_claim(*, case_id: int, user) -> FollowUpCase:
    """A manager takes an unassigned case from the team queue.

    The row is locked with SKIP LOCKED, so two managers claiming at once never wait on
    each other and never both win; the conditional UPDATE keeps that true on
    databases without row locks too.
    """
    with transaction.atomic():
        case = FollowUpCase.objects.select_for_update(skip_locked=True).filter(pk=case_id).first()
        if case is None:
            raise CaseError("Someone else is claiming this case right now.")
        if not case.is_open:
            raise CaseError("This case is closed.")
        if case.assignee_id is not None:
            raise CaseError(f"This case is already assigned to {_name(case.assignee)}.")
        if case.team_id not in roles.managed_team_ids(user):
            raise CaseError("Only managers of the case's team can claim it.")
        won = FollowUpCase.objects.filter(pk=case.pk, assignee__isnull=True).update(
            assignee=user, assigned_at=timezone.now(), status=FollowUpCase.Status.ASSIGNED
        )
        if not won:
            raise CaseError("Someone else claimed this case first.")
        case.refresh_from_db()
        _event(case, CaseEvent.Kind.CLAIMED, f"{_name(user)} took the case.", actor=user)
    return case


_CLAIM_NEXT_SQL = """
WITH next AS (
    SELECT id FROM feedback_followupcase
    WHERE team_id = %(team)s AND status = 'new' AND assignee_id IS NULL
    ORDER BY priority DESC, due_at
    LIMIT 1
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE feedback_followupcase AS c
    SET assignee_id = %(user)s, assigned_at = %(now)s, status = 'assigned'
    FROM next WHERE c.id = next.id AND c.assignee_id IS NULL
    RETURNING c.id
)
INSERT INTO feedback_caseevent (case_id, actor_id, kind, message, at)
SELECT id, %(user)s, 'claimed', %(message)s, %(now)s FROM claimed
RETURNING case_id
"""


def case_claim_next(*, user, team_id: int | None = None) -> int | None:
    """Claim the most urgent unassigned case of the user's teams, skipping locked rows.

    On PostgreSQL this is one statement (lock with SKIP LOCKED, conditional UPDATE,
    timeline event), so twenty managers pressing "next" at once neither wait on each
    other nor ever get the same case. Elsewhere the same steps run through the ORM.
    Returns the claimed case's id, or None when nothing is waiting.
    """
    teams = roles.managed_team_ids(user)
    if team_id is not None:
        teams &= {team_id}
    if not teams:
        return None
    now = timezone.now()
    message = f"{_name(user)} took the case."
    if connection.vendor == "postgresql":
        # One team at a time: "team_id = ANY(…)" would make PostgreSQL sort every
        # waiting case instead of reading the first entry of the queue index.
        for team in sorted(teams):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    _CLAIM_NEXT_SQL, {"team": team, "user": user.pk, "now": now, "message": message}
                )
                row = cursor.fetchone()
            if row:
                return row[0]
        return None
    with transaction.atomic():
        case = (
            FollowUpCase.objects.select_for_update(skip_locked=True)
            .filter(team_id__in=teams, assignee__isnull=True, status=FollowUpCase.Status.NEW)
            .order_by("-priority", "due_at")
            .first()
        )
        if case is None:
            return None
        won = FollowUpCase.objects.filter(pk=case.pk, assignee__isnull=True).update(
            assignee=user, assigned_at=now, status=FollowUpCase.Status.ASSIGNED
        )
        if not won:
            return None
        _event(case, CaseEvent.Kind.CLAIMED, message, actor=user, at=now)
    return case.pk


def case_reassign(*, case: FollowUpCase, assignee, by) -> FollowUpCase:
    """A team lead (or CX admin) gives the case to one of the team's managers."""
    with transaction.atomic():
        case = FollowUpCase.objects.select_for_update().get(pk=case.pk)
        if not case.is_open:
            raise CaseError("A closed case cannot be reassigned.")
        if not (
            roles.is_cx_admin(by)
            or case.team_id in roles.team_ids_with_role(by, Membership.Role.LEAD)
        ):
            raise CaseError("Only the team lead or a CX admin can reassign a case.")
        if not _works_team(assignee, case.team_id):
            raise CaseError(f"{_name(assignee)} is not a manager of this team.")
        if case.assignee_id == assignee.pk:
            raise CaseError(f"The case is already assigned to {_name(assignee)}.")
        _assign(
            case,
            assignee,
            actor=by,
            kind=CaseEvent.Kind.ASSIGNED,
            note=f"Reassigned by {_name(by)}.",
        )
    return case


# --- working the case -----------------------------------------------------------------


def contact_attempt_log(
    *,
    case: FollowUpCase,
    by,
    outcome: str,
    channel: str = ContactAttempt.Channel.PHONE,
    notes: str = "",
) -> ContactAttempt:
    """Log a call (or other contact) with the customer.

    The first attempt moves the case to "in progress"; an unassigned case becomes the
    caller's. The first attempt that reaches the customer sets first_contact_at,
    which loop health measures against the deadline.
    """
    if outcome not in ContactAttempt.Outcome.values:
        raise CaseError(f"Unknown outcome {outcome!r}.")
    if channel not in ContactAttempt.Channel.values:
        raise CaseError(f"Unknown channel {channel!r}.")
    with transaction.atomic():
        case = FollowUpCase.objects.select_for_update().get(pk=case.pk)
        if not case.is_open:
            raise CaseError("This case is closed: no more attempts can be logged.")
        now = timezone.now()
        attempt = ContactAttempt.objects.create(
            case=case, by=by, at=now, channel=channel, outcome=outcome, notes=notes.strip()
        )
        fields = ["status"]
        if case.assignee_id is None:
            case.assignee, case.assigned_at = by, now
            fields += ["assignee", "assigned_at"]
        case.status = FollowUpCase.Status.IN_PROGRESS
        if outcome == ContactAttempt.Outcome.REACHED and case.first_contact_at is None:
            case.first_contact_at = now
            case.reached_in_time = now <= case.due_at
            fields += ["first_contact_at", "reached_in_time"]
        case.save(update_fields=fields)
        text = f"{attempt.get_channel_display()}: {attempt.get_outcome_display()}."
        _event(case, CaseEvent.Kind.ATTEMPT, f"{text} {attempt.notes}".strip(), actor=by, at=now)
    return attempt


def case_note_add(*, case: FollowUpCase, by, text: str) -> CaseEvent:
    text = (text or "").strip()
    if not text:
        raise CaseError("A note cannot be empty.")
    return _event(case, CaseEvent.Kind.NOTE, text, actor=by)


def case_close(
    *,
    case: FollowUpCase,
    by,
    outcome: str,
    root_causes: list[RootCause] | None = None,
    resolution: str = "",
) -> FollowUpCase:
    """Close the loop.

    Resolved needs at least one root cause and a resolution summary; unreachable needs
    at least one logged attempt. A resolved case schedules the touchpoint's re-survey
    (when it has one) after commit.
    """
    resolution = (resolution or "").strip()
    root_causes = list(root_causes or [])
    if outcome == FollowUpCase.Outcome.RESOLVED:
        missing = [
            what
            for what, ok in (("a root cause", root_causes), ("a resolution summary", resolution))
            if not ok
        ]
        if missing:
            raise CaseError(f"To resolve the case, give {' and '.join(missing)}.")
    elif outcome != FollowUpCase.Outcome.UNREACHABLE:
        raise CaseError("Close a case as resolved or unreachable.")
    with transaction.atomic():
        case = (
            # The case's row only (of=self): locking the response too, in the opposite
            # order to a customer's re-answer (response, then case), deadlocked them.
            FollowUpCase.objects.select_for_update(of=("self",))
            .select_related("response__touchpoint")
            .get(pk=case.pk)
        )
        if not case.is_open:
            raise CaseError("This case is already closed.")
        if outcome == FollowUpCase.Outcome.UNREACHABLE:
            # A customer who answered again after the case closed is to be tried again.
            reopened_at = (
                case.events.filter(kind=CaseEvent.Kind.REOPENED)
                .order_by("-at")
                .values_list("at", flat=True)
                .first()
            )
            attempts = case.attempts.all()
            if reopened_at is not None:
                attempts = attempts.filter(at__gte=reopened_at)
            if not attempts.exists():
                since = " since the case reopened" if reopened_at else ""
                raise CaseError(
                    f"Log at least one contact attempt{since} before closing as unreachable."
                )
            if attempts.filter(outcome=ContactAttempt.Outcome.REACHED).exists():
                raise CaseError(
                    "The customer was reached: close the case as resolved, with what was "
                    "done and its root cause."
                )
        _root_causes_check(root_causes, touchpoint=case.response.touchpoint)
        case.status = FollowUpCase.Status.CLOSED
        case.outcome = outcome
        case.closed_at = timezone.now()
        case.resolution = resolution
        case.save(update_fields=["status", "outcome", "closed_at", "resolution"])
        if root_causes:
            case.root_causes.set(root_causes)
        causes = ", ".join(rc.name for rc in root_causes)
        message = f"{case.get_outcome_display()}." + (f" Root cause: {causes}." if causes else "")
        _event(case, CaseEvent.Kind.CLOSED, f"{message} {resolution}".strip(), actor=by)
        if outcome == FollowUpCase.Outcome.RESOLVED:
            _resurvey_schedule(case)
        case_closed.send_robust(sender=FollowUpCase, case_id=case.pk)
    return case


def _root_causes_check(root_causes: list[RootCause], *, touchpoint: Touchpoint) -> None:
    """Only the root causes the close form offers for this touchpoint (active, shared
    or the touchpoint's own) may be given: another touchpoint's would skew its Pareto."""
    misfits = [
        rc.name
        for rc in root_causes
        if not rc.active or rc.touchpoint_id not in (None, touchpoint.pk)
    ]
    if misfits:
        raise CaseError(f"Not a root cause of {touchpoint.name}: {', '.join(misfits)}.")


def _resurvey_schedule(case: FollowUpCase) -> None:
    from surveys import services as survey_services

    touchpoint = case.response.touchpoint
    person = case.response.person
    if not touchpoint.resurvey_after_days or person is None:
        return
    try:
        invitation = survey_services.invitation_create(
            person=person,
            touchpoint=touchpoint,
            channel=case.response.channel
            if case.response.channel != Invitation.Channel.WEB
            else Invitation.Channel.EMAIL,
            scheduled_for=timezone.now() + dt.timedelta(days=touchpoint.resurvey_after_days),
            properties={"resurvey_of_case": case.pk},
            ignore_quiet_period=True,
        )
    except survey_services.SurveyError:  # the customer was erased while the case closed
        _event(case, CaseEvent.Kind.RESURVEY, "Not re-surveyed: the customer was erased.")
        return
    case.resurvey_invitation = invitation
    case.save(update_fields=["resurvey_invitation"])
    if invitation.skip_reason:
        _event(
            case,
            CaseEvent.Kind.RESURVEY,
            f"Not re-surveyed: {invitation.get_skip_reason_display()}.",
        )
    else:
        _event(
            case,
            CaseEvent.Kind.RESURVEY,
            f"Re-survey on {timezone.localdate(invitation.scheduled_for):%d %b %Y}.",
        )


# --- deadlines --------------------------------------------------------------------------


def cases_escalate_overdue(*, now: dt.datetime | None = None) -> int:
    """Escalate every open case past its deadline to its team lead, once per case.

    The conditional UPDATE on escalated_at is the claim: a second run, or a second
    beat, finds nothing to escalate.
    """
    from feedback import tasks

    now = now or timezone.now()
    escalated = 0
    ids = list(
        FollowUpCase.objects.open()
        .filter(due_at__lt=now, escalated_at__isnull=True)
        .values_list("pk", flat=True)[:1000]
    )
    for case_id in ids:
        with transaction.atomic():
            if not FollowUpCase.objects.filter(pk=case_id, escalated_at__isnull=True).update(
                escalated_at=now
            ):
                continue
            case = FollowUpCase.objects.select_related("team__lead").get(pk=case_id)
            lead = case.team.lead if case.team else None
            _event(
                case,
                CaseEvent.Kind.ESCALATED,
                f"Past its deadline; escalated to {_name(lead) if lead else 'CX admins (the team has no lead)'}.",
                at=now,
            )
            enqueue_on_commit(tasks.case_notify_escalation, case_id)
            case_escalated.send_robust(sender=FollowUpCase, case_id=case_id)
            escalated += 1
    return escalated


# --- notifications (run by tasks, after commit) -------------------------------------------


def _case_url(case) -> str:
    return settings.SITE_URL + reverse("feedback:case-detail", args=[case.pk])


def case_notify_assignee(*, case_id: int, user_id: int) -> bool:
    """Email the assignee their new case, once (cxhub.leases: leased before sending, so
    a task delivered twice sends once; offered again by the sweeper if the worker died
    mid-send). Nothing is sent once the case went to someone else. Returns whether an
    email was sent."""
    lease = "assignee_notify_claimed_at"
    owed = FollowUpCase.objects.filter(pk=case_id, assignee_id=user_id, assignee_to_notify=True)
    if not leases.claim(owed, lease):
        return False
    case = FollowUpCase.objects.for_case_page().get(pk=case_id)
    user = User.objects.filter(pk=user_id).first()
    row = FollowUpCase.objects.filter(pk=case_id, assignee_id=user_id)
    if user is None or not user.email:
        row.update(assignee_to_notify=False, **{lease: None})
        return False
    # Reopened (the customer answered again) since it was last given to them?
    last_handover = (
        case.events.filter(
            kind__in=[CaseEvent.Kind.ASSIGNED, CaseEvent.Kind.CLAIMED, CaseEvent.Kind.REOPENED]
        )
        .order_by("-at", "-pk")
        .values_list("kind", flat=True)
        .first()
    )
    reopened = last_handover == CaseEvent.Kind.REOPENED
    context = {"case": case, "user": user, "url": _case_url(case), "reopened": reopened}
    what = "Case reopened" if reopened else "New case for you"
    leases.finish(
        row,
        lease,
        lambda: send_mail(
            subject=f"{what}: a {case.response.score} at {case.response.touchpoint.name}",
            message=render_to_string("feedback/email/assigned.txt", context),
            from_email=None,
            recipient_list=[user.email],
        ),
        assignee_to_notify=False,
    )
    return True


def case_notify_escalation(*, case_id: int) -> bool:
    """Email the team lead (or, without one, the CX admins) that the case is overdue,
    once (cxhub.leases, as case_notify_assignee). Returns whether an email was sent."""
    lease = "escalation_notify_claimed_at"
    owed = FollowUpCase.objects.filter(
        pk=case_id, escalated_at__isnull=False, escalation_notified_at__isnull=True
    )
    if not leases.claim(owed, lease):
        return False
    case = FollowUpCase.objects.for_case_page().select_related("team__lead").get(pk=case_id)
    lead = case.team.lead if case.team else None
    recipients = (
        [lead.email]
        if lead and lead.email
        else list(
            User.objects.filter(groups__name=roles.CX_ADMINS, is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )
    row = FollowUpCase.objects.filter(pk=case_id)
    if not recipients:
        row.update(escalation_notified_at=timezone.now(), **{lease: None})
        return False
    leases.finish(
        row,
        lease,
        lambda: send_mail(
            subject=f"Overdue: case #{case.pk} ({case.response.touchpoint.name}) is past its deadline",
            message=render_to_string(
                "feedback/email/escalated.txt", {"case": case, "url": _case_url(case)}
            ),
            from_email=None,
            recipient_list=recipients,
        ),
        escalation_notified_at=timezone.now(),
    )
    return True


def cases_notify_sweep(*, older_than_minutes: int = 10, within_days: int = 2) -> int:
    """Re-enqueue the assignment and escalation emails still owed some minutes after
    they were due and not being sent (their task was lost: broker down; or its worker
    died mid-send and the lease ran out). Emails owed for longer than `within_days` are
    given up. Returns how many were enqueued."""
    from feedback import tasks

    now = timezone.now()
    due_before, since = (
        now - dt.timedelta(minutes=older_than_minutes),
        now - dt.timedelta(days=within_days),
    )
    assignments = (
        FollowUpCase.objects.filter(
            assignee_to_notify=True, assigned_at__lt=due_before, assigned_at__gte=since
        )
        .filter(leases.free("assignee_notify_claimed_at", now))
        .values_list("pk", "assignee_id")[:500]
    )
    escalations = (
        FollowUpCase.objects.filter(
            escalated_at__isnull=False,
            escalation_notified_at__isnull=True,
            escalated_at__lt=due_before,
            escalated_at__gte=since,
        )
        .filter(leases.free("escalation_notify_claimed_at", now))
        .values_list("pk", flat=True)[:500]
    )
    sent = sum(1 for pk, user_id in assignments if publish(tasks.case_notify_assignee, pk, user_id))
    return sent + sum(1 for pk in escalations if publish(tasks.case_notify_escalation, pk))


# --- root causes and improvement actions ---------------------------------------------------


def improvement_action_save(
    *,
    by,
    title: str,
    summary: str,
    owner_team: Team,
    touchpoint=None,
    root_causes: list[RootCause] | None = None,
    status: str = ImprovementAction.Status.PLANNED,
    publish: bool = False,
    action: ImprovementAction | None = None,
) -> ImprovementAction:
    """Create or update an improvement action. CX admins, or the owner team's lead."""
    if not (
        roles.is_cx_admin(by) or owner_team.pk in roles.team_ids_with_role(by, Membership.Role.LEAD)
    ):
        raise CaseError("Only CX admins and the owner team's lead can edit its actions.")
    with transaction.atomic():
        action = action or ImprovementAction(created_by=by)
        action.title, action.summary = title.strip(), summary.strip()
        action.owner_team, action.touchpoint, action.status = owner_team, touchpoint, status
        action.set_published(publish)
        action.save()
        action.root_causes.set(root_causes or [])
    return action


def cases_assign_sweep(*, older_than_minutes: int = 5) -> int:
    """Sweeper: assign new cases whose assignment message was lost."""
    cutoff = timezone.now() - dt.timedelta(minutes=older_than_minutes)
    ids = list(
        FollowUpCase.objects.filter(
            status=FollowUpCase.Status.NEW,
            assignee__isnull=True,
            team__isnull=False,
            created_at__lt=cutoff,
        ).values_list("pk", flat=True)[:1000]
    )
    return sum(1 for pk in ids if case_assign_auto(case_id=pk))


ERASED_NOTE = "(Erased at the customer's request.)"


def cases_erase_personal_notes(*, response_ids: list[int]) -> int:
    """GDPR erasure of a customer (surveys.hooks.person_erased): the free text written
    about them on their cases — attempt notes, notes, reassignment notes and the
    resolution — is replaced, while statuses, dates, outcomes and root causes stay, so
    loop-health figures do not change. Returns the number of cases scrubbed."""
    cases = FollowUpCase.objects.filter(response_id__in=response_ids)
    ContactAttempt.objects.filter(case__in=cases).exclude(notes="").update(notes="")
    CaseEvent.objects.filter(
        case__in=cases,
        kind__in=[
            CaseEvent.Kind.ATTEMPT,
            CaseEvent.Kind.NOTE,
            CaseEvent.Kind.ASSIGNED,
            CaseEvent.Kind.CLOSED,
            # The customer's earlier comments (_answer_change).
            CaseEvent.Kind.RESCORED,
            CaseEvent.Kind.REOPENED,
        ],
    ).update(message=ERASED_NOTE)
    cases.exclude(resolution="").update(resolution=ERASED_NOTE)
    return cases.count()
