import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from cxhub.models import Membership, Team
from surveys import nps
from surveys.models import Invitation, Person, Response, Touchpoint


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@staff.example.com")
    password = factory.django.Password("pw")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    team = factory.SubFactory(TeamFactory)
    role = Membership.Role.EMPLOYEE


class TouchpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Touchpoint
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Touchpoint {n}")
    slug = factory.Sequence(lambda n: f"touchpoint-{n}")
    owner_team = factory.SubFactory(TeamFactory)


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    email = factory.Sequence(lambda n: f"customer{n}@example.net")
    name = factory.Faker("name")


class InvitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invitation

    person = factory.SubFactory(PersonFactory)
    touchpoint = factory.SubFactory(TouchpointFactory)
    token = factory.LazyFunction(Invitation.new_token)
    status = Invitation.Status.SENT
    sent_at = factory.LazyFunction(timezone.now)
    expires_at = factory.LazyFunction(lambda: timezone.now() + timezone.timedelta(days=30))


class ResponseFactory(factory.django.DjangoModelFactory):
    """A raw row, bypassing the service: for read-side tests and bulk data only."""

    class Meta:
        model = Response

    touchpoint = factory.SubFactory(TouchpointFactory)
    score = 9
    category = factory.LazyAttribute(lambda r: nps.category(r.score))
    channel = Invitation.Channel.WEB
