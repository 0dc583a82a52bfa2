"""Background work for the attention loop. Tasks take ids, call a service, hold no logic."""

from celery import shared_task

from cxhub import services, webhooks


@shared_task(acks_late=True)
def digests_send_weekly() -> int:
    return services.digests_send_weekly()


def _deliver(task, deliver, delivery_id: int) -> bool:
    # The delivery row counts the attempts and gives up; Celery only waits the backoff.
    try:
        return deliver(delivery_id=delivery_id)
    except webhooks.RetryLater as exc:
        raise task.retry(exc=exc, countdown=exc.countdown) from None


@shared_task(bind=True, acks_late=True, max_retries=None)
def alert_deliver(self, delivery_id: int) -> bool:
    return _deliver(self, services.alert_deliver, delivery_id)


@shared_task(bind=True, acks_late=True, max_retries=None)
def webhook_deliver(self, delivery_id: int) -> bool:
    return _deliver(self, webhooks.webhook_deliver, delivery_id)


@shared_task(acks_late=True)
def webhooks_redeliver() -> int:
    return webhooks.webhooks_redeliver()


@shared_task(acks_late=True)
def nps_breaches_check() -> int:
    return len(services.nps_breaches_check())


@shared_task(acks_late=True)
def nps_breach_notify(breach_id: int) -> None:
    services.nps_breach_notify(breach_id=breach_id)


@shared_task(acks_late=True)
def alerts_redeliver() -> int:
    return services.alerts_redeliver()


@shared_task(acks_late=True)
def delivery_logs_prune() -> int:
    return services.delivery_logs_prune()
