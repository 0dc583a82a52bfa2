"""Background work for follow-up. Tasks take ids, call a service, hold no logic."""

import smtplib

from celery import shared_task

from feedback import services


@shared_task(acks_late=True)
def case_assign_auto(case_id: int) -> None:
    services.case_assign_auto(case_id=case_id)


@shared_task(acks_late=True)
def cases_assign_team(team_id: int) -> int:
    return services.cases_assign_team(team_id=team_id)


@shared_task(acks_late=True)
def cases_assign_sweep() -> int:
    return services.cases_assign_sweep()


@shared_task(
    acks_late=True,
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=30,
    max_retries=5,
)
def case_notify_assignee(case_id: int, user_id: int) -> None:
    services.case_notify_assignee(case_id=case_id, user_id=user_id)


@shared_task(acks_late=True)
def cases_escalate_overdue() -> int:
    return services.cases_escalate_overdue()


@shared_task(
    acks_late=True,
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=30,
    max_retries=5,
)
def case_notify_escalation(case_id: int) -> None:
    services.case_notify_escalation(case_id=case_id)


@shared_task(acks_late=True)
def cases_notify_sweep() -> int:
    return services.cases_notify_sweep()
