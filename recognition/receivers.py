"""recognition listens to the one announcement surveys makes (design §3).

The receiver runs inside the transaction that records the response: it must be cheap
and must never raise (a raise would lose the customer's answer). It only decides from
the response in hand and, after the commit, asks for the recent promoter comments to be
matched: debounced (one task every SHOUTOUT_DEBOUNCE_SECONDS per process, whatever the
burst), so the survey POST pays no broker round trip per answer.
"""

import logging

from django.conf import settings

from cxhub.queue import enqueue_debounced_on_commit
from surveys import nps

logger = logging.getLogger(__name__)


def _may_name_someone(response) -> bool:
    return response.category == nps.PROMOTER and bool((response.comment or "").strip())


def suggest_shoutouts(sender, response, **kwargs):
    try:
        if _may_name_someone(response):
            from recognition import tasks

            enqueue_debounced_on_commit(
                tasks.shoutouts_suggest_recent, window=settings.SHOUTOUT_DEBOUNCE_SECONDS
            )
    except Exception:  # the sweeper (shoutouts_suggest_sweep) catches up
        logger.exception("could not schedule shout-out suggestions for response %s", response.pk)


def suggest_shoutouts_many(sender, responses, **kwargs):
    # A batch of new responses: the same debounced request, once, if any may name someone.
    first = next((r for r in responses if _may_name_someone(r)), None)
    if first is not None:
        suggest_shoutouts(sender, response=first)


def erase_customer(sender, person, response_ids, **kwargs):
    # Inside the erasure's transaction: the quotes go with the person, or nothing goes.
    from recognition import services

    services.recognition_erase_customer(response_ids=response_ids)
