"""Outgoing HTTP deliveries: team alerts and signed webhooks share one implementation.

A delivery is a database row (status pending/sent/failed, attempts, last_error,
next_attempt_at, sent_at). `deliver` makes one attempt: it claims the attempt with a
conditional UPDATE (a Celery retry and the sweeper never post the same attempt twice),
POSTs with a timeout, records the outcome and, while attempts remain, raises
`RetryLater` with the backoff so the Celery task retries; after the last attempt the
row is failed. `redeliver_due` is the sweeper: it republishes pending rows whose next
attempt is overdue (the message was lost: broker down at enqueue time, worker killed).
Only 2xx is success; redirects are not followed (a 3xx is a failure like any other).
Every POST goes only where cxhub.outbound allows (by default the public internet), to
the addresses it checked; a refused destination fails the delivery at once, logged.

Outgoing webhooks (WebhookEndpoint, WebhookDelivery) build on it: `webhook_event_emit`
writes one delivery row per subscribed active endpoint inside the caller's transaction
and enqueues them after commit. Each POST carries a Stripe-style signature:
`X-CXHub-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" with the secret>`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import models, transaction
from django.utils import timezone

from cxhub import outbound
from cxhub.models import WebhookDelivery, WebhookEndpoint
from cxhub.queue import enqueue_on_commit, publish

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5
# Wait after the n-th failed attempt: 30 s, 1 min, 2 min, 4 min, … capped below the
# broker's visibility timeout (1 h) so a countdown never outlives its message.
BACKOFF_SECONDS = 30
BACKOFF_MAX_SECONDS = 30 * 60
# At most this much of a receiver's answer is read (and then dropped).
MAX_ANSWER_BYTES = 64 * 1024


# --- the shared delivery machinery -----------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class Undeliverable(Exception):
    """The delivery can never succeed as configured (bad URL, endpoint gone, a refused
    destination): failed at once, never retried."""


class RetryLater(Exception):
    """The attempt failed and attempts remain: the task retries after `countdown` s."""

    def __init__(self, message: str, countdown: int):
        super().__init__(message)
        self.countdown = countdown


# How early an attempt may run before its row's next_attempt_at (clocks of the hosts
# differ a little). Earlier than that, it is a second message for the same delivery (the
# sweeper's, while the Celery retry was only late) and leaves the attempt to the retry.
EARLY_TOLERANCE = dt.timedelta(seconds=5)


def backoff(attempts: int) -> int:
    """Seconds to wait after the `attempts`-th failed attempt."""
    return min(BACKOFF_MAX_SECONDS, BACKOFF_SECONDS * 2 ** max(attempts - 1, 0))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A webhook POST is not replayed elsewhere (urllib would turn it into a GET).
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


# Connects only to the addresses cxhub.outbound checked (outbound.pin), never to a
# second lookup of the name.
_opener = outbound.opener(_NoRedirect)


def http_post(outgoing: Outgoing, *, timeout: float | None = None) -> int:
    """POST and return the status code; raise for anything but 2xx (HTTPError carries
    the code), for a timeout or an unreachable host, and Undeliverable, before any
    connection, for a destination cxhub.outbound refuses (a private address…)."""
    if not outgoing.url.startswith(("https://", "http://")):
        raise Undeliverable("The webhook URL must be http(s).")
    try:
        # Resolved now, not when the URL was saved: DNS may have changed since.
        # Unresolvable is raised as it is: a DNS failure may pass, so it is retried.
        destination = outbound.destination_check(outgoing.url)
    except outbound.Refused as exc:
        raise Undeliverable(f"Refused: {exc}") from exc
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        outgoing.url,
        data=outgoing.body,
        headers={"Content-Type": "application/json", **outgoing.headers},
        method="POST",
    )
    outbound.pin(request, destination)
    with _opener.open(request, timeout=timeout or TIMEOUT_SECONDS) as answer:
        answer.read(MAX_ANSWER_BYTES)
        return answer.status


def _has_field(model, name: str) -> bool:
    return any(f.name == name for f in model._meta.concrete_fields)


def deliver(
    queryset: models.QuerySet,
    *,
    delivery_id: int,
    build: Callable[[models.Model], Outgoing],
    max_attempts: int,
) -> bool:
    """One attempt at a pending delivery of `queryset.model`. True when sent.

    Claims the attempt first (attempts n → n+1 while still pending); records the
    outcome; raises RetryLater while attempts remain, so the caller (a Celery task)
    retries with backoff; returns False once the delivery is failed, or when there was
    nothing to do (already sent, failed, or this attempt claimed elsewhere).
    """
    model = queryset.model
    pending, failed = model.Status.PENDING, model.Status.FAILED
    delivery = queryset.filter(pk=delivery_id, status=pending).first()
    if delivery is None:
        return False
    rows = model.objects.filter(pk=delivery.pk)
    try:
        outgoing = build(delivery)
        if not outgoing.url.startswith(("https://", "http://")):
            raise Undeliverable("The webhook URL must be http(s).")
    except Undeliverable as exc:
        rows.filter(status=pending).update(status=failed, last_error=str(exc))
        return False
    attempts = delivery.attempts + 1
    wait = backoff(attempts)
    # Claim this attempt, once it is due: a Celery retry and the sweeper never post the
    # same attempt twice, nor one before its backoff is over.
    now = timezone.now()
    if not rows.filter(
        status=pending, attempts=delivery.attempts, next_attempt_at__lte=now + EARLY_TOLERANCE
    ).update(attempts=attempts, next_attempt_at=now + dt.timedelta(seconds=wait)):
        return False
    # Built again from the row as it is now: an erasure (GDPR) may have scrubbed its
    # payload since it was read above, and what was erased must not be sent.
    delivery = queryset.filter(pk=delivery.pk).first()
    if delivery is None:
        return False
    try:
        outgoing = build(delivery)
    except Undeliverable as exc:  # the endpoint was switched off meanwhile
        rows.update(status=failed, last_error=str(exc))
        return False
    with_code = _has_field(model, "response_status_code")
    try:
        code = http_post(outgoing)
    except Undeliverable as exc:
        # A refused destination: nothing was sent, and as configured nothing ever will be.
        fields = {"status": failed, "last_error": str(exc)[:1000]}
        if with_code:
            fields["response_status_code"] = None
        rows.update(**fields)
        logger.warning("%s %s failed: %s", model.__name__, delivery.pk, exc)
        return False
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:1000]
        fields = {"last_error": error}
        if with_code:
            fields["response_status_code"] = (
                exc.code if isinstance(exc, urllib.error.HTTPError) else None
            )
        if isinstance(exc, urllib.error.HTTPError):
            exc.close()
        give_up = attempts >= max_attempts
        fields["status"] = failed if give_up else pending
        rows.update(**fields)
        if give_up:
            logger.warning(
                "%s %s failed after %d attempts: %s", model.__name__, delivery.pk, attempts, error
            )
            return False
        raise RetryLater(error, countdown=wait) from exc
    fields = {"status": model.Status.SENT, "sent_at": timezone.now(), "last_error": ""}
    if with_code:
        fields["response_status_code"] = code
    rows.update(**fields)
    return True


def redeliver_due(model, task, *, older_than_minutes: int = 2, limit: int = 500) -> int:
    """Sweeper: publish `task(pk)` for pending rows whose next attempt is overdue by
    more than `older_than_minutes` (their message was lost). Marks them as just
    republished, so the next sweep leaves them to this message for a while."""
    now = timezone.now()
    pending = model.Status.PENDING
    ids = list(
        model.objects.filter(
            status=pending, next_attempt_at__lt=now - dt.timedelta(minutes=older_than_minutes)
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    if ids:
        model.objects.filter(pk__in=ids, status=pending).update(next_attempt_at=now)
    for pk in ids:
        publish(task, pk)
    return len(ids)


# --- outgoing webhooks ----------------------------------------------------------------------

MAX_WEBHOOK_ATTEMPTS = 8  # about an hour of retries (30 s … 30 min)
SIGNATURE_HEADER = "X-CXHub-Signature"
_ENDPOINTS_TTL = 30.0
_subscribed: tuple[float, frozenset[str]] | None = None


def webhook_sign(*, secret: str, body: bytes, timestamp: int) -> str:
    """The X-CXHub-Signature value: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def subscribed_events() -> frozenset[str]:
    """Events at least one active endpoint wants, remembered for 30 s per process: the
    survey's hot path asks on every response, and with no endpoint it costs a lookup
    in a set. A new endpoint gets events within 30 s in every process."""
    global _subscribed
    now = time.monotonic()
    if _subscribed is None or _subscribed[0] < now:
        events: set[str] = set()
        try:
            with transaction.atomic():  # a savepoint: never break the caller's transaction
                for names in WebhookEndpoint.objects.filter(active=True).values_list(
                    "events", flat=True
                ):
                    events.update(names or ())
        except Exception:
            logger.exception("could not read the webhook endpoints")
        _subscribed = (now + _ENDPOINTS_TTL, frozenset(events))
    return _subscribed[1]


def webhook_endpoints_forget() -> None:
    global _subscribed
    _subscribed = None


def webhook_endpoint_create(
    *, url: str, events: list[str], description: str = "", active: bool = True
) -> WebhookEndpoint:
    """A new endpoint with a generated secret; this process sees it at once. Raises
    ValueError for unknown events, and cxhub.outbound's OutboundError (a ValueError) for
    a URL it refuses (a private address, a host that does not resolve)."""
    unknown = set(events) - set(WebhookEndpoint.Event.values)
    if unknown or not events:
        raise ValueError(f"choose events from {WebhookEndpoint.Event.values}, not {events!r}")
    outbound.destination_check(url)
    endpoint = WebhookEndpoint.objects.create(
        url=url, events=list(events), description=description, active=active
    )
    webhook_endpoints_forget()
    return endpoint


def webhook_event_emit(*, event: str, data: Callable[[], dict]) -> list[WebhookDelivery]:
    """Queue `event` for every active endpoint subscribed to it: one delivery row each
    (one event id shared by all, kept across retries), delivered after commit.

    Meant to run inside the transaction that made the event happen, so an event is
    never lost nor announced for a change that rolled back. Never raises: its writes
    run in a savepoint and a failure is logged. `data()` builds event_data, and is only
    called when someone listens.
    """
    if event not in subscribed_events():
        return []
    try:
        with transaction.atomic():
            endpoints = [
                pk
                for pk, events in WebhookEndpoint.objects.filter(active=True).values_list(
                    "pk", "events"
                )
                if event in (events or ())
            ]
            if not endpoints:
                return []
            now = timezone.now()
            event_id = uuid.uuid4()
            payload = {
                "event_type": event,
                "event_id": str(event_id),
                "created_at": int(now.timestamp()),
                "event_data": data(),
            }
            deliveries = WebhookDelivery.objects.bulk_create(
                WebhookDelivery(
                    endpoint_id=pk,
                    event=event,
                    event_id=event_id,
                    payload=payload,
                    created_at=now,
                    next_attempt_at=now,
                )
                for pk in endpoints
            )
    except Exception:
        logger.exception("webhook event %s not queued", event)
        return []
    from cxhub import tasks

    for delivery in deliveries:
        enqueue_on_commit(tasks.webhook_deliver, delivery.pk)
    return deliveries


def _webhook_request(delivery: WebhookDelivery) -> Outgoing:
    endpoint = delivery.endpoint
    if not endpoint.active:
        raise Undeliverable("The endpoint is inactive.")
    body = json.dumps(delivery.payload, sort_keys=True, separators=(",", ":")).encode()
    timestamp = int(time.time())
    return Outgoing(
        url=endpoint.url,
        body=body,
        headers={
            "User-Agent": "CX-Hub-Webhooks/1",
            "X-CXHub-Event": delivery.event,
            "X-CXHub-Event-Id": str(delivery.event_id),
            SIGNATURE_HEADER: webhook_sign(secret=endpoint.secret, body=body, timestamp=timestamp),
        },
    )


def webhook_deliver(*, delivery_id: int) -> bool:
    """POST one webhook delivery, signed with its endpoint's secret (see `deliver`)."""
    return deliver(
        WebhookDelivery.objects.select_related("endpoint"),
        delivery_id=delivery_id,
        build=_webhook_request,
        max_attempts=MAX_WEBHOOK_ATTEMPTS,
    )


def webhooks_redeliver(*, older_than_minutes: int = 2) -> int:
    """Sweeper for webhook deliveries whose message was lost or whose retry is overdue."""
    from cxhub import tasks

    return redeliver_due(
        WebhookDelivery, tasks.webhook_deliver, older_than_minutes=older_than_minutes
    )


def webhook_delivery_redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery | None:
    """Send a finished (sent or failed) delivery again, as a new row of the log with
    the same event id and payload, so the receiver can tell it is the same event. A
    pending delivery is already on its way: None."""
    if delivery.status == WebhookDelivery.Status.PENDING:
        return None
    now = timezone.now()
    with transaction.atomic():
        again = WebhookDelivery.objects.create(
            endpoint_id=delivery.endpoint_id,
            event=delivery.event,
            event_id=delivery.event_id,
            payload=delivery.payload,
            created_at=now,
            next_attempt_at=now,
        )
        from cxhub import tasks

        enqueue_on_commit(tasks.webhook_deliver, again.pk)
    return again


# --- event data -----------------------------------------------------------------------------


def _unix(moment: dt.datetime | None) -> int | None:
    return int(moment.timestamp()) if moment is not None else None


def response_event_data(response) -> dict:
    return {
        "id": response.pk,
        "touchpoint": response.touchpoint.slug,
        "score": response.score,
        "category": response.category,
        "comment": response.comment,
        "created_at": _unix(response.created_at),
        "updated_at": _unix(response.updated_at),
        "person_id": response.person_id,
    }


def case_event_data(case_id: int) -> dict:
    from feedback.models import FollowUpCase

    case = FollowUpCase.objects.prefetch_related("root_causes").get(pk=case_id)
    return {
        "id": case.pk,
        "response_id": case.response_id,
        "status": case.status,
        "outcome": case.outcome,
        "root_causes": sorted(rc.name for rc in case.root_causes.all()),
        "closed_at": _unix(case.closed_at),
    }


def person_event_data(person) -> dict:
    return {
        "id": person.pk,
        "email": person.email or None,
        "unsubscribed_at": _unix(person.unsubscribed_at),
    }
