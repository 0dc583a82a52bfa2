from django.core.management.base import BaseCommand, CommandError

from surveys import services
from surveys.models import Person


class Command(BaseCommand):
    help = (
        "Erase a person (GDPR): delete them and their invitations, strip their responses' "
        "comments and properties (scores stay, so NPS history does not change) and the notes "
        "of their follow-up cases."
    )

    def add_arguments(self, parser):
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--email")
        who.add_argument("--phone", help="E.164, e.g. +33612345678")
        who.add_argument("--id", type=int, dest="person_id")

    def handle(self, *args, email=None, phone=None, person_id=None, **options):
        if email is not None:
            person = Person.objects.filter(email=services.clean_email(email)).first()
        elif phone is not None:
            try:  # written as the customer gave it: "+33 (6) 12-34-56-78" too
                phone = services.clean_phone(phone)
            except services.ValidationError as error:
                raise CommandError(f"Nothing was erased: {' '.join(error.messages)}") from error
            person = Person.objects.filter(phone=phone).first()
        else:
            person = Person.objects.filter(pk=person_id).first()
        if person is None:
            raise CommandError("No such person: nothing was erased.")
        pk = person.pk
        try:
            stripped = services.person_erase(person=person)
        except services.SurveyError as error:
            raise CommandError(f"Nothing was erased: {error.message}") from error
        self.stdout.write(f"Person {pk} erased; {stripped} response(s) kept without personal data.")
