"""The emails a case owes (to its new assignee, to the lead when it is overdue) are
kept on the case until sent: a task message lost with the broker is made good by the
sweeper, and a task delivered twice sends once."""

import datetime as dt

import pytest
from django.utils import timezone

from cxhub import queue
from cxhub.celery import app as celery_app
from cxhub.models import Membership
from feedback import services
from feedback.models import FollowUpCase
from tests.factories import MembershipFactory, UserFactory


@pytest.fixture
def case(record, touchpoint):
    return record(touchpoint, 2).case


@pytest.fixture
def manager(team_a):
    user = UserFactory(username="mona", email="mona@staff.example.com")
    MembershipFactory(user=user, team=team_a, role=Membership.Role.MANAGER)
    return user


def _reassign(case, manager, lead, capture):
    with capture(execute=True):
        services.case_reassign(case=case, assignee=manager, by=lead)


def test_an_assignment_email_lost_with_the_broker_is_sent_by_the_sweeper_once(
    case, manager, lead_a, mailoutbox, broker, django_capture_on_commit_callbacks, time_machine
):
    broker()  # a closed port: the broker is down
    mailoutbox.clear()
    _reassign(case, manager, lead_a, django_capture_on_commit_callbacks)  # publish fails
    assert mailoutbox == []
    case.refresh_from_db()
    assert case.assignee_to_notify is True  # still owed
    queue.reset()
    celery_app.conf.task_always_eager = True  # the broker is back (tasks run in-process)
    assert services.cases_notify_sweep() == 0  # not yet: its task may still be on its way
    time_machine.move_to(timezone.now() + dt.timedelta(minutes=11))
    assert services.cases_notify_sweep() == 1
    assert [m.to for m in mailoutbox] == [["mona@staff.example.com"]]
    assert services.cases_notify_sweep() == 0  # sent: nothing owed any more
    assert services.case_notify_assignee(case_id=case.pk, user_id=manager.pk) is False
    assert len(mailoutbox) == 1


def test_no_email_is_owed_to_someone_who_took_the_case_themselves(case, manager, mailoutbox):
    mailoutbox.clear()
    FollowUpCase.objects.filter(pk=case.pk).update(assignee=None, status="new")
    services.case_claim(case_id=case.pk, user=manager)
    case.refresh_from_db()
    assert case.assignee == manager and case.assignee_to_notify is False
    assert services.cases_notify_sweep(older_than_minutes=0) == 0
    assert mailoutbox == []


def test_an_email_owed_to_a_former_assignee_is_not_sent(
    case, manager, lead_a, mailoutbox, django_capture_on_commit_callbacks
):
    FollowUpCase.objects.filter(pk=case.pk).update(assignee=manager, assignee_to_notify=True)
    other = UserFactory(username="otto", email="otto@staff.example.com")
    MembershipFactory(user=other, team=case.team, role=Membership.Role.MANAGER)
    mailoutbox.clear()
    _reassign(case, other, lead_a, django_capture_on_commit_callbacks)
    assert services.case_notify_assignee(case_id=case.pk, user_id=manager.pk) is False
    assert [m.to for m in mailoutbox] == [["otto@staff.example.com"]]


def test_a_failed_send_keeps_the_email_owed(case, manager, lead_a, monkeypatch):
    FollowUpCase.objects.filter(pk=case.pk).update(assignee=manager, assignee_to_notify=True)

    def refuse(*args, **kwargs):
        raise OSError("mail server down")

    monkeypatch.setattr(services, "send_mail", refuse)
    with pytest.raises(OSError):
        services.case_notify_assignee(case_id=case.pk, user_id=manager.pk)
    case.refresh_from_db()
    assert case.assignee_to_notify is True  # the task retries, or the sweeper


def test_an_escalation_email_lost_with_the_broker_is_sent_by_the_sweeper_once(
    record, touchpoint, lead_a, mailoutbox, time_machine, django_capture_on_commit_callbacks
):
    lead_a.email = "leo@staff.example.com"
    lead_a.save()
    time_machine.move_to("2026-11-10 09:00 +01:00")
    case = record(touchpoint, 1).case
    time_machine.move_to("2026-11-13 09:00 +01:00")
    mailoutbox.clear()
    services.cases_escalate_overdue()  # its after-commit email task is never published
    assert mailoutbox == []
    time_machine.move_to("2026-11-13 09:11 +01:00")
    assert services.cases_notify_sweep() == 1
    assert [m.to for m in mailoutbox] == [["leo@staff.example.com"]]
    assert f"Case #{case.pk}" in mailoutbox[0].body
    assert services.cases_notify_sweep() == 0
    assert services.case_notify_escalation(case_id=case.pk) is False
    assert len(mailoutbox) == 1


def _killed(*args, **kwargs):
    raise SystemExit("worker killed mid-send")  # SIGKILL, a hard time limit, OOM


def test_an_assignment_email_whose_worker_died_mid_send_is_sent_once_its_lease_ran_out(
    case, manager, lead_a, mailoutbox, monkeypatch, time_machine
):
    time_machine.move_to("2026-11-10 09:00 +01:00", tick=False)
    FollowUpCase.objects.filter(pk=case.pk).update(
        assignee=manager, assignee_to_notify=True, assigned_at=timezone.now()
    )
    monkeypatch.setattr(services, "send_mail", _killed)
    with pytest.raises(SystemExit):
        services.case_notify_assignee(case_id=case.pk, user_id=manager.pk)
    monkeypatch.undo()
    # The redelivered task finds it leased: the first worker may still be sending.
    assert services.case_notify_assignee(case_id=case.pk, user_id=manager.pk) is False
    time_machine.move_to("2026-11-10 09:05 +01:00", tick=False)
    assert services.cases_notify_sweep(older_than_minutes=1) == 0  # lease still held
    time_machine.move_to("2026-11-10 09:11 +01:00", tick=False)
    assert services.cases_notify_sweep() == 1  # the lease ran out: the worker died
    assert [m.to for m in mailoutbox] == [["mona@staff.example.com"]]
    assert services.cases_notify_sweep() == 0


def test_an_escalation_email_whose_worker_died_mid_send_is_sent_once_its_lease_ran_out(
    record, touchpoint, lead_a, mailoutbox, monkeypatch, time_machine
):
    lead_a.email = "leo@staff.example.com"
    lead_a.save()
    time_machine.move_to("2026-11-10 09:00 +01:00", tick=False)
    case = record(touchpoint, 1).case
    time_machine.move_to("2026-11-13 09:00 +01:00", tick=False)
    services.cases_escalate_overdue()
    mailoutbox.clear()
    monkeypatch.setattr(services, "send_mail", _killed)
    with pytest.raises(SystemExit):
        services.case_notify_escalation(case_id=case.pk)
    monkeypatch.undo()
    assert services.case_notify_escalation(case_id=case.pk) is False  # leased
    time_machine.move_to("2026-11-13 09:11 +01:00", tick=False)
    assert services.cases_notify_sweep() == 1
    assert [m.to for m in mailoutbox] == [["leo@staff.example.com"]]
    assert services.cases_notify_sweep() == 0


def test_a_case_written_by_raw_sql_owes_no_email(record, touchpoint):
    """The benches (and any bulk tool) COPY cases without the email columns."""
    from django.db import connection

    response = record(touchpoint, 9)  # a promoter: no case of its own
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO feedback_followupcase (response_id, touchpoint_id, team_id, status,"
            " outcome, priority, due_at, created_at, resolution)"
            " VALUES (%s, %s, %s, 'new', '', 1, %s, %s, '')",
            [response.pk, touchpoint.pk, touchpoint.owner_team_id, timezone.now(), timezone.now()],
        )
    assert FollowUpCase.objects.get(response=response).assignee_to_notify is False


def _english(moment):
    from django.utils import dateformat, translation

    with translation.override("en"):
        return dateformat.format(timezone.localtime(moment), "l j F, H:i")


def test_staff_emails_sent_during_a_french_survey_request_are_in_english(
    case, manager, lead_a, mailoutbox, django_capture_on_commit_callbacks
):
    """With tasks run in-process (no Redis), a detractor answering a French survey
    page sends the assignment email inside that request: its dates must not turn
    French ("jeudi 3 décembre") in the middle of an English email."""
    from django.utils import translation

    lead_a.email = "leo@staff.example.com"
    lead_a.save()
    mailoutbox.clear()
    with translation.override("fr"):
        _reassign(case, manager, lead_a, django_capture_on_commit_callbacks)
        FollowUpCase.objects.filter(pk=case.pk).update(escalated_at=timezone.now())
        assert services.case_notify_escalation(case_id=case.pk) is True
    case.refresh_from_db()
    assigned, escalated = mailoutbox
    assert f" before {_english(case.due_at)}:" in assigned.body
    assert f"passed its deadline of {_english(case.due_at)} without" in escalated.body


@pytest.mark.parametrize(
    ("email", "phone", "asks"),
    [
        ("", "", "They answered anonymously (a public link), so there is no one to call"),
        ("dan@example.net", "", "They left no phone number: please write to them before"),
        ("dan@example.net", "+33612345678", "Please call them before"),
    ],
)
def test_the_assignment_email_asks_for_what_the_customer_left(
    case,
    manager,
    lead_a,
    mailoutbox,
    django_capture_on_commit_callbacks,
    email,
    phone,
    asks,
):
    from surveys.models import Person

    if email or phone:
        person = Person.objects.create(email=email, phone=phone, name="Dan")
        case.response.person = person
        case.response.save(update_fields=["person"])
    mailoutbox.clear()
    _reassign(case, manager, lead_a, django_capture_on_commit_callbacks)
    [sent] = mailoutbox
    assert sent.subject.startswith("New case for you: a 2 at")
    assert asks in sent.body
    assert sent.body.count("before ") == 1
