"""Background work for recognition. Tasks take ids, call a service, hold no logic.

Periodic ones (for CELERY_BEAT_SCHEDULE): postcards_notify_sweep every 5 minutes,
shoutouts_suggest_sweep hourly, postcard_counters_rebuild nightly.
"""

import smtplib

from celery import shared_task

from recognition import services


@shared_task(
    acks_late=True, autoretry_for=(smtplib.SMTPException, OSError), retry_backoff=30, max_retries=5
)
def postcard_notify(postcard_id: int) -> int:
    return services.postcard_notify(postcard_id=postcard_id)


@shared_task(acks_late=True)
def postcards_notify_sweep() -> int:
    return services.postcards_notify_sweep()


@shared_task(acks_late=True)
def shoutouts_suggest(response_id: int) -> int:
    return len(services.shoutouts_suggest(response_id=response_id))


@shared_task(acks_late=True)
def shoutouts_suggest_recent() -> int:
    return services.shoutouts_suggest_recent()


@shared_task(acks_late=True)
def shoutouts_suggest_sweep() -> int:
    return services.shoutouts_suggest_sweep()


@shared_task(acks_late=True)
def postcard_counters_rebuild() -> int:
    return services.postcard_counters_rebuild()
