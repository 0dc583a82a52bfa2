"""Customer Champions: postcards between colleagues, the leaderboard, praise and shout-outs.

`recognition` reads customer responses (surveys) and never changes them.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Value(models.Model):
    """What a postcard recognises ("went the extra mile"); the list is managed by CX admins."""

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
        return self.select_related("sender", "recipient", "value", "response__touchpoint")


class Postcard(models.Model):
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="postcards_sent"
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="postcards_received"
    )
    value = models.ForeignKey(Value, on_delete=models.PROTECT, related_name="postcards")
    message = models.TextField(max_length=1000)
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
        ]
        indexes = [
            models.Index(
                fields=["-created_at"], condition=Q(hidden_at__isnull=True), name="postcard_feed"
            ),
            models.Index(fields=["recipient", "-created_at"], name="postcard_recipient"),
            models.Index(fields=["sender", "created_at"], name="postcard_sender_day"),
        ]

    def __str__(self):
        return f"{self.sender} → {self.recipient}: {self.value}"


class PostcardMonthly(models.Model):
    """Visible postcards received per person and local month, kept in step with every
    send and hide in the same transaction: the leaderboard reads only this."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    month = models.DateField(help_text="First day of the local month.")
    received = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["recipient", "month"], name="postcardmonthly_unique"),
        ]
        indexes = [
            models.Index(
                fields=["month", "recipient"], include=["received"], name="postcardmonthly_month"
            )
        ]

    def __str__(self):
        return f"{self.recipient} {self.month:%Y-%m}: {self.received}"


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

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["response", "matched_name"], name="shoutout_unique_name"
            )
        ]
        indexes = [models.Index(fields=["lead", "status"])]

    def __str__(self):
        return f"Shout-out for {self.matched_name}"
