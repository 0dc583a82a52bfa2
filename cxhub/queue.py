"""Enqueueing background work so that a request never fails because of the broker.

Work is published only after the transaction commits (so a worker never sees a row
that is not there yet), and a broker failure is logged, not raised: the data is
already saved and a periodic sweeper does whatever the lost message would have done.
"""

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def publish(task, *args, countdown: int | None = None, **kwargs) -> bool:
    """Send a task now. Returns False (and logs) when the broker is unreachable."""
    try:
        task.apply_async(args=args, kwargs=kwargs, countdown=countdown)
    except Exception:
        logger.exception("could not enqueue %s%r; the sweeper will catch up", task.name, args)
        return False
    return True


def enqueue_on_commit(task, *args, countdown: int | None = None, **kwargs) -> None:
    transaction.on_commit(lambda: publish(task, *args, countdown=countdown, **kwargs))
