"""Writes for the attention loop: weekly digests, team alerts, NPS breach alerts."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import secrets
import time

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from cxhub import leases, selectors, webhooks
from cxhub.models import (
    AlertDelivery,
    ApiKey,
    DigestDelivery,
    DigestPreference,
    NpsBreach,
    TeamAlert,
)
from cxhub.queue import enqueue_on_commit, publish
from surveys import nps
from surveys import selectors as survey_selectors
from surveys.models import Touchpoint
from surveys.privacy import shown_comment

logger = logging.getLogger(__name__)


# --- weekly digest ------------------------------------------------------------------------


def digest_render(*, user, week=None) -> EmailMultiAlternatives:
    context = selectors.digest_context(user, week)
    context.update(
        {
            "scorecard_url": settings.SITE_URL + reverse("scorecard"),
            # A lead's listed cases link to their pages: prefix + pk + "/".
            "case_url": settings.SITE_URL
            + reverse("feedback:case-detail", args=[0]).removesuffix("0/"),
            "opt_out_url": settings.SITE_URL + reverse("digest-opt-out"),
        }
    )
    subject = f"Customer numbers, week of {context['week'].start:%d %b}: NPS {context['total'].nps if context['total'].nps is not None else '—'}"
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("cxhub/email/digest.txt", context),
        to=[user.email],
    )
    message.attach_alternative(render_to_string("cxhub/email/digest.html", context), "text/html")
    return message


def digest_send(*, user, week=None) -> bool:
    """Send one recipient's digest for the week, at most once.

    The (user, week) row is claimed first; a second run finds it and sends nothing. A
    send that failed is retried by the next run (hourly, see CELERY_BEAT_SCHEDULE); one
    whose worker died mid-send is not (at most once beats at least once for a weekly
    email).
    """
    week = week or selectors.digest_week()
    try:
        with transaction.atomic():
            delivery = DigestDelivery.objects.create(user=user, week=week.start)
    except IntegrityError:
        retried = DigestDelivery.objects.filter(
            user=user, week=week.start, status=DigestDelivery.Status.FAILED
        ).update(status=DigestDelivery.Status.SENDING)
        if not retried:
            return False
        delivery = DigestDelivery.objects.get(user=user, week=week.start)
    try:
        digest_render(user=user, week=week).send()
    except Exception as exc:
        DigestDelivery.objects.filter(pk=delivery.pk).update(
            status=DigestDelivery.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:1000]
        )
        logger.exception("weekly digest to %s failed", user)
        return False
    DigestDelivery.objects.filter(pk=delivery.pk).update(
        status=DigestDelivery.Status.SENT, sent_at=timezone.now()
    )
    return True


def digests_send_weekly(*, today: dt.date | None = None) -> int:
    """The last complete week's digest to every executive and team lead who has not
    opted out, once: Monday's first run sends it, later runs (hourly) only what failed
    or was never tried."""
    week = selectors.digest_week(today)
    return sum(1 for user in selectors.digest_recipients() if digest_send(user=user, week=week))


def digest_set_opt_out(*, user, opted_out: bool) -> DigestPreference:
    preference, _ = DigestPreference.objects.get_or_create(user=user)
    preference.opted_out_at = timezone.now() if opted_out else None
    preference.save(update_fields=["opted_out_at"])
    return preference


# --- team alerts (incoming webhooks) --------------------------------------------------------

_ALERT_TTL = 30.0
_alert_config: dict[int, tuple[float, TeamAlert | None]] = {}


def team_alert(team_id: int | None) -> TeamAlert | None:
    """The team's alert configuration, remembered for 30 s per process: the survey's hot
    path asks for it on every detractor."""
    if team_id is None:
        return None
    now = time.monotonic()
    hit = _alert_config.get(team_id)
    if hit is None or hit[0] < now:
        config = TeamAlert.objects.filter(team_id=team_id, active=True).first()
        hit = (now + _ALERT_TTL, config)
        _alert_config[team_id] = hit
    return hit[1]


def team_alerts_forget() -> None:
    _alert_config.clear()


def alert_send(
    *, team_id: int, kind: str, text: str, response_id: int | None = None
) -> AlertDelivery | None:
    """Log an alert for the team's webhook and deliver it in the background."""
    config = team_alert(team_id)
    if config is None:
        return None
    delivery = AlertDelivery.objects.create(
        team_id=team_id, kind=kind, text=text, response_id=response_id
    )
    from cxhub import tasks

    enqueue_on_commit(tasks.alert_deliver, delivery.pk)
    return delivery


MAX_ALERT_ATTEMPTS = 5


def _alert_request(delivery: AlertDelivery) -> webhooks.Outgoing:
    try:
        alert = delivery.team.alert
    except TeamAlert.DoesNotExist:
        raise webhooks.Undeliverable("The team has no alert webhook any more.") from None
    if not alert.active:  # switched off: what was still queued for it is not sent either
        raise webhooks.Undeliverable("The team's alert webhook is switched off.")
    return webhooks.Outgoing(
        url=alert.webhook_url, body=json.dumps({"text": delivery.text}).encode()
    )


def alert_deliver(*, delivery_id: int) -> bool:
    """POST the alert to the team's webhook, one claimed attempt at a time (the shared
    cxhub.webhooks.deliver): a failure is recorded and raised (RetryLater) so the task
    retries with backoff; after 5 attempts the delivery is marked failed."""
    return webhooks.deliver(
        AlertDelivery.objects.select_related("team__alert"),
        delivery_id=delivery_id,
        build=_alert_request,
        max_attempts=MAX_ALERT_ATTEMPTS,
    )


def alerts_redeliver(*, older_than_minutes: int = 2) -> int:
    """Sweeper: deliver pending alerts whose message was lost or whose retry is overdue."""
    from cxhub import tasks

    return webhooks.redeliver_due(
        AlertDelivery, tasks.alert_deliver, older_than_minutes=older_than_minutes
    )


def chat_escape(text: str) -> str:
    """Text as Slack-compatible chats show it literally: `<!channel>` and
    `<https://…|label>` are markup there, so & < > are escaped (Slack's own rule)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def alert_new_detractor(*, response) -> None:
    """Called inside the survey's transaction: one cached lookup, then only a log row."""
    team_id = response.touchpoint.owner_team_id
    config = team_alert(team_id)
    if config is None or not config.new_detractors:
        return
    # The team's chat: employees read it too, so no contact details (design §6); and
    # the customer's text cannot ping the channel or plant a disguised link there.
    shown = chat_escape(shown_comment(response, contact_details=False)[:200])
    comment = f": “{shown}”" if shown else ""
    alert_send(
        team_id=team_id,
        kind="new_detractor",
        text=f"New detractor ({response.score}) at {response.touchpoint.name}{comment}",
        response_id=response.pk,
    )


def alert_escalation(*, case_id: int) -> None:
    """Called inside the escalation's transaction: the alert's log row, delivered after
    commit (and by alerts_redeliver if that message is lost)."""
    from feedback.models import FollowUpCase

    case = FollowUpCase.objects.select_related("touchpoint").filter(pk=case_id).first()
    if case is None or case.team_id is None:
        return
    config = team_alert(case.team_id)
    if config is None or not config.escalations:
        return
    url = settings.SITE_URL + reverse("feedback:case-detail", args=[case.pk])
    alert_send(
        team_id=case.team_id,
        kind="escalation",
        text=f"Case #{case.pk} ({case.touchpoint.name}) is past its deadline: {url}",
    )


# --- NPS below target ------------------------------------------------------------------------


def nps_breaches_check(*, now: dt.datetime | None = None) -> list[NpsBreach]:
    """Open a breach (and alert the team lead, once) for every touchpoint whose 7-day NPS
    is below target by more than its margin of error; close breaches that recovered.
    A touchpoint with fewer than nps.MIN_SAMPLE answers in 7 days is judged on its last
    28 days instead; fewer than that there too says neither (one detractor is −100
    ± 0): it opens nothing and leaves an open breach open."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    counts = survey_selectors.counts_by_touchpoint(
        survey_selectors.Period.last_days(7, today=today)
    )
    wider = None  # the last 28 days, read once if a quiet touchpoint needs it
    opened = []
    for touchpoint in Touchpoint.objects.filter(active=True).select_related("owner_team__lead"):
        c = counts.get(touchpoint.pk, nps.Counts())
        if c.small_sample:
            if wider is None:
                wider = survey_selectors.counts_by_touchpoint(
                    survey_selectors.Period.last_days(28, today=today)
                )
            c = wider.get(touchpoint.pk, nps.Counts())
        if c.small_sample:
            continue
        gap = touchpoint.nps_target - c.nps
        below = gap > 0 and nps.significant(gap, c)  # the scorecard's "vs target" rule
        open_breach = NpsBreach.objects.filter(touchpoint=touchpoint, ended_at__isnull=True).first()
        if below and open_breach is None:
            with transaction.atomic():
                try:
                    with transaction.atomic():
                        breach = NpsBreach.objects.create(
                            touchpoint=touchpoint,
                            started_at=now,
                            nps=c.nps,
                            target=touchpoint.nps_target,
                            margin_of_error=c.margin_of_error,
                        )
                except IntegrityError:  # another run opened it first
                    continue
                from cxhub import tasks

                enqueue_on_commit(tasks.nps_breach_notify, breach.pk)
                opened.append(breach)
        elif not below and open_breach is not None:
            NpsBreach.objects.filter(pk=open_breach.pk).update(ended_at=now)
    _nps_breaches_notify_owed(now)
    return opened


def _nps_breaches_notify_owed(now: dt.datetime) -> None:
    """Breaches still open whose notification task was lost (broker down): again."""
    from cxhub import tasks

    owed = (
        NpsBreach.objects.filter(
            ended_at__isnull=True,
            notified_at__isnull=True,
            started_at__lt=now - dt.timedelta(minutes=10),
            started_at__gte=now - dt.timedelta(days=2),
        )
        .filter(leases.free("notify_claimed_at", now))
        .values_list("pk", flat=True)
    )
    for pk in owed:
        publish(tasks.nps_breach_notify, pk)


def nps_breach_notify(*, breach_id: int) -> bool:
    """Tell the team lead (email) and the team (alert) about the breach, once: leased
    before sending (cxhub.leases), released if sending fails, offered again by the
    hourly check if the worker died mid-send. Returns whether it did."""
    lease = "notify_claimed_at"
    if not leases.claim(NpsBreach.objects.filter(pk=breach_id, notified_at__isnull=True), lease):
        return False
    leases.finish(
        NpsBreach.objects.filter(pk=breach_id),
        lease,
        lambda: _nps_breach_tell(breach_id),
        notified_at=timezone.now(),
    )
    return True


def _nps_breach_tell(breach_id: int) -> None:
    breach = NpsBreach.objects.select_related("touchpoint__owner_team__lead").get(pk=breach_id)
    team = breach.touchpoint.owner_team
    text = (
        f"{breach.touchpoint.name}: NPS {breach.nps:+d} over the last 7 days, target {breach.target:+d} "
        f"(margin of error ±{breach.margin_of_error})."
    )
    lead = team.lead if team else None
    if lead and lead.email:
        send_mail(
            subject=f"Below target: {breach.touchpoint.name}",
            message=text
            + "\n\n"
            + settings.SITE_URL
            + reverse("touchpoint-detail", args=[breach.touchpoint.slug]),
            from_email=None,
            recipient_list=[lead.email],
        )
    if team:
        with transaction.atomic():
            alert_send(team_id=team.pk, kind="nps_breach", text=text)


# --- API keys -----------------------------------------------------------------------------

# Seconds between two writes of a key's last_used_at: one UPDATE per key and minute at
# most, instead of one per request on the API's hot paths.
API_KEY_TOUCH_EVERY = 60


def _api_key_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_key_create(*, name: str, scope: str, created_by) -> tuple[ApiKey, str]:
    """A new key and its secret. The secret is returned here and never again: only its
    SHA-256 is stored, so show it to the admin once and forget it."""
    if scope not in ApiKey.SCOPE_ORDER:
        raise ValueError(f"unknown API key scope {scope!r}")
    raw = ApiKey.PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        name=name.strip() or "API key",
        scope=scope,
        created_by=created_by,
        prefix=raw[: len(ApiKey.PREFIX) + 8],
        hashed_key=_api_key_hash(raw),
    )
    return key, raw


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Revoke a key: from the next request on it authenticates nothing. Idempotent (the
    first revocation time is kept)."""
    now = timezone.now()
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=now)
    api_key.refresh_from_db(fields=["revoked_at"])
    return api_key


_API_KEY_LOOKUP = (
    f"SELECT * FROM {ApiKey._meta.db_table} WHERE hashed_key = %s AND revoked_at IS NULL"  # noqa: S608 - the model's own table name
)


def api_key_authenticate(raw: str | None) -> ApiKey | None:
    """The active key whose secret is `raw`, or None (unknown, malformed or revoked).

    One indexed lookup by hash; last_used_at is refreshed at most once a minute.
    """
    raw = (raw or "").strip()
    if not raw.startswith(ApiKey.PREFIX) or len(raw) > 200:
        return None
    # A raw query: the API's every request makes it, and compiling the equivalent
    # filter() (with first()'s ORDER BY) was most of the lookup's CPU.
    found = list(ApiKey.objects.raw(_API_KEY_LOOKUP, [_api_key_hash(raw)]))
    if not found:
        return None
    key = found[0]
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > API_KEY_TOUCH_EVERY:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


# --- erasure of a customer (GDPR) -----------------------------------------------------------

ERASED_ALERT_COMMENT = ": (comment erased at the customer's request)"


def deliveries_erase_customer(*, person, response_ids: list[int]) -> tuple[int, int]:
    """GDPR erasure of a customer (surveys.hooks.person_erased, in its transaction): the
    outgoing logs lose what they quoted of them, whether sent, failed or still pending,
    so a delivery made after the erasure carries only what CX Hub still knows (the
    score), and a redelivery of an old event too.

    Webhook deliveries: their responses' survey_response.* events lose the comment and
    the person id; their unsubscribe.created events lose the email. Team alerts: the
    quote of their comment in a new-detractor alert goes: found by the alert's link to
    the response (whatever version of the comment it quoted), and, for alerts logged
    before that link existed, by the quote of the comment as it is now. Returns
    (webhook deliveries, alerts) changed."""
    from django.db.models import Q, Value
    from django.db.models.functions import Replace

    from cxhub.models import WebhookDelivery, WebhookEndpoint
    from surveys.models import Response

    Event = WebhookEndpoint.Event
    deliveries = WebhookDelivery.objects.select_for_update().filter(
        Q(event__in=[Event.RESPONSE_CREATED, Event.RESPONSE_UPDATED])
        & (
            Q(payload__event_data__id__in=response_ids)
            | Q(payload__event_data__person_id=person.pk)
        )
        | Q(event=Event.UNSUBSCRIBE_CREATED, payload__event_data__id=person.pk)
    )
    changed = []
    for delivery in deliveries:
        data = dict((delivery.payload or {}).get("event_data") or {})
        if delivery.event == Event.UNSUBSCRIBE_CREATED:
            data["email"] = None
        else:
            data.update(comment="", person_id=None)
        delivery.payload = {**delivery.payload, "event_data": data}
        changed.append(delivery)
    WebhookDelivery.objects.bulk_update(changed, ["payload"], batch_size=500)

    linked = []
    for alert in AlertDelivery.objects.select_for_update().filter(
        kind="new_detractor", response_id__in=response_ids
    ):
        # "New detractor (3) at Support call: “…”": the quote starts at the first ": “".
        head, quoted, _ = alert.text.partition(": “")
        if quoted:
            alert.text = head + ERASED_ALERT_COMMENT
            linked.append(alert)
    AlertDelivery.objects.bulk_update(linked, ["text"], batch_size=500)
    alerts = len(linked)
    for response in (
        Response.objects.filter(pk__in=response_ids)
        .exclude(comment="")
        .select_related("touchpoint", "person")
    ):
        shown = chat_escape(shown_comment(response, contact_details=False)[:200])
        if not shown:
            continue
        quote = f": “{shown}”"
        alerts += AlertDelivery.objects.filter(
            kind="new_detractor", response__isnull=True, text__contains=quote
        ).update(text=Replace("text", Value(quote), Value(ERASED_ALERT_COMMENT)))
    return len(changed), alerts


def delivery_logs_prune(*, now: dt.datetime | None = None, batch: int = 5000) -> int:
    """Delete the webhook and team-alert deliveries sent or failed more than
    DELIVERY_LOG_RETENTION_DAYS ago (pending ones stay until they are done), in batches
    so no lock is held long. They quote customers' answers, and an erasure scans them:
    the log keeps what helps to debug a receiver, not years of it. Returns how many."""
    from cxhub.models import WebhookDelivery

    now = now or timezone.now()
    before = now - dt.timedelta(days=settings.DELIVERY_LOG_RETENTION_DAYS)
    deleted = 0
    for model in (WebhookDelivery, AlertDelivery):
        done = model.objects.filter(
            created_at__lt=before, status__in=[model.Status.SENT, model.Status.FAILED]
        )
        while ids := list(done.values_list("pk", flat=True)[:batch]):
            deleted += model.objects.filter(pk__in=ids).delete()[0]
    return deleted
