"""recognition listens to the one announcement surveys makes (design §3)."""

from django.dispatch import receiver

from cxhub.queue import enqueue_on_commit
from surveys import nps
from surveys.hooks import response_recorded


@receiver(response_recorded, dispatch_uid="recognition.suggest_shoutouts")
def suggest_shoutouts(sender, response, created, previous_score, **kwargs):
    # Inside the survey's transaction: only decide and enqueue, never query or raise.
    if response.category == nps.PROMOTER and response.comment:
        from recognition import tasks

        enqueue_on_commit(tasks.shoutouts_suggest, response.pk)
