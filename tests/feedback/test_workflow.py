"""Assignment, claiming, calls, closing, escalation, re-survey and recovery."""

import datetime as dt
import threading

import pytest
from django.db import connection
from django.utils import timezone

from cxhub.models import Membership
from feedback import services
from feedback.models import CaseEvent, FollowUpCase
from surveys.models import Invitation
from tests.factories import MembershipFactory, UserFactory


def _manager(team, username):
    user = UserFactory(username=username, email=f"{username}@staff.example.com")
    MembershipFactory(user=user, team=team, role=Membership.Role.MANAGER)
    return user


def test_automatic_assignment_goes_to_the_least_loaded_manager(
    record, touchpoint, team_a, mailoutbox
):
    busy, free = _manager(team_a, "busy"), _manager(team_a, "free")
    # Two open cases end up with "busy", whoever the automatic assignment chose.
    record(touchpoint, 1)
    record(touchpoint, 1)
    FollowUpCase.objects.update(assignee=busy, status="assigned")
    new = record(touchpoint, 2).case
    new.refresh_from_db()
    assert new.assignee == free
    assert new.status == FollowUpCase.Status.ASSIGNED
    # The assignee is told by email, after commit.
    assert [m.to for m in mailoutbox][-1] == ["free@staff.example.com"]
    assert "is waiting for your call" in mailoutbox[-1].body
    assert f"/cases/{new.pk}/" in mailoutbox[-1].body


def test_automatic_assignment_spreads_a_burst_of_cases_evenly(record, touchpoint, team_a):
    managers = [_manager(team_a, f"m{i}") for i in range(3)]
    for _ in range(9):
        record(touchpoint, 4)
    loads = sorted(FollowUpCase.objects.filter(assignee=m).count() for m in managers)
    assert loads == [3, 3, 3]


def test_closed_cases_do_not_count_as_load(record, touchpoint, team_a, root_cause):
    a, b = _manager(team_a, "a"), _manager(team_a, "b")
    first = record(touchpoint, 4).case
    first.refresh_from_db()
    services.case_close(
        case=first, by=first.assignee, outcome="resolved", root_causes=[root_cause], resolution="ok"
    )
    second = record(touchpoint, 4).case
    second.refresh_from_db()
    assert {first.assignee, second.assignee} <= {a, b}
    assert services.case_assign_auto(case_id=second.pk) is None  # already assigned: no-op


def test_a_team_without_managers_leaves_the_case_in_the_queue(record, touchpoint):
    case = record(touchpoint, 4).case
    case.refresh_from_db()
    assert case.assignee is None and case.status == FollowUpCase.Status.NEW


def test_a_manager_claims_an_unassigned_case_once(record, touchpoint, manager_a, team_a):
    other = _manager(team_a, "other")
    FollowUpCase.objects.all().delete()
    case = record(touchpoint, 5).case
    FollowUpCase.objects.filter(pk=case.pk).update(assignee=None, status="new")
    claimed = services.case_claim(case_id=case.pk, user=manager_a)
    assert claimed.assignee == manager_a
    with pytest.raises(services.CaseError, match="already assigned to Mia Manager"):
        services.case_claim(case_id=case.pk, user=other)
    case.refresh_from_db()
    assert case.assignee == manager_a
    assert case.events.filter(kind=CaseEvent.Kind.CLAIMED).count() == 1


def test_a_manager_of_another_team_cannot_claim(record, touchpoint, manager_b):
    case = record(touchpoint, 5).case
    with pytest.raises(services.CaseError, match="Only managers of the case's team"):
        services.case_claim(case_id=case.pk, user=manager_b)


@pytest.mark.django_db(transaction=True)
def test_concurrent_claimers_never_hold_the_same_case(touchpoint, team_a):
    """Ten managers claim the same five cases at once, on real connections."""
    from surveys import services as survey_services

    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL; CI always runs this on PostgreSQL")
    managers = [_manager(team_a, f"claimer{i}") for i in range(10)]
    cases = []
    for _ in range(5):
        response = survey_services.response_record(touchpoint=touchpoint, score=3)
        cases.append(response.case)
    FollowUpCase.objects.update(assignee=None, status="new")
    barrier = threading.Barrier(len(managers))
    wins: list[tuple[int, int]] = []
    errors: list[str] = []

    def claimer(user):
        try:
            barrier.wait()
            for case in cases:
                try:
                    services.case_claim(case_id=case.pk, user=user)
                    wins.append((case.pk, user.pk))
                except services.CaseError as error:
                    errors.append(str(error))
            got = services.case_claim_next(user=user)
            if got is not None:
                wins.append((got, user.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=claimer, args=(m,)) for m in managers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed_cases = [case_id for case_id, _ in wins]
    assert sorted(claimed_cases) == sorted(c.pk for c in cases), "each case claimed exactly once"
    for case in cases:
        case.refresh_from_db()
        assert (case.pk, case.assignee_id) in wins
        assert case.events.filter(kind=CaseEvent.Kind.CLAIMED).count() == 1
    assert len(errors) == 10 * 5 - sum(1 for w in wins if w[0] in [c.pk for c in cases])


def test_claim_next_takes_the_most_urgent_case(record, touchpoint, manager_a):
    mild = record(touchpoint, 6).case
    angry = record(touchpoint, 0).case
    FollowUpCase.objects.update(assignee=None, status="new")
    assert services.case_claim_next(user=manager_a) == angry.pk
    assert services.case_claim_next(user=manager_a) == mild.pk
    assert services.case_claim_next(user=manager_a) is None


def test_a_lead_reassigns_to_a_manager_of_the_team(
    record, touchpoint, lead_a, manager_a, team_a, manager_b
):
    other = _manager(team_a, "other")
    case = record(touchpoint, 4).case
    case.refresh_from_db()
    target = other if case.assignee == manager_a else manager_a
    services.case_reassign(case=case, assignee=target, by=lead_a)
    case.refresh_from_db()
    assert case.assignee == target
    with pytest.raises(services.CaseError, match="not a manager of this team"):
        services.case_reassign(case=case, assignee=manager_b, by=lead_a)
    with pytest.raises(services.CaseError, match="Only the team lead"):
        services.case_reassign(case=case, assignee=manager_a, by=manager_a)


def test_logging_attempts_moves_the_case_and_sets_first_contact_on_reaching(
    record, touchpoint, manager_a, time_machine
):
    time_machine.move_to("2026-11-10 09:00 +01:00")
    case = record(touchpoint, 2).case
    time_machine.move_to("2026-11-10 11:00 +01:00")
    services.contact_attempt_log(case=case, by=manager_a, outcome="no_answer")
    case.refresh_from_db()
    assert case.status == FollowUpCase.Status.IN_PROGRESS
    assert case.first_contact_at is None
    time_machine.move_to("2026-11-10 15:30 +01:00")
    services.contact_attempt_log(case=case, by=manager_a, outcome="reached", notes="Refund agreed")
    case.refresh_from_db()
    assert case.first_contact_at == dt.datetime(2026, 11, 10, 14, 30, tzinfo=dt.UTC)
    assert case.assignee == manager_a
    assert list(case.events.filter(kind="attempt").values_list("message", flat=True)) == [
        "Phone: No answer.",
        "Phone: Reached the customer. Refund agreed",
    ]


def test_resolving_needs_a_root_cause_and_a_summary(record, touchpoint, manager_a, root_cause):
    case = record(touchpoint, 2).case
    with pytest.raises(services.CaseError, match="give a root cause and a resolution summary"):
        services.case_close(case=case, by=manager_a, outcome="resolved")
    with pytest.raises(services.CaseError, match="give a root cause"):
        services.case_close(case=case, by=manager_a, outcome="resolved", resolution="Refunded")
    case.refresh_from_db()
    assert case.is_open
    services.case_close(
        case=case, by=manager_a, outcome="resolved", root_causes=[root_cause], resolution="Refunded"
    )
    case.refresh_from_db()
    assert (case.status, case.outcome) == ("closed", "resolved")
    assert list(case.root_causes.all()) == [root_cause]


def test_invalid_transitions_are_refused_and_change_nothing(
    record, touchpoint, manager_a, root_cause
):
    case = record(touchpoint, 2).case
    with pytest.raises(services.CaseError, match="at least one contact attempt"):
        services.case_close(case=case, by=manager_a, outcome="unreachable")
    services.contact_attempt_log(case=case, by=manager_a, outcome="wrong_number")
    services.case_close(case=case, by=manager_a, outcome="unreachable")
    events_before = case.events.count()
    with pytest.raises(services.CaseError, match="closed"):
        services.contact_attempt_log(case=case, by=manager_a, outcome="reached")
    with pytest.raises(services.CaseError, match="already closed"):
        services.case_close(
            case=case, by=manager_a, outcome="resolved", root_causes=[root_cause], resolution="x"
        )
    with pytest.raises(services.CaseError, match="closed"):
        services.case_claim(case_id=case.pk, user=manager_a)
    with pytest.raises(services.CaseError, match="Unknown outcome"):
        services.contact_attempt_log(case=case, by=manager_a, outcome="shouted")
    case.refresh_from_db()
    assert case.outcome == "unreachable"
    assert case.attempts.count() == 1
    assert case.events.count() == events_before


def test_escalation_fires_once_after_the_deadline(
    record, touchpoint, lead_a, time_machine, mailoutbox
):
    lead_a.email = "leo@staff.example.com"
    lead_a.save()
    time_machine.move_to("2026-11-10 09:00 +01:00")
    case = record(touchpoint, 1).case
    mailoutbox.clear()
    time_machine.move_to("2026-11-12 08:59 +01:00")
    assert services.cases_escalate_overdue() == 0
    time_machine.move_to("2026-11-12 09:01 +01:00")
    assert services.cases_escalate_overdue() == 1
    assert services.cases_escalate_overdue() == 0
    time_machine.move_to("2026-11-13 09:00 +01:00")
    assert services.cases_escalate_overdue() == 0
    case.refresh_from_db()
    assert case.escalated_at is not None
    assert case.events.filter(kind=CaseEvent.Kind.ESCALATED).count() == 1


def test_escalation_emails_the_team_lead_after_commit(
    record, touchpoint, lead_a, time_machine, mailoutbox, django_capture_on_commit_callbacks
):
    lead_a.email = "leo@staff.example.com"
    lead_a.save()
    time_machine.move_to("2026-11-10 09:00 +01:00")
    case = record(touchpoint, 1).case
    mailoutbox.clear()
    time_machine.move_to("2026-11-13 09:00 +01:00")
    with django_capture_on_commit_callbacks(execute=True):
        services.cases_escalate_overdue()
    with django_capture_on_commit_callbacks(execute=True):
        services.cases_escalate_overdue()
    assert [m.to for m in mailoutbox] == [["leo@staff.example.com"]]
    assert f"Case #{case.pk}" in mailoutbox[0].body


def test_resolving_schedules_a_resurvey_and_a_later_promoter_answer_recovers_the_case(
    record,
    touchpoint,
    manager_a,
    root_cause,
    time_machine,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    touchpoint.resurvey_after_days = 14
    touchpoint.save()
    time_machine.move_to("2026-10-01 09:00 +02:00", tick=False)
    case = record(touchpoint, 2, email="claire@example.net").case
    with django_capture_on_commit_callbacks(execute=True):
        services.case_close(
            case=case,
            by=manager_a,
            outcome="resolved",
            root_causes=[root_cause],
            resolution="Refunded",
        )
    case.refresh_from_db()
    invitation = case.resurvey_invitation
    assert invitation.status == Invitation.Status.SCHEDULED
    assert invitation.scheduled_for == timezone.now() + dt.timedelta(days=14)
    assert case.recovered_at is None

    time_machine.move_to("2026-10-16 09:00 +02:00")
    from surveys import services as survey_services

    survey_services.invitations_send_due()
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.SENT
    record(touchpoint, 10, invitation=invitation)
    case.refresh_from_db()
    assert case.recovered_at is not None
    assert case.events.filter(kind=CaseEvent.Kind.RECOVERED).exists()


def test_resurvey_is_off_by_default(record, touchpoint, manager_a, root_cause):
    case = record(touchpoint, 2, email="claire@example.net").case
    services.case_close(
        case=case, by=manager_a, outcome="resolved", root_causes=[root_cause], resolution="x"
    )
    case.refresh_from_db()
    assert case.resurvey_invitation is None


def test_a_detractor_again_does_not_recover(record, touchpoint, manager_a, root_cause):
    case = record(touchpoint, 2, email="claire@example.net").case
    services.case_close(
        case=case, by=manager_a, outcome="resolved", root_causes=[root_cause], resolution="x"
    )
    record(touchpoint, 8, email="claire@example.net")
    case.refresh_from_db()
    assert case.recovered_at is None


def _invited_detractor(touchpoint):
    from surveys import services as survey_services
    from tests.factories import InvitationFactory

    invitation = InvitationFactory(touchpoint=touchpoint, status=Invitation.Status.SENT)
    survey_services.response_record(touchpoint=touchpoint, score=3, invitation=invitation)
    return invitation, FollowUpCase.objects.get(response__invitation=invitation)


def _rescore_paused(monkeypatch, invitation, score):
    """Start the customer's re-answer in a thread, paused just before it writes the
    case closed (it has decided: untouched, no call logged); returns (go, thread,
    errors)."""
    from surveys import services as survey_services

    deciding, go, errors = threading.Event(), threading.Event(), []
    save = FollowUpCase.save

    def paused(self, *args, **kwargs):
        if kwargs.get("update_fields") == ["status", "outcome", "closed_at"]:
            deciding.set()
            go.wait(10)
        return save(self, *args, **kwargs)

    monkeypatch.setattr(FollowUpCase, "save", paused)

    def rescore():
        try:
            survey_services.response_record(
                touchpoint=invitation.touchpoint, score=score, invitation=invitation
            )
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=rescore)
    thread.start()
    assert deciding.wait(10)
    return go, thread, errors


def _in_thread(call, errors):
    def run():
        try:
            call()
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_a_call_logged_while_the_customer_rescores_is_never_lost_by_closing_the_case(
    touchpoint, manager_a, monkeypatch
):
    """The customer re-answers 9 while a manager logs a call: the two are serialised on
    the case, so the case never ends closed as 'no longer a detractor' with a call."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL; CI always runs this on PostgreSQL")
    invitation, case = _invited_detractor(touchpoint)
    go, rescore, errors = _rescore_paused(monkeypatch, invitation, 9)
    logged = []
    call = _in_thread(
        lambda: services.contact_attempt_log(
            case=case, by=manager_a, outcome="reached", notes="Spoke, promised a refund"
        ),
        logged,
    )
    call.join(1)  # before the fix it committed here, under the re-answer's feet
    go.set()
    rescore.join(20)
    call.join(20)
    assert errors == []
    case.refresh_from_db()
    # The re-answer went first (it held the case): closed, and the call was refused
    # with a reason; never a closed case with a logged call.
    assert (case.status, case.outcome, case.attempts.count()) == (
        "closed",
        FollowUpCase.Outcome.NO_LONGER_DETRACTOR,
        0,
    )
    assert [str(e) for e in logged] == ["This case is closed: no more attempts can be logged."]


@pytest.mark.django_db(transaction=True)
def test_a_close_racing_the_customers_rescore_does_not_deadlock(touchpoint, manager_a, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL; CI always runs this on PostgreSQL")
    from feedback.models import RootCause

    invitation, case = _invited_detractor(touchpoint)
    cause = RootCause.objects.create(name="Late")
    go, rescore, errors = _rescore_paused(monkeypatch, invitation, 10)
    closed = []
    closer = _in_thread(
        lambda: services.case_close(
            case=case, by=manager_a, outcome="resolved", root_causes=[cause], resolution="Sorted"
        ),
        closed,
    )
    closer.join(1)
    go.set()
    rescore.join(20)
    closer.join(20)
    assert errors == []  # the customer's answer went through (no deadlock victim)
    assert [type(e).__name__ for e in closed] in ([], ["CaseError"])  # never a deadlock
    case.refresh_from_db()
    assert case.status == "closed"
    assert case.events.filter(kind=CaseEvent.Kind.CLOSED).count() == 1


def test_a_resurvey_for_a_customer_erased_while_the_case_closes_is_skipped_and_said(
    record, touchpoint
):
    from surveys import services as survey_services

    touchpoint.resurvey_after_days = 14
    touchpoint.save()
    record(touchpoint, 2, email="claire@example.net")
    # case_close read the case and its customer; the erasure commits before the
    # re-survey locks the person.
    case = FollowUpCase.objects.select_related("response__person", "response__touchpoint").get()
    survey_services.person_erase(person=case.response.person)
    services._resurvey_schedule(case)
    assert not Invitation.objects.exists()
    assert case.events.filter(
        kind=CaseEvent.Kind.RESURVEY, message="Not re-surveyed: the customer was erased."
    ).exists()
