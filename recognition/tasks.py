"""Background work for recognition. Tasks take ids, call a service, hold no logic."""

import smtplib

from celery import shared_task

from recognition import services


@shared_task(
    acks_late=True, autoretry_for=(smtplib.SMTPException, OSError), retry_backoff=30, max_retries=5
)
def postcard_notify(postcard_id: int) -> int:
    return services.postcard_notify(postcard_id=postcard_id)


@shared_task(acks_late=True)
def shoutouts_suggest(response_id: int) -> int:
    return len(services.shoutouts_suggest(response_id=response_id))
