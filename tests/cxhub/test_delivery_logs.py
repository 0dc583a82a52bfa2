"""The webhook and team-alert delivery logs keep DELIVERY_LOG_RETENTION_DAYS of finished
deliveries: they quote customers' answers, and an erasure scans them."""

import datetime as dt

import pytest
from django.conf import settings
from django.utils import timezone

from cxhub import services, tasks
from cxhub.models import AlertDelivery, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


def test_finished_deliveries_older_than_the_retention_go_and_pending_ones_stay(
    team_a, time_machine
):
    endpoint = WebhookEndpoint.objects.create(
        url="https://hooks.example.com/cx", events=["survey_response.created"]
    )
    now = timezone.now()
    old, recent = now - dt.timedelta(days=91), now - dt.timedelta(days=89)
    for status in ("sent", "failed", "pending"):
        for moment in (old, recent):
            WebhookDelivery.objects.create(
                endpoint=endpoint,
                event="survey_response.created",
                payload={"status": status},
                status=status,
                created_at=moment,
            )
            time_machine.move_to(moment)  # AlertDelivery.created_at is auto_now_add
            AlertDelivery.objects.create(
                team=team_a, kind="new_detractor", text=status, status=status
            )
            time_machine.move_to(now)

    assert services.delivery_logs_prune(now=now, batch=1) == 4  # batches of one, too

    def kept(model):
        return sorted(
            (d.status, d.created_at < now - dt.timedelta(days=90)) for d in model.objects.all()
        )

    expected = [("failed", False), ("pending", False), ("pending", True), ("sent", False)]
    assert kept(WebhookDelivery) == expected
    assert kept(AlertDelivery) == expected


def test_the_retention_is_a_setting_and_the_prune_runs_nightly(settings, team_a):
    settings.DELIVERY_LOG_RETENTION_DAYS = 7
    delivery = AlertDelivery.objects.create(team=team_a, kind="new_detractor", text="x")
    AlertDelivery.objects.filter(pk=delivery.pk).update(
        status="sent", created_at=timezone.now() - dt.timedelta(days=8)
    )
    assert tasks.delivery_logs_prune() == 1
    schedule = settings.CELERY_BEAT_SCHEDULE["delivery-logs-prune"]
    assert schedule["task"] == "cxhub.tasks.delivery_logs_prune"


def test_the_default_retention_is_ninety_days():
    assert settings.DELIVERY_LOG_RETENTION_DAYS == 90
