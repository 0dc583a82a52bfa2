import pytest

from recognition.models import Value
from surveys import services as survey_services
from tests.factories import MembershipFactory, UserFactory


@pytest.fixture
def value(db):
    return Value.objects.create(name="Went the extra mile")


@pytest.fixture
def send(value):
    """Send a postcard through the service with a fresh idempotency key."""
    counter = iter(range(100_000))

    def _send(sender, recipient, message="Thank you for the call-back!", **kwargs):
        from recognition import services

        kwargs.setdefault("idempotency_key", f"k{next(counter)}")
        return services.postcard_send(
            sender=sender,
            recipient=recipient,
            value=kwargs.pop("value", value),
            message=message,
            **kwargs,
        )[0]

    return _send


@pytest.fixture
def staff(db):
    """A colleague in a team: staff("sarah", "Sarah", "Lopez", team_a)."""

    def _staff(username, first, last, team, role="employee"):
        user = UserFactory(username=username, first_name=first, last_name=last)
        MembershipFactory(user=user, team=team, role=role)
        return user

    return _staff


@pytest.fixture
def promoter(touchpoint, django_capture_on_commit_callbacks):
    """Record a customer's answer through the survey service, after-commit work run."""

    def _promoter(comment, score=10, name="Marie-Claire Dubois", email="marie@example.net"):
        phone = "+33611223344" if email == "marie@example.net" else ""
        person = survey_services.person_upsert(email=email, name=name, phone=phone)
        with django_capture_on_commit_callbacks(execute=True):
            return survey_services.response_record(
                touchpoint=touchpoint, score=score, comment=comment, person=person
            )

    return _promoter
