"""cxhub composes the apps: it listens to their announcements for team alerts and
outgoing webhooks, and to a customer's erasure (the logs of both forget them)."""

from django.db import transaction
from django.dispatch import receiver

from cxhub import services, webhooks
from cxhub.models import WebhookEndpoint
from feedback.hooks import case_closed, case_escalated
from surveys import nps
from surveys.hooks import (
    person_erased,
    person_unsubscribed,
    response_recorded,
    responses_recorded,
)


@receiver(response_recorded, dispatch_uid="cxhub.alert_new_detractor")
def alert_new_detractor(sender, response, created, previous_score, **kwargs):
    became_detractor = (
        created or previous_score is None or nps.category(previous_score) != nps.DETRACTOR
    )
    if response.category == nps.DETRACTOR and became_detractor:
        services.alert_new_detractor(response=response)


@receiver(responses_recorded, dispatch_uid="cxhub.responses_recorded")
def alert_and_webhook_new_responses(sender, responses, **kwargs):
    # A batch of new responses: what response_recorded does for each, in one dispatch.
    for response in responses:
        alert_new_detractor(sender, response=response, created=True, previous_score=None)
        webhook_response(sender, response=response, created=True, previous_score=None)


@receiver(case_escalated, dispatch_uid="cxhub.alert_escalation")
def alert_escalation(sender, case_id, **kwargs):
    # In the escalation's transaction: the alert's delivery row commits with it, and
    # alerts_redeliver sends it if the broker lost the message.
    with transaction.atomic():
        services.alert_escalation(case_id=case_id)


# Outgoing webhooks. Each runs inside the transaction that made the event happen (so a
# delivery row exists exactly when the change committed) and never raises; with no
# endpoint subscribed to the event it costs one lookup in a cached set.

Event = WebhookEndpoint.Event


@receiver(response_recorded, dispatch_uid="cxhub.webhook_response")
def webhook_response(sender, response, created, previous_score, **kwargs):
    webhooks.webhook_event_emit(
        event=Event.RESPONSE_CREATED if created else Event.RESPONSE_UPDATED,
        data=lambda: webhooks.response_event_data(response),
    )


@receiver(case_closed, dispatch_uid="cxhub.webhook_case_closed")
def webhook_case_closed(sender, case_id, **kwargs):
    webhooks.webhook_event_emit(
        event=Event.CASE_CLOSED, data=lambda: webhooks.case_event_data(case_id)
    )


@receiver(person_unsubscribed, dispatch_uid="cxhub.webhook_unsubscribe")
def webhook_unsubscribe(sender, person, **kwargs):
    webhooks.webhook_event_emit(
        event=Event.UNSUBSCRIBE_CREATED, data=lambda: webhooks.person_event_data(person)
    )


@receiver(person_erased, dispatch_uid="cxhub.deliveries_erase_customer")
def erase_customer(sender, person, response_ids, **kwargs):
    # Inside the erasure's transaction: the logs forget the customer with it, or nothing
    # is erased. A pending delivery is scrubbed, not cancelled: it still tells its
    # receiver what happened, with what CX Hub still knows.
    services.deliveries_erase_customer(person=person, response_ids=response_ids)
