"""A real Celery worker, in its own process, consuming from Redis.

Eager mode proves little about after-commit enqueueing, late acks or idempotency;
these tests publish through the broker and watch the worker change the database.
"""

import datetime as dt
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from cxhub import queue
from cxhub.celery import app as celery_app
from feedback.models import FollowUpCase
from surveys import services, tasks
from surveys.models import NpsDaily
from tests.factories import MembershipFactory, UserFactory

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker():
    """Start `celery worker` on a queue of its own, against the test database."""
    if connection.vendor != "postgresql" or not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip(
            "needs PostgreSQL and Redis (CI always has both; make test uses them when reachable)"
        )
    queue_name = f"test-{uuid.uuid4().hex[:8]}"
    log = open(ROOT / f"test-worker-{queue_name}.log", "w+")  # noqa: SIM115 - closed below
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CACHE_URL": "locmemcache://",
        "ROLLUP_DEBOUNCE_SECONDS": "0",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "cxhub",
            "worker",
            "--pool=solo",
            "-Q",
            queue_name,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    saved = (celery_app.conf.task_always_eager, celery_app.conf.task_default_queue)
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_default_queue = queue_name
    celery_app.amqp._producer_pool = None
    queue.reset()
    try:
        yield process
    finally:
        celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = saved
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.seek(0)
        output = log.read()
        log.close()
        os.unlink(log.name)
        print(output)  # shown by pytest when the test failed


def wait_for(check, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    return check()


def test_the_worker_updates_the_rollup_after_the_response_commits(worker, touchpoint):
    response = services.response_record(touchpoint=touchpoint, score=9)
    day = services.local_day(response.created_at)
    rollup = wait_for(lambda: NpsDaily.objects.filter(touchpoint=touchpoint, date=day).first())
    assert rollup is not None, "the worker never recomputed the rollup"
    assert (rollup.promoters, rollup.passives, rollup.detractors) == (1, 0, 0)


def test_the_same_task_delivered_twice_leaves_one_correct_rollup(worker, touchpoint):
    at = timezone.now() - dt.timedelta(days=3)
    for score in (10, 3):
        services.response_record(touchpoint=touchpoint, score=score, created_at=at)
    NpsDaily.objects.all().delete()
    day = services.local_day(at)
    tasks.rollup_recompute.delay(touchpoint.pk, day.isoformat())
    tasks.rollup_recompute.delay(touchpoint.pk, day.isoformat())
    rollup = wait_for(lambda: NpsDaily.objects.filter(touchpoint=touchpoint, date=day).first())
    time.sleep(1)  # let the second delivery run too
    assert NpsDaily.objects.filter(touchpoint=touchpoint, date=day).count() == 1
    rollup.refresh_from_db()
    assert (rollup.promoters, rollup.detractors) == (1, 1)


def test_the_worker_assigns_a_new_case_to_a_manager(worker, touchpoint, team_a):
    manager = UserFactory(username="wanda")
    MembershipFactory(user=manager, team=team_a, role="manager")
    response = services.response_record(touchpoint=touchpoint, score=1)
    case = wait_for(
        lambda: FollowUpCase.objects.filter(response=response, assignee__isnull=False).first()
    )
    assert case is not None and case.assignee == manager
