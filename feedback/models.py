"""Follow-up of detractors: cases, contact attempts, the timeline, root causes, actions.

Case flow (documented in README "Detractor follow-up"):

    new ──claim/assign──▶ assigned ──first attempt──▶ in progress ──▶ closed
                                                              (resolved | unreachable)

A case is opened in the transaction that records a detractor's response. If the
customer later changes the answer to 7–10 before anyone has tried to reach them,
the case closes itself as "no longer a detractor"; once work has started it stays
open and the change is put on the timeline. A drop back to 0–6 reopens it.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class RootCause(models.Model):
    """A tag, managed by CX admins, naming why a customer was unhappy."""

    name = models.CharField(max_length=100)
    touchpoint = models.ForeignKey(
        "surveys.Touchpoint",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="root_causes",
        help_text="Blank: offered for every touchpoint.",
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["name", "touchpoint"], name="rootcause_unique_name")
        ]

    def __str__(self):
        return self.name


class CaseQuerySet(models.QuerySet):
    def open(self):
        # IN (…) rather than != 'closed', so the status indexes serve it.
        return self.filter(status__in=FollowUpCase.OPEN_STATUSES)

    def overdue(self, now=None):
        return self.open().filter(due_at__lt=now or timezone.now())

    def for_queue(self):
        return self.select_related("response__touchpoint", "assignee")

    def for_case_page(self):
        return self.select_related(
            "response__touchpoint", "response__person", "assignee", "team", "touchpoint"
        )


HEALTH_COLUMNS = [
    "first_contact_at",
    "due_at",
    "outcome",
    "recovered_at",
    "team",
    "reached_in_time",
]


class FollowUpCase(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "New"
        ASSIGNED = "assigned", "Assigned"
        IN_PROGRESS = "in_progress", "In progress"
        CLOSED = "closed", "Closed"

    class Outcome(models.TextChoices):
        RESOLVED = "resolved", "Resolved"
        UNREACHABLE = "unreachable", "Unreachable"
        NO_LONGER_DETRACTOR = "no_longer_detractor", "Customer changed their score"

    OPEN_STATUSES = (Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS)

    response = models.OneToOneField(
        "surveys.Response", on_delete=models.PROTECT, related_name="case"
    )
    # The response's touchpoint, copied so loop health per touchpoint needs no join.
    # touchpoint, team and assignee have no single-column index: the composite indexes
    # in Meta start with them and serve every lookup (each index costs every insert).
    touchpoint = models.ForeignKey(
        "surveys.Touchpoint", on_delete=models.PROTECT, related_name="cases", db_index=False
    )
    team = models.ForeignKey(
        "cxhub.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="cases",
        db_index=False,
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_cases",
        db_index=False,
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NEW)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True, default="")
    priority = models.PositiveSmallIntegerField(default=1, help_text="0 (low) to 3 (highest)")
    due_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    assigned_at = models.DateTimeField(null=True, blank=True)
    first_contact_at = models.DateTimeField(
        null=True, blank=True, help_text="When someone first spoke with the customer."
    )
    # Decided at the first contact, against the deadline the case had then: a reopened
    # case gets a new deadline, and must not turn a late first call into one in time.
    reached_in_time = models.BooleanField(null=True, blank=True, editable=False)
    closed_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    # The emails owed for this case, kept until sent so that a lost task message is
    # made good by the sweeper (feedback.services.cases_notify_sweep).
    assignee_to_notify = models.BooleanField(
        default=False,
        db_default=False,  # rows written by raw SQL (COPY in the benches) owe nothing
        help_text="The assignee, given the case by someone else, is yet to be emailed.",
    )
    escalation_notified_at = models.DateTimeField(null=True, blank=True)
    # Leases on those emails while a worker sends them (cxhub.leases).
    assignee_notify_claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    escalation_notify_claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    root_causes = models.ManyToManyField(RootCause, blank=True, related_name="cases")
    resolution = models.TextField(blank=True, default="")
    resurvey_invitation = models.ForeignKey(
        "surveys.Invitation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recovered_at = models.DateTimeField(null=True, blank=True)

    objects = CaseQuerySet.as_manager()

    class Meta:
        verbose_name = "follow-up case"
        ordering = ["due_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(priority__gte=0) & Q(priority__lte=3), name="case_priority_0_3"
            ),
            models.CheckConstraint(
                condition=(Q(status="closed") & ~Q(outcome="") & Q(closed_at__isnull=False))
                | (~Q(status="closed") & Q(outcome="")),
                name="case_closed_has_outcome",
            ),
        ]
        indexes = [
            # The team queue: open cases by deadline.
            models.Index(fields=["team", "status", "due_at"], name="case_team_status_due"),
            # Waiting for a manager, most urgent first: what claiming reads.
            models.Index(
                fields=["team", "-priority", "due_at"],
                condition=Q(status="new", assignee__isnull=True),
                name="case_team_waiting",
            ),
            # My cases.
            models.Index(fields=["assignee", "status", "due_at"], name="case_assignee_status_due"),
            # The queue page: my open cases in deadline order (read 25, not all of them),
            # and the team's open-case counters from the index alone.
            models.Index(
                fields=["assignee", "due_at"],
                condition=Q(status__in=["new", "assigned", "in_progress"]),
                name="case_assignee_open_due",
            ),
            models.Index(
                fields=["team", "due_at"],
                include=["assignee"],
                condition=Q(status__in=["new", "assigned", "in_progress"]),
                name="case_team_open_due",
            ),
            models.Index(
                fields=["status", "due_at"], include=["touchpoint"], name="case_status_due"
            ),
            # Loop health over a period, overall and per touchpoint: index-only scans on
            # PostgreSQL (the included columns are ignored elsewhere).
            models.Index(fields=["created_at"], include=HEALTH_COLUMNS, name="case_created"),
            models.Index(
                fields=["touchpoint", "created_at"], include=HEALTH_COLUMNS, name="case_tp_created"
            ),
            # Emails still owed (the sweeper's reads): only such cases are in them.
            models.Index(
                fields=["assigned_at"],
                condition=Q(assignee_to_notify=True),
                name="case_notify_assignee",
            ),
            models.Index(
                fields=["escalated_at"],
                condition=Q(escalated_at__isnull=False, escalation_notified_at__isnull=True),
                name="case_notify_escalation",
            ),
        ]

    def __str__(self):
        return f"Case #{self.pk}"

    # How pages name a priority (3 is the angriest customers, services.priority_for):
    # words, since "P3" reads as the least urgent in most ticketing tools.
    PRIORITY_LABELS = {3: "Urgent", 2: "High", 1: "Normal", 0: "Low"}

    @property
    def priority_label(self) -> str:
        return self.PRIORITY_LABELS.get(self.priority, str(self.priority))

    @property
    def is_open(self) -> bool:
        return self.status != self.Status.CLOSED

    @property
    def is_overdue(self) -> bool:
        return self.is_open and self.due_at < timezone.now()


class ContactAttempt(models.Model):
    class Channel(models.TextChoices):
        PHONE = "phone", "Phone"
        EMAIL = "email", "Email"
        SMS = "sms", "SMS"
        VISIT = "visit", "Visit"

    class Outcome(models.TextChoices):
        REACHED = "reached", "Reached the customer"
        VOICEMAIL = "voicemail", "Left a voicemail"
        NO_ANSWER = "no_answer", "No answer"
        WRONG_NUMBER = "wrong_number", "Wrong number"
        CALL_BACK = "call_back", "Customer asked to call back"

    case = models.ForeignKey(FollowUpCase, on_delete=models.CASCADE, related_name="attempts")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.PHONE)
    outcome = models.CharField(max_length=15, choices=Outcome.choices)
    notes = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["at"]
        indexes = [models.Index(fields=["case", "at"])]

    def __str__(self):
        return f"{self.get_outcome_display()} ({self.at:%Y-%m-%d %H:%M})"


class CaseEvent(models.Model):
    """The timeline and audit trail of a case. Rows are only ever added."""

    class Kind(models.TextChoices):
        OPENED = "opened", "Opened"
        ASSIGNED = "assigned", "Assigned"
        CLAIMED = "claimed", "Claimed"
        ATTEMPT = "attempt", "Contact attempt"
        NOTE = "note", "Note"
        CLOSED = "closed", "Closed"
        REOPENED = "reopened", "Reopened"
        RESCORED = "rescored", "Customer changed their score"
        ESCALATED = "escalated", "Escalated"
        RESURVEY = "resurvey", "Re-survey scheduled"
        RECOVERED = "recovered", "Recovered"

    case = models.ForeignKey(FollowUpCase, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    message = models.TextField(blank=True, default="")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["case", "at"])]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.message}"


class ImprovementAction(models.Model):
    """'You said, we did': what the organisation changes because customers spoke."""

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"

    title = models.CharField(max_length=200)
    summary = models.TextField()
    touchpoint = models.ForeignKey(
        "surveys.Touchpoint",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="actions",
    )
    root_causes = models.ManyToManyField(RootCause, blank=True, related_name="actions")
    owner_team = models.ForeignKey("cxhub.Team", on_delete=models.PROTECT, related_name="actions")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PLANNED)
    published_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-published_at", "-created_at"]
        indexes = [models.Index(fields=["published_at"])]

    def __str__(self):
        return self.title

    def set_published(self, publish: bool) -> None:
        """Published ("You said, we did") from now, keeping its first publication time;
        or taken back to a draft."""
        if publish and self.published_at is None:
            self.published_at = timezone.now()
        elif not publish:
            self.published_at = None
