"""A real Celery worker, in its own process, consuming from Redis.

Eager mode proves little about after-commit enqueueing, late acks or idempotency;
these tests publish through the broker and watch the worker change the database.

The worker gets DATABASE_URL pointing at the *test* database and a queue of its own,
so it never takes work from (or gives work to) another worker on the same Redis.
Needs PostgreSQL and Redis: `make test` uses them when reachable, CI always has both.
"""

import datetime as dt
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from cxhub import queue
from cxhub.celery import app as celery_app
from feedback.models import FollowUpCase
from surveys import services, tasks
from surveys.models import NpsDaily
from tests.factories import MembershipFactory, ResponseFactory, UserFactory

ROOT = Path(__file__).resolve().parents[2]
ROLLUP = tasks.rollup_recompute.name
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _database_url() -> str:
    """The test database (connection.settings_dict NAME is test_…), as a URL."""
    db = connection.settings_dict
    auth = quote(db["USER"] or "postgres", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = quote(db["HOST"] or "127.0.0.1", safe="")  # a socket directory becomes %2F…
    return f"postgres://{auth}@{host}:{db['PORT'] or 5432}/{quote(db['NAME'], safe='')}"


def _forget_connections():
    # Celery caches its connection and producer pools; start from fresh ones.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    queue.reset()


class Worker:
    def __init__(self, process: subprocess.Popen, queue_name: str, log_path: Path):
        self.process = process
        self.queue = queue_name
        self.log_path = log_path

    def wait_for(self, check, seconds: float = 30):
        """Poll `check()` until it is truthy; fail at once if the worker has died."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            result = check()
            if result:
                return result
            if self.process.poll() is not None:
                pytest.fail(f"the celery worker exited with {self.process.returncode}: see its log")
            time.sleep(0.2)
        return check()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def succeeded(self, task_name: str, task_id: str = "") -> int:
        """How many runs of the task (with this id, if given) the worker logged as done."""
        pattern = rf"Task {re.escape(task_name)}\[{re.escape(task_id) or '[^]]+'}\] succeeded"
        return len(re.findall(pattern, self.log()))


@pytest.fixture
def worker(tmp_path):
    """`celery worker` on a queue of its own, against the test database.

    While it runs, this process publishes for real (not eager) to that queue.
    """
    if connection.vendor != "postgresql":
        pytest.skip(
            f"a real worker needs PostgreSQL (the database is {connection.vendor}): "
            "make test uses it when reachable, CI always has it"
        )
    if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        pytest.skip(
            f"a real worker needs Redis (the broker is {settings.CELERY_BROKER_URL}): "
            "make test uses it when reachable, CI always has it"
        )
    queue_name = f"test-worker-{uuid.uuid4().hex[:12]}"
    log_path = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CACHE_URL": "locmemcache://",
    }
    command = [
        *(sys.executable, "-m", "celery", "-A", "cxhub", "worker"),
        *("--pool=solo", "--concurrency=1", "-Q", queue_name),
        *("--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO"),
    ]
    saved = (celery_app.conf.task_always_eager, celery_app.conf.task_default_queue)
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_default_queue = queue_name
    _forget_connections()
    running = Worker(process, queue_name, log_path)
    try:
        yield running
    finally:
        celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = saved
        _forget_connections()
        process.terminate()  # warm shutdown: the task in hand finishes
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        # Countdown messages the worker held go back to its queue on shutdown: drop them.
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2)
        client.delete(queue_name)
        client.close()
        print(f"--- celery worker log ({queue_name}, exit {process.returncode}) ---")
        print(running.log())  # pytest shows it when the test failed


def test_the_worker_updates_the_rollup_after_the_response_commits(worker, touchpoint):
    response = services.response_record(touchpoint=touchpoint, score=9)
    day = services.local_day(response.created_at)

    # Published after commit with the debounce countdown; the worker recounts the day.
    rollup = worker.wait_for(
        lambda: NpsDaily.objects.filter(touchpoint=touchpoint, date=day).first()
    )
    assert rollup is not None, "the worker never recomputed the rollup"
    assert (rollup.promoters, rollup.passives, rollup.detractors) == (1, 0, 0)
    assert rollup.score_counts[9] == 1
    assert (
        worker.wait_for(lambda: worker.succeeded(ROLLUP)) == 1
    )  # the worker did it, not this process


def test_the_same_task_delivered_twice_leaves_one_correct_rollup(worker, touchpoint):
    at = timezone.now() - dt.timedelta(days=3)
    day = services.local_day(at)
    # Raw rows: nothing enqueued but the two deliveries below.
    for score in (10, 3, 8):
        ResponseFactory(touchpoint=touchpoint, score=score, created_at=at, updated_at=at)
    NpsDaily.objects.create(touchpoint=touchpoint, date=day, promoters=7, score_counts=[0] * 11)

    # The same message twice (same task id), as a redelivery after a lost ack would be.
    task_id = str(uuid.uuid4())
    for _ in range(2):
        tasks.rollup_recompute.apply_async(args=(touchpoint.pk, day.isoformat()), task_id=task_id)

    assert worker.wait_for(lambda: worker.succeeded(ROLLUP, task_id) >= 2), "not delivered twice"
    rollup = NpsDaily.objects.get(touchpoint=touchpoint, date=day)
    assert (rollup.promoters, rollup.passives, rollup.detractors) == (1, 1, 1)
    assert rollup.score_counts == [0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 1]
    assert NpsDaily.objects.count() == 1


def test_the_worker_assigns_a_new_case_to_a_manager(worker, touchpoint, team_a):
    manager = UserFactory(username="wanda")
    MembershipFactory(user=manager, team=team_a, role="manager")
    response = services.response_record(touchpoint=touchpoint, score=1)
    case = worker.wait_for(
        lambda: FollowUpCase.objects.filter(response=response, assignee__isnull=False).first()
    )
    assert case is not None and case.assignee == manager
