import datetime as dt
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext_noop

from surveys import nps
from surveys.privacy import customer_label

# Asked when a touchpoint sets no question of its own; translated in locale/.
DEFAULT_QUESTION = gettext_noop("How likely are you to recommend us to a friend or colleague?")

# What a touchpoint's translations may hold per language, and each text's longest length
# (the length of the field it translates).
TRANSLATED_TEXTS = {"name": 100, "question": 300}


def translation_languages() -> list[tuple[str, str]]:
    """The languages a touchpoint's customer texts can be translated into: every
    language of the survey pages but the default one, whose texts are `name` and
    `question` themselves."""
    return [(code, label) for code, label in settings.LANGUAGES if code != settings.LANGUAGE_CODE]


def validate_touchpoint_translations(value) -> None:
    """{"fr": {"name": "Appel au support", "question": "…"}}: languages of the survey
    pages (not the default one), only the translatable texts, non-blank strings that
    fit the fields they translate."""
    if not isinstance(value, dict):
        raise ValidationError("Translations must be an object keyed by language code.")
    languages = dict(translation_languages())
    for code, texts in value.items():
        if code not in languages:
            raise ValidationError(
                f"{code!r} is not a language of the survey pages other than the default: "
                f"use one of {', '.join(languages) or 'none'}."
            )
        if not isinstance(texts, dict):
            raise ValidationError(f"The {code!r} translations must be an object.")
        for key, text in texts.items():
            if key not in TRANSLATED_TEXTS:
                raise ValidationError(
                    f"{key!r} cannot be translated: only {', '.join(TRANSLATED_TEXTS)}."
                )
            if not isinstance(text, str) or not text.strip():
                raise ValidationError(f"The {code!r} {key} must be a non-blank string.")
            if len(text) > TRANSLATED_TEXTS[key]:
                raise ValidationError(
                    f"The {code!r} {key} is {len(text)} characters long, "
                    f"at most {TRANSLATED_TEXTS[key]}."
                )


class Touchpoint(models.Model):
    """A moment in the customer journey where we ask the NPS question."""

    name = models.CharField(
        max_length=100,
        help_text="What staff pages, reports and the API call it. Customers see it too, "
        "unless it is translated into their language below.",
    )
    slug = models.SlugField(max_length=100, unique=True)
    owner_team = models.ForeignKey(
        "cxhub.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="touchpoints"
    )
    question = models.CharField(
        max_length=300,
        blank=True,
        help_text="Leave blank for the standard question: how likely are you to recommend us? "
        "(translated for customers).",
    )
    # What customers see in another language than the default: {"fr": {"name": …,
    # "question": …}}. Only the survey pages and the survey email read it (customer_name,
    # customer_question); staff pages, the API and the dashboards keep `name`.
    translations = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_touchpoint_translations],
        help_text='Customer-facing texts per language: {"fr": {"name": "…", "question": "…"}}.',
    )
    nps_target = models.SmallIntegerField(
        "NPS target",
        default=30,
        validators=[MinValueValidator(-100), MaxValueValidator(100)],
        help_text="The NPS this touchpoint aims for (-100 to 100).",
    )
    followup_deadline_hours = models.PositiveIntegerField(
        "follow-up deadline (hours)",
        default=48,
        # 0 would make every new detractor's case overdue, and escalated, at once.
        validators=[MinValueValidator(1)],
        help_text="How long after a detractor's answer their follow-up call is due (at least 1).",
    )
    resurvey_after_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Re-survey a resolved detractor after N days (off when blank).",
    )
    quiet_period_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Do not invite the same person again within N days (blank: the default, 30).",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(nps_target__gte=-100) & Q(nps_target__lte=100),
                name="touchpoint_nps_target_range",
            )
        ]

    def __str__(self):
        return self.name

    def _translated(self, key: str, language: str | None) -> str:
        """The `key` text translated into `language` ("fr", "fr-ca", "fr_FR" all find
        "fr"), or "". Written defensively: the field is also writable outside forms, and
        a survey page must never fail on it."""
        translations = self.translations if isinstance(self.translations, dict) else {}
        code = (language or "").lower().replace("_", "-")
        for candidate in dict.fromkeys((code, code.split("-")[0])):
            texts = translations.get(candidate)
            text = texts.get(key) if isinstance(texts, dict) else None
            if isinstance(text, str) and text.strip():
                return text
        return ""

    def customer_texts(self) -> dict[str, dict[str, str]]:
        """The translations set, per language of translation_languages():
        {"fr": {"name": "Appel au support"}} (texts left empty are left out)."""
        texts = {}
        for code, _ in translation_languages():
            set_here = {key: self._translated(key, code) for key in TRANSLATED_TEXTS}
            if any(set_here.values()):
                texts[code] = {key: text for key, text in set_here.items() if text}
        return texts

    def customer_name(self, language: str | None = None) -> str:
        """The name a customer sees in `language` (default: the active language): its
        translation, else the name staff use."""
        return self._translated("name", language or translation.get_language()) or self.name

    def customer_question(self, language: str | None = None) -> str:
        """The question a customer is asked in `language` (default: the active
        language): its translation, else the touchpoint's own question, else the
        standard question in that language."""
        language = language or translation.get_language() or settings.LANGUAGE_CODE
        text = self._translated("question", language) or self.question
        if text:
            return text
        with translation.override(language):
            return translation.gettext(DEFAULT_QUESTION)

    @property
    def effective_quiet_period_days(self) -> int:
        if self.quiet_period_days is None:
            return settings.SURVEY_QUIET_PERIOD_DAYS
        return self.quiet_period_days


class PersonQuerySet(models.QuerySet):
    def subscribed(self):
        return self.filter(unsubscribed_at__isnull=True)


class Person(models.Model):
    """Someone we survey. Either email or phone identifies them."""

    email = models.EmailField(max_length=254, blank=True, default="")
    phone = models.CharField(
        max_length=20, blank=True, default="", help_text="E.164, e.g. +33612345678"
    )
    name = models.CharField(max_length=200, blank=True, default="")
    external_id = models.CharField(max_length=200, blank=True, default="")
    locale = models.CharField(max_length=10, blank=True, default="")
    properties = models.JSONField(default=dict, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    # When an email to this person bounced (permanently): shown by /v1/bounces.
    bounced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PersonQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["email"], condition=~Q(email=""), name="person_unique_email"
            ),
            models.UniqueConstraint(
                fields=["phone"], condition=~Q(phone=""), name="person_unique_phone"
            ),
            models.CheckConstraint(
                condition=~Q(email="", phone=""), name="person_has_email_or_phone"
            ),
        ]
        verbose_name_plural = "people"

    def __str__(self):
        return self.name or self.email or self.phone

    @property
    def first_name_and_initial(self) -> str:
        """How praise shown to all staff names a customer: 'Marie D.' at most, never
        a contact detail (privacy.customer_label)."""
        return customer_label(self.name)


class TargetChange(models.Model):
    """A touchpoint's NPS target from a local day on: the history that keeps a past
    period judged against the target it had then, after a CX admin changes it.

    Touchpoint.nps_target is the target now. A touchpoint with no row here has always
    had it; the first change records the old target too, applying SINCE_THE_START (a
    period may predate the touchpoint: imported history), then the new one from the
    day of the change (services.touchpoint_target_changed). A period reads the target
    in force on its last day (selectors.targets_on).
    """

    SINCE_THE_START = dt.date.min

    touchpoint = models.ForeignKey(Touchpoint, on_delete=models.CASCADE, related_name="targets")
    nps_target = models.SmallIntegerField("NPS target")
    applies_from = models.DateField(help_text="The first local day this target applies to.")
    changed_at = models.DateTimeField(default=timezone.now)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["touchpoint", "-applies_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["touchpoint", "applies_from"], name="target_change_one_a_day"
            ),
            models.CheckConstraint(
                condition=Q(nps_target__gte=-100) & Q(nps_target__lte=100),
                name="target_change_range",
            ),
        ]

    def __str__(self):
        since = "the start" if self.applies_from == self.SINCE_THE_START else self.applies_from
        return f"{self.touchpoint}: target {self.nps_target:+d} from {since}"


class Suppression(models.Model):
    """An address that stays unsubscribed (or bounced) after its person was erased.

    Erasure (services.person_erase) deletes the person, and with them `unsubscribed_at`
    and `bounced_at`; an integration or a CRM sync re-creating them would survey them
    again. So erasure leaves one row per address and kind here, and every path that
    creates a person marks the new person unsubscribed / bounced when one matches.

    No address is kept: `digest` is the HMAC-SHA256 of "email:<lowercased address>" or
    "phone:<E.164 number>" (services.suppression_digest), keyed with a key derived from
    SECRET_KEY (salted_hmac, salt "cxhub.suppression"). A plain hash would not do: an
    email address is guessable, so its SHA-256 is as good as the address.

    Rotating SECRET_KEY: a digest is matched under SECRET_KEY and every key in
    SECRET_KEY_FALLBACKS; a row made under a key dropped from both matches nothing any
    more (and, without the address, cannot be re-keyed). Keep a retired key in
    SECRET_KEY_FALLBACKS for as long as its suppressions must hold.

    An unsubscribe suppresses the email and the phone; a bounce only the email (the
    address the mail server refused). A superuser lifts one by deleting it in the admin.
    """

    class Kind(models.TextChoices):
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        BOUNCED = "bounced", "Bounced"

    kind = models.CharField(max_length=12, choices=Kind.choices)
    digest = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # digest first: a person's creation looks up their digests, of any kind.
            models.UniqueConstraint(
                fields=["digest", "kind"], name="suppression_unique_digest_kind"
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.digest[:12]}…"


class InvitationQuerySet(models.QuerySet):
    def due(self, now=None):
        now = now or timezone.now()
        return self.filter(status=Invitation.Status.SCHEDULED, scheduled_for__lte=now)


class Invitation(models.Model):
    """One survey request to one person at one touchpoint, answered at most once."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "SMS"
        WEB = "web", "Web link"

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class SkipReason(models.TextChoices):
        UNSUBSCRIBED = "unsubscribed", "Person has unsubscribed"
        BOUNCED = "bounced", "Email address bounced"
        QUIET_PERIOD = "quiet_period", "Invited recently (quiet period)"
        NO_ADDRESS = "no_address", "No address for this channel"
        INACTIVE_TOUCHPOINT = "inactive_touchpoint", "Touchpoint is not active"

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="invitations")
    touchpoint = models.ForeignKey(Touchpoint, on_delete=models.PROTECT, related_name="invitations")
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    token = models.CharField(max_length=64, unique=True, editable=False)
    locale = models.CharField(max_length=10, blank=True, default="")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SCHEDULED)
    skip_reason = models.CharField(
        max_length=30, choices=SkipReason.choices, blank=True, default=""
    )
    properties = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    scheduled_for = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    send_attempts = models.PositiveSmallIntegerField(default=0)
    # When a worker claimed the send (scheduled → sending): the sweeper frees a claim
    # only once it is old enough that its worker must have died.
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "scheduled_for"]),
            models.Index(fields=["person", "created_at"]),
        ]

    def __str__(self):
        return f"{self.touchpoint} → {self.person}"

    @staticmethod
    def new_token() -> str:
        return secrets.token_urlsafe(32)

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now() or self.status in (
            self.Status.SKIPPED,
            self.Status.CANCELLED,
        )


class ResponseQuerySet(models.QuerySet):
    def with_related(self):
        return self.select_related("touchpoint", "person")


class Response(models.Model):
    """An answer: a score 0–10 and an optional comment. One per invitation."""

    class Category(models.TextChoices):
        PROMOTER = nps.PROMOTER, "Promoter"
        PASSIVE = nps.PASSIVE, "Passive"
        DETRACTOR = nps.DETRACTOR, "Detractor"

    # No single-column indexes on these two: the composite indexes below start with
    # them and serve every lookup, and each index is paid on every survey POST.
    touchpoint = models.ForeignKey(
        Touchpoint, on_delete=models.PROTECT, related_name="responses", db_index=False
    )
    person = models.ForeignKey(
        Person,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="responses",
        db_index=False,
    )
    invitation = models.OneToOneField(
        Invitation, null=True, blank=True, on_delete=models.SET_NULL, related_name="response"
    )
    score = models.PositiveSmallIntegerField()
    category = models.CharField(max_length=10, choices=Category.choices)
    comment = models.TextField(blank=True, default="")
    properties = models.JSONField(default=dict, blank=True)
    channel = models.CharField(max_length=10, choices=Invitation.Channel.choices)
    # First submission: the day a response belongs to. Answering again keeps it.
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Where an imported response came from ("delighted:<response id>", or a digest of
    # the row): importing the same file twice adds nothing. Blank for live answers.
    source_key = models.CharField(max_length=100, blank=True, default="", db_default="")

    objects = ResponseQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(score__gte=0) & Q(score__lte=10), name="response_score_0_10"
            ),
            models.CheckConstraint(
                condition=(
                    Q(category=nps.DETRACTOR, score__lte=6)
                    | Q(category=nps.PASSIVE, score__in=[7, 8])
                    | Q(category=nps.PROMOTER, score__gte=9)
                ),
                name="response_category_matches_score",
            ),
            models.UniqueConstraint(
                fields=["source_key"],
                condition=~Q(source_key=""),
                name="response_unique_source_key",
            ),
        ]
        indexes = [
            # Drill-down by touchpoint and period; carries the score so it is index-only.
            models.Index(fields=["touchpoint", "created_at", "score"], name="response_tp_created"),
            models.Index(fields=["updated_at"], name="response_updated"),
            models.Index(fields=["person", "created_at"], name="response_person_created"),
            # Latest comments of a touchpoint (most responses carry none).
            models.Index(
                fields=["touchpoint", "-created_at"],
                condition=~Q(comment=""),
                name="response_tp_comments",
            ),
        ]

    def __str__(self):
        return f"{self.score} at {self.touchpoint}"


class NpsDaily(models.Model):
    """Counts per touchpoint and local day: what every dashboard reads.

    Recomputed from responses for a (touchpoint, day), so recomputing is idempotent.
    """

    touchpoint = models.ForeignKey(Touchpoint, on_delete=models.CASCADE, related_name="daily")
    date = models.DateField()
    promoters = models.PositiveIntegerField(default=0)
    passives = models.PositiveIntegerField(default=0)
    detractors = models.PositiveIntegerField(default=0)
    # Responses per score, index 0 to 10: the touchpoint page's distribution.
    score_counts = models.JSONField(default=list)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["touchpoint", "date"], name="npsdaily_unique_day")
        ]
        indexes = [models.Index(fields=["date", "touchpoint"], name="npsdaily_date_tp")]
        verbose_name = "daily NPS rollup"

    def __str__(self):
        return f"{self.touchpoint} {self.date}"

    @property
    def counts(self) -> nps.Counts:
        return nps.Counts(self.promoters, self.passives, self.detractors)


class ResponseImport(models.Model):
    """One CSV file of responses imported in the background, with its progress and a
    report of the rows it skipped and why.

    The file's text is kept in the row (not on a disk the web and worker containers
    would have to share); it is cleared once the import has finished.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to start"
        RUNNING = "running", "Importing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    filename = models.CharField(max_length=255)
    content = models.TextField(blank=True, default="")
    default_touchpoint = models.ForeignKey(
        Touchpoint,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="For rows that do not name a touchpoint (Delighted exports never do).",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    imported = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    # [{"row": 12, "reason": "score: must be a whole number from 0 to 10"}, ...] (capped).
    report = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    # The run's heartbeat: set at the start and by every committed batch. A run whose
    # heartbeat stopped is a dead worker's, which the sweeper resumes; a slow one is not.
    progressed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Import of {self.filename} ({self.get_status_display()})"

    @property
    def percent_done(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.rows_total:
            return 0
        return min(100, self.rows_done * 100 // self.rows_total)
