"""Enqueueing background work so that a request never fails because of the broker.

Work is published only after the transaction commits (so a worker never sees a row
that is not there yet), and a broker failure is logged, not raised: the data is
already saved and a periodic sweeper does whatever the lost message would have done.

After a failure, publishing is skipped for a while in this process (cxhub.outages),
so that during an outage each request pays the broker timeout at most once per window
instead of on every request; an outage the cache met on the same Redis counts too.
"""

import logging
import time

from django.db import transaction

from cxhub import outages

logger = logging.getLogger(__name__)


def publish(task, *args, countdown: int | None = None, **kwargs) -> bool:
    """Send a task now. Returns False (and logs) when the broker is unreachable."""
    conf = task.app.conf
    if not conf.task_always_eager and not outages.available("broker", conf.broker_url):
        logger.warning("broker marked down; %s%r left to the sweeper", task.name, args)
        return False
    try:
        task.apply_async(args=args, kwargs=kwargs, countdown=countdown)
    except Exception as error:
        if not conf.task_always_eager:  # eager: the task failed, not the broker
            outages.failed("broker", conf.broker_url, error)
        logger.exception("could not enqueue %s%r; the sweeper will catch up", task.name, args)
        return False
    return True


def reset() -> None:
    """Forget past broker and cache failures and debounces (tests, and after a
    configuration change)."""
    outages.reset()
    _last_published.clear()


def enqueue_on_commit(task, *args, countdown: int | None = None, **kwargs) -> None:
    transaction.on_commit(lambda: publish(task, *args, countdown=countdown, **kwargs))


# Clock skew between web and worker hosts that the debounce tolerates.
DEBOUNCE_SAFETY = 0.5
_last_published: dict[tuple, float] = {}


def publish_debounced(task, *args, window: float) -> bool:
    """Publish `task(*args)` to run `window` seconds from now, at most once per window
    per process.

    For idempotent tasks that read the current state of the database (recount a
    rollup, assign a team's waiting cases): a call skipped here is covered by the task
    already scheduled, which runs after this caller's commit and so sees its rows. A
    burst of a thousand responses costs a handful of tasks, and no broker round trip
    per request. Eager mode (no broker) runs the task at once.
    """
    # The task object's identity, not task.name: tasks are Celery proxies, and each
    # attribute read through one costs more than this whole check.
    key = (id(task), *args)
    now = time.monotonic()
    last = _last_published.get(key)
    # Checked before Celery's configuration (whose lookups cost more than all the rest):
    # in eager mode nothing is ever recorded here, so every call runs the task.
    if last is not None and now - last < window - DEBOUNCE_SAFETY:
        return True
    if task.app.conf.task_always_eager:
        return publish(task, *args)
    if len(_last_published) > 10_000:
        _last_published.clear()
    _last_published[key] = now
    if not publish(task, *args, countdown=window):
        _last_published.pop(key, None)
        return False
    return True


def enqueue_debounced_on_commit(task, *args, window: float) -> None:
    transaction.on_commit(lambda: publish_debounced(task, *args, window=window))
