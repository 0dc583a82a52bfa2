"""Background work for the attention loop. Tasks take ids, call a service, hold no logic."""

from celery import shared_task

from cxhub import services


@shared_task(acks_late=True)
def digests_send_weekly() -> int:
    return services.digests_send_weekly()


@shared_task(
    acks_late=True,
    autoretry_for=(Exception,),
    retry_backoff=30,
    retry_backoff_max=3600,
    max_retries=services.MAX_ALERT_ATTEMPTS - 1,
)
def alert_deliver(delivery_id: int) -> bool:
    return services.alert_deliver(delivery_id=delivery_id)


@shared_task(acks_late=True)
def nps_breaches_check() -> int:
    return len(services.nps_breaches_check())


@shared_task(acks_late=True)
def nps_breach_notify(breach_id: int) -> None:
    services.nps_breach_notify(breach_id=breach_id)


@shared_task(acks_late=True)
def alert_escalation(case_id: int) -> None:
    services.alert_escalation(case_id=case_id)


@shared_task(acks_late=True)
def alerts_redeliver() -> int:
    return services.alerts_redeliver()
