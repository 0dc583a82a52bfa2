"""The organisation: teams, who belongs to them and in which role.

Executives and CX admins are Django groups (see cxhub.roles); team roles live on
Membership because a person can lead one team and merely belong to another.
"""

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="led_teams",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        EMPLOYEE = "employee", "Employee"
        MANAGER = "manager", "Manager"
        LEAD = "lead", "Team lead"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.EMPLOYEE)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "team"], name="membership_unique_user_team")
        ]
        indexes = [models.Index(fields=["team", "role"])]

    def __str__(self):
        return f"{self.user} in {self.team} ({self.get_role_display()})"


class DigestPreference(models.Model):
    """A recipient's choice about the weekly digest (executives and team leads get it)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="digest_preference"
    )
    opted_out_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.user}: {'opted out' if self.opted_out_at else 'subscribed'}"


class DigestDelivery(models.Model):
    """One weekly digest to one person. The unique (user, week) row is claimed before
    the email goes out, so a digest is sent at most once per recipient and week."""

    class Status(models.TextChoices):
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    week = models.DateField(help_text="Monday of the week the digest covers.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.SENDING)
    claimed_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "week"], name="digest_once_per_week")
        ]
        verbose_name_plural = "digest deliveries"

    def __str__(self):
        return f"Digest {self.week} to {self.user} ({self.status})"


class TeamAlert(models.Model):
    """Where a team wants its alerts: an incoming webhook (Slack or compatible)."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="alert")
    webhook_url = models.URLField(max_length=500)
    new_detractors = models.BooleanField(default=True)
    escalations = models.BooleanField(default=True)
    active = models.BooleanField(default=True)

    def __str__(self):
        return f"Alerts for {self.team}"


class AlertDelivery(models.Model):
    """The log of every webhook alert: what, where, how it went."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="alert_deliveries")
    kind = models.CharField(max_length=30)
    text = models.TextField()
    # The answer a new-detractor alert quotes: an erasure (GDPR) finds its alerts by it.
    response = models.ForeignKey(
        "surveys.Response", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # When the retry of the last attempt is due; the sweeper picks it up once overdue.
    next_attempt_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "alert deliveries"

    def __str__(self):
        return f"{self.kind} to {self.team} ({self.status})"


class NpsBreach(models.Model):
    """A touchpoint whose 7-day NPS is below target by more than its margin of error.
    One row per breach, from when it started to when it ended: alerted once."""

    touchpoint = models.ForeignKey(
        "surveys.Touchpoint", on_delete=models.CASCADE, related_name="breaches"
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    nps = models.SmallIntegerField()
    target = models.SmallIntegerField()
    margin_of_error = models.DecimalField(max_digits=5, decimal_places=1)
    # When the lead was told (email and team alert); empty while that is still owed.
    notified_at = models.DateTimeField(null=True, blank=True)
    # The lease on its notification while a worker sends it (cxhub.leases).
    notify_claimed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["touchpoint"],
                condition=models.Q(ended_at__isnull=True),
                name="one_open_breach",
            )
        ]
        verbose_name = "NPS breach"
        verbose_name_plural = "NPS breaches"

    def __str__(self):
        return f"{self.touchpoint} below target since {self.started_at:%Y-%m-%d}"


class ApiKey(models.Model):
    """A named key an integration uses to call the REST API (native /api/ and /v1/).

    Created by a CX admin; the full key is shown once, at creation. Only its SHA-256
    is stored (keys are 256-bit random secrets, so a fast hash is enough: nothing to
    brute-force), plus a short `prefix` to recognise it in lists and logs. Revoking
    sets `revoked_at`; a revoked key authenticates nothing from the next request on.

    Scopes follow design §6. Each includes the ones before it:

    - read: touchpoints, metrics, responses and people *without* customer personal
      data (no email, phone or name), postcards and the leaderboard — what any
      employee sees;
    - write: read, plus creating people, invitations and responses (batch too);
      what it reads back still carries no personal data;
    - admin: everything, including customer personal data and every follow-up case —
      what a CX admin sees.
    """

    class Scope(models.TextChoices):
        READ = "read", "Read (metrics, responses; no personal data)"
        WRITE = "write", "Write (read + create people, invitations, responses)"
        ADMIN = "admin", "Admin (everything, including personal data and cases)"

    # Scopes in increasing power: a key allows its own scope and those before it.
    SCOPE_ORDER = ("read", "write", "admin")
    PREFIX = "cxh_"

    name = models.CharField(max_length=100, help_text="What uses this key, e.g. 'CRM sync'.")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    hashed_key = models.CharField(max_length=64, unique=True, editable=False)
    scope = models.CharField(max_length=5, choices=Scope.choices, default=Scope.READ)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="api_keys",
        editable=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: str) -> bool:
        """True when this key's scope includes `scope` (read < write < admin)."""
        return self.SCOPE_ORDER.index(self.scope) >= self.SCOPE_ORDER.index(scope)


def webhook_secret_new() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class WebhookEndpoint(models.Model):
    """A URL a CX admin wants events posted to, signed with the endpoint's secret.

    Endpoints are deactivated, never deleted, so the delivery log keeps its endpoint.
    """

    class Event(models.TextChoices):
        RESPONSE_CREATED = "survey_response.created", "survey_response.created"
        RESPONSE_UPDATED = "survey_response.updated", "survey_response.updated"
        CASE_CLOSED = "case.closed", "case.closed"
        UNSUBSCRIBE_CREATED = "unsubscribe.created", "unsubscribe.created"

    url = models.URLField(max_length=500, help_text="http(s) URL that receives the POSTs.")
    description = models.CharField(max_length=200, blank=True, default="")
    secret = models.CharField(
        max_length=100,
        default=webhook_secret_new,
        help_text="Signs every delivery (X-CXHub-Signature); give it to the receiver.",
    )
    events = models.JSONField(default=list, help_text="Event names this endpoint receives.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.description or self.url


class WebhookDelivery(models.Model):
    """The delivery log: one event to one endpoint, and how it went."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=40, choices=WebhookEndpoint.Event.choices)
    # One id per event, the same for every endpoint, every retry and every redelivery:
    # receivers dedupe on it.
    event_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    payload = models.JSONField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="webhookdelivery_pending_due",
            )
        ]

    def __str__(self):
        return f"{self.event} to {self.endpoint} ({self.status})"
