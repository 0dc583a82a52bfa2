"""cxhub composes the apps: it listens to their announcements for team alerts."""

from django.dispatch import receiver

from cxhub import services
from feedback.hooks import case_escalated
from surveys import nps
from surveys.hooks import response_recorded


@receiver(response_recorded, dispatch_uid="cxhub.alert_new_detractor")
def alert_new_detractor(sender, response, created, previous_score, **kwargs):
    became_detractor = (
        created or previous_score is None or nps.category(previous_score) != nps.DETRACTOR
    )
    if response.category == nps.DETRACTOR and became_detractor:
        services.alert_new_detractor(response=response)


@receiver(case_escalated, dispatch_uid="cxhub.alert_escalation")
def alert_escalation(sender, case_id, **kwargs):
    from cxhub import tasks
    from cxhub.queue import publish

    publish(tasks.alert_escalation, case_id)
