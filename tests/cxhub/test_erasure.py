"""Erasing a customer (GDPR) reaches cxhub's outgoing logs: webhook deliveries and team
alerts, sent or still pending, forget what they quoted of them. No network: the POST
itself is replaced by a recorder."""

import json

import pytest

from cxhub import services as cxhub_services
from cxhub import webhooks
from cxhub.models import AlertDelivery, TeamAlert, WebhookDelivery, WebhookEndpoint
from surveys import services as survey_services
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db

EMAIL = "zoe.quarantine@example.org"


@pytest.fixture
def posted(monkeypatch):
    """Every outgoing POST (webhooks and team alerts), answered 200."""
    sent = []

    def record(outgoing, *, timeout=None):
        sent.append(outgoing)
        return 200

    monkeypatch.setattr(webhooks, "http_post", record)
    return sent


@pytest.fixture
def endpoint(db):
    endpoint = WebhookEndpoint.objects.create(
        url="https://hooks.example.com/cx", events=list(WebhookEndpoint.Event.values)
    )
    webhooks.webhook_endpoints_forget()
    return endpoint


@pytest.fixture
def zoe(db):
    return PersonFactory(email=EMAIL, phone="+33699887766", name="Zoé Quarantine")


def _texts(queryset, field):
    return [json.dumps(v, ensure_ascii=False) for v in queryset.values_list(field, flat=True)]


def test_webhook_events_of_an_erased_customer_lose_comment_and_person_sent_or_pending(
    zoe, touchpoint, endpoint, posted, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        answer = survey_services.response_record(
            touchpoint=touchpoint, score=9, comment=f"Write to me at {EMAIL}", person=zoe
        )
        other = survey_services.response_record(
            touchpoint=touchpoint, score=10, comment="Someone else's words"
        )
    with django_capture_on_commit_callbacks(execute=False):  # its POST has not happened yet
        survey_services.response_update(response=answer, comment=f"Still {EMAIL}")
    pending = WebhookDelivery.objects.get(status="pending")
    assert EMAIL in json.dumps(pending.payload)

    survey_services.person_erase(person=zoe)

    theirs = WebhookDelivery.objects.filter(payload__event_data__id=answer.pk)
    assert theirs.count() == 2
    assert not any(EMAIL in text for text in _texts(WebhookDelivery.objects, "payload"))
    for delivery in theirs:
        data = delivery.payload["event_data"]
        assert (data["comment"], data["person_id"], data["score"]) == ("", None, 9)
    kept = WebhookDelivery.objects.get(payload__event_data__id=other.pk)
    assert kept.payload["event_data"]["comment"] == "Someone else's words"

    # Delivered after the erasure, the pending event carries what CX Hub still knows.
    posted.clear()
    assert webhooks.webhook_deliver(delivery_id=pending.pk)
    body = json.loads(posted[0].body)
    assert body["event_type"] == "survey_response.updated"
    assert (body["event_data"]["comment"], body["event_data"]["person_id"]) == ("", None)


def test_a_delivery_read_just_before_an_erasure_sends_the_erased_payload(
    zoe, touchpoint, endpoint, posted, monkeypatch, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):  # its POST has not happened yet
        survey_services.response_record(
            touchpoint=touchpoint, score=9, comment=f"Write to me at {EMAIL}", person=zoe
        )
    pending = WebhookDelivery.objects.get(status="pending")
    real_backoff = webhooks.backoff

    def erase_meanwhile(attempts):
        # deliver() has read the row and not yet claimed the attempt: the erasure
        # commits now, between the two.
        survey_services.person_erase(person=zoe)
        return real_backoff(attempts)

    monkeypatch.setattr(webhooks, "backoff", erase_meanwhile)
    assert webhooks.webhook_deliver(delivery_id=pending.pk)
    assert EMAIL not in posted[0].body.decode()
    assert json.loads(posted[0].body)["event_data"]["comment"] == ""


def test_the_unsubscribe_event_of_an_erased_customer_loses_their_email(
    zoe, endpoint, posted, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        survey_services.person_unsubscribe(person=zoe)
    delivery = WebhookDelivery.objects.get(event="unsubscribe.created")
    assert (delivery.status, delivery.payload["event_data"]["email"]) == ("sent", EMAIL)

    survey_services.person_erase(person=zoe)

    delivery.refresh_from_db()
    assert delivery.payload["event_data"]["email"] is None
    assert delivery.payload["event_data"]["id"] == zoe.pk  # the event itself stays


def test_team_alerts_lose_the_quote_of_an_erased_detractors_comment_sent_or_pending(
    zoe, team_a, touchpoint, posted, django_capture_on_commit_callbacks
):
    TeamAlert.objects.create(team=team_a, webhook_url="https://chat.example.com/hook")
    cxhub_services.team_alerts_forget()
    with django_capture_on_commit_callbacks(execute=True):
        survey_services.response_record(
            touchpoint=touchpoint,
            score=2,
            comment="Zoé here: rude courier at 12 rue Haute",
            person=zoe,
        )
        survey_services.response_record(touchpoint=touchpoint, score=1, comment="Too slow")
    with django_capture_on_commit_callbacks(execute=False):
        survey_services.response_record(
            touchpoint=touchpoint,
            score=0,
            comment="And my parcel at rue Haute is lost",
            person=zoe,
        )
    texts = list(AlertDelivery.objects.order_by("pk").values_list("status", "text"))
    assert texts == [
        ("sent", "New detractor (2) at Support call: “Zoé here: rude courier at 12 rue Haute”"),
        ("sent", "New detractor (1) at Support call: “Too slow”"),
        ("pending", "New detractor (0) at Support call: “And my parcel at rue Haute is lost”"),
    ]

    survey_services.person_erase(person=zoe)

    erased = "(comment erased at the customer's request)"
    assert list(AlertDelivery.objects.order_by("pk").values_list("text", flat=True)) == [
        f"New detractor (2) at Support call: {erased}",
        "New detractor (1) at Support call: “Too slow”",
        f"New detractor (0) at Support call: {erased}",
    ]
    posted.clear()
    cxhub_services.alert_deliver(delivery_id=AlertDelivery.objects.get(status="pending").pk)
    assert json.loads(posted[0].body) == {"text": f"New detractor (0) at Support call: {erased}"}


def test_an_alert_quoting_an_earlier_version_of_the_comment_loses_it_too(
    zoe, team_a, touchpoint, posted, django_capture_on_commit_callbacks
):
    TeamAlert.objects.create(team=team_a, webhook_url="https://chat.example.com/hook")
    cxhub_services.team_alerts_forget()
    with django_capture_on_commit_callbacks(execute=True):
        answer = survey_services.response_record(
            touchpoint=touchpoint, score=2, comment="Call Zoé on 06 99 88 77 66", person=zoe
        )
    # Edited afterwards: the alert still quotes the first version.
    survey_services.response_update(response=answer, comment="Please just fix it")
    assert "Call Zoé" in AlertDelivery.objects.get().text

    survey_services.person_erase(person=zoe)

    assert AlertDelivery.objects.get().text == (
        "New detractor (2) at Support call: (comment erased at the customer's request)"
    )
