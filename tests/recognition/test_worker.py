"""Recognition's after-commit work on a real Celery worker consuming from Redis.

The worker fixture (a `celery worker` process on a queue of its own, against the test
database) is the one the surveys tests use.
"""

import pytest

from recognition import services
from recognition.models import Postcard, ShoutOut, Value
from surveys import services as survey_services
from tests.factories import MembershipFactory, UserFactory
from tests.surveys.test_worker import worker  # noqa: F401 - the fixture

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_the_worker_notifies_a_postcard_once_after_the_commit(worker, employee, manager_a):  # noqa: F811
    value = Value.objects.create(name="One team")
    postcard, _ = services.postcard_send(
        sender=employee, recipient=manager_a, value=value, message="Thanks!", idempotency_key="k"
    )
    notified = worker.wait_for(
        lambda: Postcard.objects.filter(pk=postcard.pk, notified_at__isnull=False).exists()
    )
    assert notified, "the worker never sent the postcard's emails"
    # The row is written before Celery logs the task's success: wait for the log line too.
    name = "recognition.tasks.postcard_notify"
    assert worker.wait_for(lambda: worker.succeeded(name)), "the worker never finished the task"
    assert worker.succeeded(name) == 1


def test_the_worker_proposes_a_shout_out_for_a_promoter_comment(worker, touchpoint, team_a):  # noqa: F811
    lead = UserFactory(username="lena", first_name="Lena", last_name="Lead")
    MembershipFactory(user=lead, team=team_a, role="lead")
    sarah = UserFactory(username="sarah", first_name="Sarah", last_name="Lopez")
    MembershipFactory(user=sarah, team=team_a)
    response = survey_services.response_record(
        touchpoint=touchpoint, score=10, comment="Sarah Lopez was brilliant"
    )
    shoutout = worker.wait_for(lambda: ShoutOut.objects.filter(response=response).first())
    assert shoutout is not None, "the worker never proposed the shout-out"
    assert (shoutout.lead, list(shoutout.candidates.all())) == (lead, [sarah])
