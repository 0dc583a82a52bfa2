from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from surveys import services
from surveys.models import Invitation, Touchpoint


class Command(BaseCommand):
    help = "Invite a person to a touchpoint's survey (quiet period and unsubscribes apply)."

    def add_arguments(self, parser):
        parser.add_argument("touchpoint", help="touchpoint slug")
        parser.add_argument("--email", default="")
        parser.add_argument("--phone", default="")
        parser.add_argument("--name", default="")
        parser.add_argument("--locale", default="")
        parser.add_argument("--channel", choices=Invitation.Channel.values, default="email")

    def handle(self, *args, touchpoint, email, phone, name, locale, channel, **options):
        tp = Touchpoint.objects.filter(slug=touchpoint).first()
        if tp is None:
            raise CommandError(f"unknown touchpoint {touchpoint!r}")
        try:
            person = services.person_upsert(email=email, phone=phone, name=name, locale=locale)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        invitation = services.invitation_create(
            person=person, touchpoint=tp, channel=channel, locale=locale
        )
        if invitation.skip_reason:
            self.stdout.write(f"Not sent: {invitation.get_skip_reason_display()}.")
            return
        # Sent already when tasks run in-process (make run); else a worker sends it.
        invitation.refresh_from_db(fields=["status"])
        if invitation.status == Invitation.Status.SENT:
            self.stdout.write(f"Invitation {invitation.pk} sent to {person}.")
        else:
            self.stdout.write(
                f"Invitation {invitation.pk} scheduled for {person} (sent in the background)."
            )
