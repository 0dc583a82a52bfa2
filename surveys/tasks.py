"""Background work for surveys. Tasks take ids, call a service, hold no logic."""

import datetime as dt
import smtplib

from celery import shared_task

from surveys import imports, services


@shared_task(
    acks_late=True,
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=30,
    retry_backoff_max=3600,
    max_retries=services.MAX_SEND_ATTEMPTS - 1,
)
def invitation_send(invitation_id: int) -> None:
    services.invitation_send(invitation_id=invitation_id)


@shared_task(acks_late=True)
def invitations_send_due() -> int:
    return services.invitations_send_due()


@shared_task(acks_late=True)
def rollup_recompute(touchpoint_id: int, day: str) -> None:
    services.rollup_recompute(touchpoint_id=touchpoint_id, day=dt.date.fromisoformat(day))


@shared_task(acks_late=True)
def rollups_reconcile() -> int:
    return services.rollups_reconcile()


@shared_task(acks_late=True)
def response_import_run(import_id: int) -> None:
    imports.response_import_run(import_id=import_id)


@shared_task(acks_late=True)
def response_imports_resume() -> int:
    return imports.response_imports_resume()
