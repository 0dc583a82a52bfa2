"""Enqueueing background work so that a request never fails because of the broker.

Work is published only after the transaction commits (so a worker never sees a row
that is not there yet), and a broker failure is logged, not raised: the data is
already saved and a periodic sweeper does whatever the lost message would have done.

After a failure, publishing is skipped for BROKER_RETRY_AFTER seconds in this
process, so that during an outage each request pays the broker timeout at most once
per window instead of on every request.
"""

import logging
import time

from django.db import transaction

logger = logging.getLogger(__name__)

BROKER_RETRY_AFTER = 30.0
_skip_until = 0.0


def publish(task, *args, countdown: int | None = None, **kwargs) -> bool:
    """Send a task now. Returns False (and logs) when the broker is unreachable."""
    global _skip_until
    if time.monotonic() < _skip_until:
        logger.warning("broker marked down; %s%r left to the sweeper", task.name, args)
        return False
    try:
        task.apply_async(args=args, kwargs=kwargs, countdown=countdown)
    except Exception:
        if not task.app.conf.task_always_eager:  # eager: the task failed, not the broker
            _skip_until = time.monotonic() + BROKER_RETRY_AFTER
        logger.exception("could not enqueue %s%r; the sweeper will catch up", task.name, args)
        return False
    return True


def reset() -> None:
    """Forget a past broker failure (tests, and after a configuration change)."""
    global _skip_until
    _skip_until = 0.0


def enqueue_on_commit(task, *args, countdown: int | None = None, **kwargs) -> None:
    transaction.on_commit(lambda: publish(task, *args, countdown=countdown, **kwargs))
