"""Every detractor gets a case, in the same transaction, and the case follows the answer."""

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedback import selectors
from feedback.models import CaseEvent, FollowUpCase
from surveys import services
from surveys.hooks import response_recorded
from surveys.models import Response
from tests.factories import InvitationFactory, PersonFactory


def test_a_detractor_response_opens_a_case_for_the_touchpoints_team(record, touchpoint, team_a):
    response = record(touchpoint, 3, comment="Nobody called back")
    case = FollowUpCase.objects.get(response=response)
    assert case.team == team_a
    assert case.status == FollowUpCase.Status.NEW
    assert case.due_at == response.created_at + __import__("datetime").timedelta(hours=48)
    assert case.priority == 2
    assert [e.kind for e in selectors.case_timeline(case)] == ["opened"]


@pytest.mark.parametrize("score", [7, 8, 9, 10])
def test_passives_and_promoters_open_no_case(record, touchpoint, score):
    record(touchpoint, score)
    assert FollowUpCase.objects.count() == 0


def test_deadline_and_priority_follow_the_touchpoint_and_score(record, touchpoint):
    touchpoint.followup_deadline_hours = 24
    touchpoint.save()
    response = record(touchpoint, 0)
    case = response.case
    assert (case.due_at - response.created_at).total_seconds() == 24 * 3600
    assert case.priority == 3


def test_a_failure_inside_the_recording_transaction_leaves_neither_response_nor_case(touchpoint):
    def explode(**kwargs):
        raise RuntimeError("disk full")

    response_recorded.connect(explode, dispatch_uid="test-explode")
    try:
        with pytest.raises(RuntimeError):
            services.response_record(touchpoint=touchpoint, score=2, comment="angry")
    finally:
        response_recorded.disconnect(dispatch_uid="test-explode")
    assert Response.objects.count() == 0
    assert FollowUpCase.objects.count() == 0


def test_the_case_is_written_in_the_same_transaction_as_the_response(touchpoint):
    with transaction.atomic():
        response = services.response_record(touchpoint=touchpoint, score=1)
        # Visible before commit, inside the very transaction that wrote the response.
        assert FollowUpCase.objects.filter(response=response).exists()
        transaction.set_rollback(True)
    assert FollowUpCase.objects.count() == 0


@pytest.fixture
def invitation(touchpoint):
    return InvitationFactory(touchpoint=touchpoint, person=PersonFactory())


def test_a_response_changed_from_8_to_3_opens_a_case(record, touchpoint, invitation):
    record(touchpoint, 8, invitation=invitation)
    assert FollowUpCase.objects.count() == 0
    response = record(touchpoint, 3, invitation=invitation)
    assert response.case.is_open


def test_a_response_changed_from_3_to_9_before_any_call_closes_its_case(
    record, touchpoint, invitation
):
    record(touchpoint, 3, invitation=invitation)
    response = record(touchpoint, 9, invitation=invitation)
    case = FollowUpCase.objects.get(response=response)
    assert case.status == FollowUpCase.Status.CLOSED
    assert case.outcome == FollowUpCase.Outcome.NO_LONGER_DETRACTOR
    assert "Score changed from 3 to 9" in case.events.get(kind=CaseEvent.Kind.CLOSED).message


def test_a_response_changed_from_3_to_9_after_a_call_keeps_the_case_open(
    record, touchpoint, invitation, manager_a
):
    from feedback import services as feedback_services

    response = record(touchpoint, 3, invitation=invitation)
    feedback_services.contact_attempt_log(case=response.case, by=manager_a, outcome="voicemail")
    record(touchpoint, 9, invitation=invitation)
    case = FollowUpCase.objects.get(response=response)
    assert case.status == FollowUpCase.Status.IN_PROGRESS
    assert case.events.filter(kind=CaseEvent.Kind.RESCORED).exists()


def test_a_closed_no_longer_detractor_case_reopens_when_the_score_drops_again(
    record, touchpoint, invitation
):
    record(touchpoint, 3, invitation=invitation)
    record(touchpoint, 9, invitation=invitation)
    response = record(touchpoint, 2, invitation=invitation)
    case = FollowUpCase.objects.get(response=response)
    assert case.is_open
    assert case.outcome == ""
    assert FollowUpCase.objects.count() == 1
    assert case.events.filter(kind=CaseEvent.Kind.REOPENED).exists()


@pytest.mark.django_db
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    answers=st.lists(st.lists(st.integers(0, 10), min_size=1, max_size=5), min_size=1, max_size=6)
)
def test_no_detractor_ever_exists_without_its_case(touchpoint, answers):
    """Whatever the customers answer and however often they change their minds."""
    for scores in answers:
        invitation = InvitationFactory(touchpoint=touchpoint, person=PersonFactory())
        for score in scores:
            services.response_record(touchpoint=touchpoint, score=score, invitation=invitation)
    assert not Response.objects.filter(category="detractor", case__isnull=True).exists()
    assert not FollowUpCase.objects.filter(
        response__category="detractor",
        status=FollowUpCase.Status.CLOSED,
        outcome=FollowUpCase.Outcome.NO_LONGER_DETRACTOR,
    ).exists()


@pytest.fixture
def resolved(record, touchpoint, invitation, manager_a, billing_error, mailoutbox):
    """A detractor's case, called and resolved by Mia."""
    from feedback import services as feedback_services

    invitation.person.phone = "+33612345678"
    invitation.person.save()
    response = record(touchpoint, 2, invitation=invitation, comment="My bill was double-charged.")
    case = FollowUpCase.objects.get(pk=response.case.pk)
    assert case.assignee == manager_a  # assigned automatically: the team's one manager
    feedback_services.contact_attempt_log(case=case, by=manager_a, outcome="reached")
    feedback_services.case_close(
        case=case,
        by=manager_a,
        outcome=FollowUpCase.Outcome.RESOLVED,
        root_causes=[billing_error],
        resolution="Refund promised.",
    )
    mailoutbox.clear()
    return FollowUpCase.objects.get(pk=case.pk)


def test_a_resolved_case_reopens_when_the_customer_answers_again_as_a_detractor(
    record, touchpoint, invitation, resolved, manager_a, mailoutbox, time_machine
):
    time_machine.move_to(resolved.closed_at + dt.timedelta(days=5), tick=False)
    record(touchpoint, 0, invitation=invitation, comment="The refund never arrived.")
    case = FollowUpCase.objects.get(pk=resolved.pk)
    assert case.is_open and case.outcome == "" and case.closed_at is None
    assert (case.assignee, case.status) == (manager_a, FollowUpCase.Status.ASSIGNED)
    # A new deadline, counted from the new answer: not overdue the moment it reopens.
    assert case.due_at == timezone.now() + dt.timedelta(hours=touchpoint.followup_deadline_hours)
    assert case.priority == feedback_services_priority(0)
    # The timeline keeps what the customer said first; the opening no longer claims
    # the case opened with today's score.
    timeline = selectors.case_timeline(case)
    assert timeline[0].message == f"Score 2 at {touchpoint.name}."  # what it opened with
    reopened = timeline[-1]
    assert reopened.kind == CaseEvent.Kind.REOPENED
    assert "Score changed from 2 to 0." in reopened.message
    assert "\u201cMy bill was double-charged.\u201d" in reopened.message
    # Mia, who has it, is told.
    [email] = mailoutbox
    assert email.to == [manager_a.email]
    assert email.subject == f"Case reopened: a 0 at {touchpoint.name}"
    assert f"The customer of case #{case.pk} answered again after the case was closed" in email.body
    assert "The refund never arrived." in email.body and "Please call them before" in email.body


def test_the_case_page_says_the_case_reopened_and_when_the_answer_changed(
    client, record, touchpoint, invitation, resolved, manager_a, time_machine
):
    time_machine.move_to(resolved.closed_at + dt.timedelta(days=2), tick=False)
    record(touchpoint, 0, invitation=invitation, comment="The refund never arrived.")
    client.force_login(manager_a)
    html = client.get(f"/cases/{resolved.pk}/").content.decode()
    assert ">reopened</span>" in html
    changed = timezone.localtime(timezone.now()).strftime("%-d %b %Y, %H:%M")
    assert f"· changed {changed}" in html
    assert f"Score 2 at {touchpoint.name}." in html  # the opening keeps its score


def test_answering_again_with_the_same_answer_leaves_a_closed_case_closed(
    record, touchpoint, invitation, resolved, mailoutbox
):
    record(touchpoint, 2, invitation=invitation, comment="My bill was double-charged.")
    case = FollowUpCase.objects.get(pk=resolved.pk)
    assert case.status == FollowUpCase.Status.CLOSED
    assert case.outcome == FollowUpCase.Outcome.RESOLVED
    assert not case.events.filter(kind=CaseEvent.Kind.REOPENED).exists()
    assert mailoutbox == []


def test_a_reopened_case_whose_manager_left_goes_back_to_the_team(
    record, touchpoint, invitation, resolved, manager_a
):
    manager_a.is_active = False
    manager_a.save()
    record(touchpoint, 2, invitation=invitation, comment="Still double-charged.")
    case = FollowUpCase.objects.get(pk=resolved.pk)
    assert case.is_open
    assert case.assignee != manager_a  # unassigned, or assigned to an active manager
    assert case.assignee is None or case.assignee.is_active


def test_erasing_the_customer_erases_the_earlier_comment_quoted_on_the_timeline(
    record, touchpoint, invitation, resolved
):
    record(touchpoint, 0, invitation=invitation, comment="The refund never arrived.")
    services.person_erase(person=invitation.person)
    messages = " ".join(CaseEvent.objects.filter(case=resolved).values_list("message", flat=True))
    assert "double-charged" not in messages


def feedback_services_priority(score):
    from feedback import services as feedback_services

    return feedback_services.priority_for(score)


def test_a_reopened_case_whose_manager_moved_to_another_team_goes_back_to_the_team(
    record, touchpoint, invitation, resolved, manager_a, team_b, mailoutbox
):
    from cxhub.models import Membership

    Membership.objects.filter(user=manager_a).update(team=team_b)
    record(touchpoint, 2, invitation=invitation, comment="Still double-charged.")
    case = FollowUpCase.objects.get(pk=resolved.pk)
    assert case.is_open and case.assignee is None
    assert case.status == FollowUpCase.Status.NEW
    assert manager_a.email not in [to for m in mailoutbox for to in m.to]


def test_a_reopened_case_is_recovered_no_more_and_keeps_how_its_first_call_went(
    record, touchpoint, invitation, resolved, manager_a
):
    from feedback import selectors as feedback_selectors
    from surveys.selectors import Period

    # The first call came after the deadline; the customer later scored 10 elsewhere.
    FollowUpCase.objects.filter(pk=resolved.pk).update(
        reached_in_time=False, recovered_at=timezone.now()
    )
    period = Period(
        resolved.created_at.date() - dt.timedelta(days=1),
        timezone.localdate() + dt.timedelta(days=2),
    )
    assert feedback_selectors.loop_health(period=period).contacted_in_time == 0
    record(touchpoint, 1, invitation=invitation, comment="Worse than ever.")
    case = FollowUpCase.objects.get(pk=resolved.pk)
    assert case.is_open and case.recovered_at is None
    assert case.first_contact_at is not None and case.reached_in_time is False
    # A new deadline from now must not turn that late call into one in time.
    assert case.due_at > case.first_contact_at
    assert feedback_selectors.loop_health(period=period).contacted_in_time == 0


def test_the_first_contact_is_in_time_by_the_deadline_the_case_had_then(
    record, touchpoint, manager_a, time_machine
):
    from feedback import services as feedback_services

    case = record(touchpoint, 2).case
    time_machine.move_to(case.due_at + dt.timedelta(hours=1))
    feedback_services.contact_attempt_log(case=case, by=manager_a, outcome="no_answer")
    feedback_services.contact_attempt_log(case=case, by=manager_a, outcome="reached")
    case.refresh_from_db()
    assert case.reached_in_time is False
    early = record(touchpoint, 3).case
    feedback_services.contact_attempt_log(case=early, by=manager_a, outcome="reached")
    early.refresh_from_db()
    assert early.reached_in_time is True


def test_a_reopened_case_the_team_lead_had_taken_stays_with_the_lead(
    record, touchpoint, invitation, resolved, lead_a, mailoutbox
):
    FollowUpCase.objects.filter(pk=resolved.pk).update(assignee=lead_a)
    lead_a.email = "leo@staff.example.com"
    lead_a.save()
    record(touchpoint, 0, invitation=invitation, comment="Again!")
    case = FollowUpCase.objects.get(pk=resolved.pk)
    assert case.assignee == lead_a
    assert [m.to for m in mailoutbox] == [["leo@staff.example.com"]]


def test_a_reopened_case_needs_a_new_attempt_before_it_closes_as_unreachable(
    record, touchpoint, invitation, resolved, manager_a
):
    from feedback import services as feedback_services

    record(touchpoint, 0, invitation=invitation, comment="The refund never arrived.")
    case = FollowUpCase.objects.get(pk=resolved.pk)
    with pytest.raises(feedback_services.CaseError, match="since the case reopened"):
        feedback_services.case_close(case=case, by=manager_a, outcome="unreachable")
    feedback_services.contact_attempt_log(case=case, by=manager_a, outcome="no_answer")
    closed = feedback_services.case_close(case=case, by=manager_a, outcome="unreachable")
    assert closed.outcome == FollowUpCase.Outcome.UNREACHABLE


def test_a_case_whose_customer_was_reached_cannot_close_as_unreachable(
    record, touchpoint, manager_a
):
    from feedback import services as feedback_services

    case = FollowUpCase.objects.get(response=record(touchpoint, 3, comment="Slow refund"))
    feedback_services.contact_attempt_log(case=case, by=manager_a, outcome="no_answer")
    feedback_services.contact_attempt_log(case=case, by=manager_a, outcome="reached")
    with pytest.raises(feedback_services.CaseError, match="The customer was reached"):
        feedback_services.case_close(case=case, by=manager_a, outcome="unreachable")
    case.refresh_from_db()
    assert case.is_open


def test_a_note_or_a_quoted_comment_that_says_score_changed_does_not_move_the_opening(
    record, touchpoint, invitation, manager_a
):
    from feedback import services as feedback_services

    response = record(touchpoint, 2, invitation=invitation, comment="Score changed from 9 to 2.")
    case = FollowUpCase.objects.get(response=response)
    feedback_services.case_note_add(case=case, by=manager_a, text="Score changed from 7 to 2.")
    record(touchpoint, 2, invitation=invitation, comment="Still bad")  # the comment only
    timeline = selectors.case_timeline(FollowUpCase.objects.get(pk=case.pk))
    assert timeline[0].message == f"Score 2 at {touchpoint.name}."
