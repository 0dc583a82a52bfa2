"""Sending surveys: quiet period, unsubscribes, skip reasons, at-most-once sending."""

import datetime as dt

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from surveys import services, tasks
from surveys.models import Invitation, Person


@pytest.fixture
def person(db):
    return services.person_upsert(email="Paul.Martin@Example.net", name="Paul Martin")


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    def _send(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return services.invitation_create(**kwargs)

    return _send


def test_person_email_is_normalised_and_reused(person):
    again = services.person_upsert(email="paul.martin@example.net", phone="+33 6 12 34 56 78")
    assert again.pk == person.pk
    assert again.phone == "+33612345678"
    assert again.name == "Paul Martin"


def test_person_needs_a_valid_email_or_phone(db):
    with pytest.raises(services.ValidationError):
        services.person_upsert(name="Nobody")
    with pytest.raises(services.ValidationError):
        services.person_upsert(email="not-an-email")
    with pytest.raises(services.ValidationError):
        services.person_upsert(phone="0612")
    assert Person.objects.count() == 0


def test_same_person_is_not_invited_again_within_the_quiet_period(
    person, touchpoint, send, time_machine
):
    time_machine.move_to("2026-10-01 09:00 +02:00")
    first = send(person=person, touchpoint=touchpoint)
    time_machine.move_to("2026-10-20 09:00 +02:00")
    second = send(person=person, touchpoint=touchpoint)
    assert first.status == Invitation.Status.SCHEDULED
    assert second.status == Invitation.Status.SKIPPED
    assert second.skip_reason == Invitation.SkipReason.QUIET_PERIOD
    assert len(mail.outbox) == 1
    # Skipped invitations are kept, so staff can see why someone was not surveyed.
    assert Invitation.objects.filter(person=person).count() == 2

    time_machine.move_to("2026-11-01 09:00 +01:00")
    third = send(person=person, touchpoint=touchpoint)
    assert third.status == Invitation.Status.SCHEDULED
    assert len(mail.outbox) == 2


def test_the_quiet_period_counts_around_the_day_an_invitation_goes_out(
    person, touchpoint, send, time_machine
):
    """One scheduled 60 days ahead and one created 35 days later for at once would
    reach the customer 25 days apart: the second is skipped."""
    time_machine.move_to("2026-10-01 09:00 +02:00")
    later = send(
        person=person, touchpoint=touchpoint, scheduled_for=timezone.now() + dt.timedelta(days=60)
    )
    assert later.status == Invitation.Status.SCHEDULED
    time_machine.move_to("2026-11-05 09:00 +01:00")  # day 35: 25 days before it goes out
    now = send(person=person, touchpoint=touchpoint)
    assert (now.status, now.skip_reason) == ("skipped", Invitation.SkipReason.QUIET_PERIOD)
    # Scheduled 25 days after one already sent: skipped too.
    other = services.person_upsert(email="ines@example.net")
    sent = send(person=other, touchpoint=touchpoint)
    sent.refresh_from_db()
    assert sent.status == Invitation.Status.SENT
    ahead = send(
        person=other, touchpoint=touchpoint, scheduled_for=timezone.now() + dt.timedelta(days=25)
    )
    assert ahead.skip_reason == Invitation.SkipReason.QUIET_PERIOD
    # Past the quiet period on both sides: scheduled.
    far = send(
        person=person, touchpoint=touchpoint, scheduled_for=timezone.now() + dt.timedelta(days=70)
    )
    assert far.status == Invitation.Status.SCHEDULED


def test_a_person_who_answered_lately_without_an_invitation_is_not_invited_again(
    person, touchpoint, send, time_machine
):
    time_machine.move_to("2026-10-01 09:00 +02:00")
    services.response_record(touchpoint=touchpoint, person=person, score=8)  # an API answer
    time_machine.move_to("2026-10-03 09:00 +02:00")
    soon = send(person=person, touchpoint=touchpoint)
    assert (soon.status, soon.skip_reason) == ("skipped", Invitation.SkipReason.QUIET_PERIOD)
    time_machine.move_to("2026-11-01 09:00 +01:00")
    assert send(person=person, touchpoint=touchpoint).status == Invitation.Status.SCHEDULED


def test_an_invitation_whose_touchpoint_was_switched_off_meanwhile_is_not_sent(
    person, touchpoint, send, time_machine
):
    time_machine.move_to("2026-10-01 09:00 +02:00")
    invitation = send(
        person=person, touchpoint=touchpoint, scheduled_for=timezone.now() + dt.timedelta(days=2)
    )
    touchpoint.active = False
    touchpoint.save()
    time_machine.move_to("2026-10-04 09:00 +02:00")
    services.invitation_send(invitation_id=invitation.pk)
    invitation.refresh_from_db()
    assert (invitation.status, invitation.skip_reason) == (
        "cancelled",
        Invitation.SkipReason.INACTIVE_TOUCHPOINT,
    )
    assert mail.outbox == []


def test_a_web_link_invitation_sends_nothing_and_counts_as_sent(touchpoint, send):
    phone_only = services.person_upsert(phone="+33612345678")
    with_email = services.person_upsert(email="ines@example.net")
    for person in (phone_only, with_email):
        invitation = send(person=person, touchpoint=touchpoint, channel=Invitation.Channel.WEB)
        invitation.refresh_from_db()
        assert (invitation.status, invitation.skip_reason) == ("sent", "")
        assert invitation.sent_at is not None
    assert mail.outbox == []


def test_an_email_invitation_whose_address_went_meanwhile_is_cancelled_not_sent(
    person, touchpoint, send, time_machine
):
    time_machine.move_to("2026-10-01 09:00 +02:00")
    invitation = send(
        person=person, touchpoint=touchpoint, scheduled_for=timezone.now() + dt.timedelta(days=1)
    )
    Person.objects.filter(pk=person.pk).update(email="", phone="+33612345678")
    time_machine.move_to("2026-10-03 09:00 +02:00")
    services.invitation_send(invitation_id=invitation.pk)
    invitation.refresh_from_db()
    assert (invitation.status, invitation.skip_reason, invitation.sent_at) == (
        "cancelled",
        Invitation.SkipReason.NO_ADDRESS,
        None,
    )
    assert mail.outbox == []


def test_quiet_period_can_be_overridden_per_touchpoint(person, touchpoint, send, time_machine):
    touchpoint.quiet_period_days = 3
    touchpoint.save()
    time_machine.move_to("2026-10-01 09:00 +02:00")
    send(person=person, touchpoint=touchpoint)
    time_machine.move_to("2026-10-05 09:00 +02:00")
    assert send(person=person, touchpoint=touchpoint).status == Invitation.Status.SCHEDULED


def test_unsubscribed_people_are_never_sent_anything(person, touchpoint, send):
    services.person_unsubscribe(person=person)
    invitation = send(person=person, touchpoint=touchpoint)
    assert invitation.status == Invitation.Status.SKIPPED
    assert invitation.skip_reason == Invitation.SkipReason.UNSUBSCRIBED
    assert mail.outbox == []


def test_a_bounced_address_is_not_emailed_again_but_can_still_get_an_sms(
    person, touchpoint, send, caplog
):
    person.phone = "+33612345678"
    person.bounced_at = timezone.now()
    person.save()
    email = send(person=person, touchpoint=touchpoint)
    assert (email.status, email.skip_reason) == (
        Invitation.Status.SKIPPED,
        Invitation.SkipReason.BOUNCED,
    )
    assert mail.outbox == []
    with caplog.at_level("INFO", logger="surveys.services"):
        sms = send(person=person, touchpoint=touchpoint, channel=Invitation.Channel.SMS)
    assert sms.status == Invitation.Status.SCHEDULED
    assert "SMS to +33612345678" in caplog.text


def test_an_email_scheduled_before_the_address_bounced_is_cancelled(person, touchpoint):
    later = services.invitation_create(
        person=person, touchpoint=touchpoint, scheduled_for=timezone.now()
    )
    Person.objects.filter(pk=person.pk).update(bounced_at=timezone.now())
    sent = services.invitation_send(invitation_id=later.pk)
    assert (sent.status, sent.skip_reason) == (
        Invitation.Status.CANCELLED,
        Invitation.SkipReason.BOUNCED,
    )
    assert mail.outbox == []


def test_unsubscribe_link_get_asks_and_post_unsubscribes(customer_client, person, touchpoint, send):
    invitation = send(person=person, touchpoint=touchpoint)
    page = customer_client.get(f"/u/{invitation.token}/")
    assert page.status_code == 200
    person.refresh_from_db()
    assert person.unsubscribed_at is None  # a mail scanner's GET changes nothing

    assert customer_client.post(f"/u/{invitation.token}/").status_code == 200
    person.refresh_from_db()
    assert person.unsubscribed_at is not None


def test_one_click_unsubscribe_post_works_without_csrf_token(person, touchpoint, send):
    from django.test import Client

    invitation = send(person=person, touchpoint=touchpoint)
    strict = Client(enforce_csrf_checks=True)
    assert (
        strict.post(f"/u/{invitation.token}/", {"List-Unsubscribe": "One-Click"}).status_code == 200
    )
    person.refresh_from_db()
    assert person.unsubscribed_at is not None


def test_unsubscribing_cancels_a_scheduled_invitation(person, touchpoint, send):
    later = send(
        person=person, touchpoint=touchpoint, scheduled_for=timezone.now() + dt.timedelta(days=1)
    )
    services.person_unsubscribe(person=person)
    later.refresh_from_db()
    assert later.status == Invitation.Status.CANCELLED
    services.invitations_send_due(now=timezone.now() + dt.timedelta(days=2))
    assert mail.outbox == []


def test_an_invitation_is_sent_at_most_once_even_if_the_task_runs_twice(person, touchpoint, send):
    invitation = send(person=person, touchpoint=touchpoint)
    tasks.invitation_send.apply(args=[invitation.pk])
    tasks.invitation_send.apply(args=[invitation.pk])
    assert len(mail.outbox) == 1


def test_scheduled_invitations_are_sent_by_the_due_sweep(person, touchpoint, send, time_machine):
    time_machine.move_to("2026-10-01 09:00 +02:00")
    invitation = send(
        person=person, touchpoint=touchpoint, scheduled_for=timezone.now() + dt.timedelta(hours=2)
    )
    assert mail.outbox == []
    assert services.invitations_send_due() == 0
    time_machine.move_to("2026-10-01 11:30 +02:00")
    assert services.invitations_send_due() == 1
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.SENT
    assert len(mail.outbox) == 1


def test_the_sweeper_frees_a_dead_workers_claim_but_not_a_send_in_progress(
    person, touchpoint, monkeypatch, time_machine
):
    """Due for 20 minutes (a broker outage), then claimed: while its worker is still in
    the SMTP conversation, the sweep must not hand it to a second worker."""
    time_machine.move_to("2026-10-01 09:00 +02:00", tick=False)
    invitation = services.invitation_create(
        person=person, touchpoint=touchpoint, scheduled_for=timezone.now()
    )
    time_machine.move_to("2026-10-01 09:20 +02:00", tick=False)
    sweeps = []
    real_render = services._render_invitation_email

    def render_then_sweep(inv):
        sweeps.append(services.invitations_send_due())  # beat runs mid-send
        return real_render(inv)

    monkeypatch.setattr(services, "_render_invitation_email", render_then_sweep)
    services.invitation_send(invitation_id=invitation.pk)
    assert sweeps == [0]
    assert len(mail.outbox) == 1
    invitation.refresh_from_db()
    assert (invitation.status, invitation.send_attempts) == (Invitation.Status.SENT, 1)

    # A claim 16 minutes old is a dead worker's (a send gives up after EMAIL_TIMEOUT).
    Invitation.objects.filter(pk=invitation.pk).update(
        status=Invitation.Status.SENDING, sent_at=None
    )
    time_machine.move_to("2026-10-01 09:36 +02:00", tick=False)
    monkeypatch.setattr(services, "_render_invitation_email", real_render)
    assert services.invitations_send_due() == 1


def test_a_failing_mail_server_leaves_the_invitation_to_retry(
    person, touchpoint, settings, django_capture_on_commit_callbacks
):
    # A real SMTP connection to a closed port: the send fails, nothing is lost.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 1
    with pytest.raises(OSError):
        services.invitation_send(
            invitation_id=services.invitation_create(person=person, touchpoint=touchpoint).pk
        )
    invitation = Invitation.objects.get()
    assert invitation.status == Invitation.Status.SCHEDULED
    assert invitation.send_attempts == 1
    assert "ConnectionRefusedError" in invitation.last_error


def test_invite_command_creates_and_explains(
    person, touchpoint, capsys, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "invite", touchpoint.slug, "--email", "new@example.net", "--name", "New Person"
        )
        call_command("invite", touchpoint.slug, "--email", "new@example.net")
    out = capsys.readouterr().out
    assert "scheduled for New Person" in out
    assert "Not sent: Invited recently (quiet period)." in out
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_invite_command_says_sent_when_it_was(touchpoint, capsys):
    # Outside a test transaction, as in `manage.py invite`: the send runs at commit.
    call_command("invite", touchpoint.slug, "--email", "sent@example.net", "--name", "Sent")
    invitation = Invitation.objects.get()
    assert invitation.status == Invitation.Status.SENT
    assert capsys.readouterr().out == f"Invitation {invitation.pk} sent to Sent.\n"


def test_admin_creates_invitations_through_the_service(
    cx_admin, client, person, touchpoint, django_capture_on_commit_callbacks
):
    cx_admin.is_superuser = True
    cx_admin.save()
    client.force_login(cx_admin)
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(
            "/admin/surveys/invitation/add/",
            {
                "person": person.pk,
                "touchpoint": touchpoint.pk,
                "channel": "email",
                "locale": "",
                "scheduled_for_0": timezone.localdate().isoformat(),
                "scheduled_for_1": "00:00:00",
            },
        )
    assert page.status_code == 302, page.content.decode()[:2000]
    invitation = Invitation.objects.get()
    assert len(invitation.token) >= 40
    assert len(mail.outbox) == 1
