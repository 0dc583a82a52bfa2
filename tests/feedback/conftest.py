import pytest

from feedback.models import RootCause
from surveys import services


@pytest.fixture
def record(django_capture_on_commit_callbacks):
    """Record a response through the real service, running its after-commit work."""

    def _record(touchpoint, score, *, email=None, comment="", invitation=None, **kwargs):
        person = services.person_upsert(email=email, name="Claire Fontaine") if email else None
        with django_capture_on_commit_callbacks(execute=True):
            return services.response_record(
                touchpoint=touchpoint,
                score=score,
                comment=comment,
                person=person,
                invitation=invitation,
                **kwargs,
            )

    return _record


@pytest.fixture
def root_cause(touchpoint):
    return RootCause.objects.create(name="Long wait on the phone")


@pytest.fixture
def billing_error(db):
    return RootCause.objects.create(name="Billing error")
