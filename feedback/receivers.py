"""feedback's answer to the one announcement surveys makes (design §3)."""

from django.dispatch import receiver

from feedback import services
from surveys.hooks import response_recorded


@receiver(response_recorded, dispatch_uid="feedback.case_follow_response")
def follow_response(sender, response, created, previous_score, **kwargs):
    # Runs inside the recording transaction: if this raises, the response is not saved
    # either, so a detractor never exists without its case.
    services.case_follow_response(response=response, created=created, previous_score=previous_score)
