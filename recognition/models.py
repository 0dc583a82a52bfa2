"""Customer Champions: postcards between colleagues, the leaderboard, praise and shout-outs.

`recognition` reads customer responses (surveys) and never changes them.
"""

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import OuterRef, Q, Subquery
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone

MESSAGE_MAX_LENGTH = 1000


class Value(models.Model):
    """What a postcard recognises ("went the extra mile"); the list is managed by CX admins.

    An inactive value is no longer offered in the form; postcards already sent keep it.
    """

    name = models.CharField(max_length=80, unique=True)
    position = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self):
        return self.name


class Profile(models.Model):
    """Recognition settings of an employee: the nickname customers may use."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="champion_profile"
    )
    nickname = models.CharField(
        max_length=40,
        blank=True,
        default="",
        help_text="A name customers use for you (e.g. 'Benji'); shout-outs match it too.",
    )

    def __str__(self):
        return f"{self.user} ({self.nickname})" if self.nickname else str(self.user)


class PostcardQuerySet(models.QuerySet):
    def visible(self):
        return self.filter(hidden_at__isnull=True)

    def for_feed(self):
        """What a postcard card shows, and no more: user rows are wide, and the name of
        the touchpoint of an inspiring response comes from a subquery (joining the
        response and its touchpoint tripled the feed's planning time)."""
        from surveys.models import Response

        touchpoint = Response.objects.filter(pk=OuterRef("response_id")).values("touchpoint__name")[
            :1
        ]
        return (
            self.select_related("sender", "recipient", "value")
            .only(
                "created_at",
                "message",
                "from_customer",
                "response_id",
                "sender__username",
                "sender__first_name",
                "sender__last_name",
                "recipient__username",
                "recipient__first_name",
                "recipient__last_name",
                "value__name",
            )
            .annotate(inspired_at=Subquery(touchpoint))
        )


class Postcard(models.Model):
    """A Customer Champion postcard. Hidden ones (hidden_at set) count nowhere."""

    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="postcards_sent"
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="postcards_received"
    )
    value = models.ForeignKey(Value, on_delete=models.PROTECT, related_name="postcards")
    message = models.TextField(max_length=MESSAGE_MAX_LENGTH)
    response = models.ForeignKey(
        "surveys.Response",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="postcards",
        help_text="The customer response that inspired it.",
    )
    from_customer = models.BooleanField(
        default=False, help_text="A customer shout-out published by the team lead (the sender)."
    )
    # A double submit carries the same key: the second one finds the first postcard.
    idempotency_key = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    hidden_at = models.DateTimeField(null=True, blank=True)
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    hidden_reason = models.CharField(max_length=200, blank=True, default="")
    # Claimed by the notification task before it emails, so a re-delivered task does
    # not email twice; a sweeper re-sends what stayed unclaimed.
    notified_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The lease on that email while a worker sends it (cxhub.leases).
    notify_claimed_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = PostcardQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["sender", "idempotency_key"], name="postcard_unique_submit"
            ),
            models.CheckConstraint(
                condition=~Q(sender=models.F("recipient")) | Q(from_customer=True),
                name="postcard_not_to_oneself",
            ),
            models.CheckConstraint(
                condition=~Q(message="") & LessThanOrEqual(Length("message"), MESSAGE_MAX_LENGTH),
                name="postcard_message_1_to_1000",
            ),
        ]
        indexes = [
            models.Index(
                fields=["-created_at"], condition=Q(hidden_at__isnull=True), name="postcard_feed"
            ),
            models.Index(fields=["recipient", "-created_at"], name="postcard_recipient"),
            models.Index(fields=["sender", "created_at"], name="postcard_sender_day"),
            # The notification sweeper's work list (nearly always empty).
            models.Index(
                fields=["created_at"],
                condition=Q(notified_at__isnull=True),
                name="postcard_unnotified",
            ),
        ]

    def __str__(self):
        return f"{self.sender} → {self.recipient}: {self.value}"


class PostcardCount(models.Model):
    """Visible postcards a person received in one month, quarter, year, or all time.

    Kept in step with every send and hide in the same transaction (four rows per
    postcard: its local month, quarter and year, and all time), so a leaderboard is
    one index scan of a single period's rows, whatever the number of postcards.
    `services.postcard_counters_rebuild` recomputes them from the postcards.
    """

    class Period(models.TextChoices):
        MONTH = "month", "Month"
        QUARTER = "quarter", "Quarter"
        YEAR = "year", "Year"
        ALL = "all", "All time"

    ALL_TIME_START = dt.date(2000, 1, 1)

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    period = models.CharField(max_length=8, choices=Period.choices)
    start = models.DateField(help_text="First local day of the period (2000-01-01 for all time).")
    received = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["period", "start", "recipient"], name="postcardcount_unique"
            ),
        ]
        indexes = [
            # The leaderboard: the top of one period, read in order, straight off the index.
            models.Index(
                fields=["period", "start", "-received", "recipient"], name="postcardcount_rank"
            ),
        ]

    def __str__(self):
        return f"{self.recipient} {self.period} {self.start}: {self.received}"


class PraiseExclusion(models.Model):
    """A promoter comment a CX admin took off the praise wall."""

    response = models.OneToOneField(
        "surveys.Response", on_delete=models.CASCADE, related_name="praise_exclusion"
    )
    excluded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    excluded_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"Excluded response {self.response_id}"


class ShoutOut(models.Model):
    """A promoter comment that names an employee: a postcard "from the customer" for
    the lead to publish. When the name fits several people, they are all candidates
    and the lead chooses."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for the lead"
        PUBLISHED = "published", "Published"
        DISMISSED = "dismissed", "Dismissed"

    response = models.ForeignKey(
        "surveys.Response", on_delete=models.CASCADE, related_name="shoutouts"
    )
    matched_name = models.CharField(max_length=120)
    candidates = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="shoutout_candidacies"
    )
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="shoutouts_to_review",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    postcard = models.OneToOneField(
        Postcard, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "customer shout-out"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["response", "matched_name"], name="shoutout_unique_name"
            )
        ]
        indexes = [models.Index(fields=["lead", "status"])]

    def __str__(self):
        return f"Shout-out for {self.matched_name}"
