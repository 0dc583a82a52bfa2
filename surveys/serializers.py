"""Input and output shapes of the native REST API for surveys (plain Serializers).

Responses are the hot path: single and batch creates share one explicit validator,
`clean_response_items`, that checks an item in microseconds (a DRF Serializer takes
~30 ms per 1,000 items) using the same rules as the survey pages (services.clean_score,
services.clean_comment) — so score 11 is a 400 naming the field, never a database
error. The ResponseCreate/ResponseBatch serializers below document those bodies in
the OpenAPI schema.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from surveys import selectors, services
from surveys.models import Invitation, Person, Response, Touchpoint
from surveys.nps import MIN_SAMPLE
from surveys.privacy import shown_comment

EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
MAX_ID = 2**63 - 1
CLOCK_SKEW = dt.timedelta(minutes=5)


# --- small validators shared by the API -----------------------------------------------


def has_nul(value) -> bool:
    """True if a JSON value holds a NUL character anywhere (PostgreSQL refuses them)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


def validate_properties(value):
    if not isinstance(value, dict):
        raise serializers.ValidationError("Expected an object.")
    if has_nul(value):
        raise serializers.ValidationError("Null characters are not allowed.")
    return value


def parse_moment(value) -> dt.datetime:
    """An aware datetime from ISO 8601 (naive: the installation's zone), 2000 or later
    and not in the future."""
    if not isinstance(value, str):
        raise ValidationError("Expected an ISO 8601 date and time.")
    try:
        moment = parse_datetime(value.strip())
    except ValueError:
        moment = None
    if moment is None:
        raise ValidationError("Expected an ISO 8601 date and time, e.g. 2026-03-01T09:30:00Z.")
    try:
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        in_range = EARLIEST <= moment <= timezone.now() + CLOCK_SKEW
    except (OverflowError, ValueError):
        in_range = False
    if not in_range:
        raise ValidationError("Must be between 2000-01-01 and now.")
    # In UTC: PostgreSQL refuses UTC offsets beyond ±15:59, which ISO 8601 allows.
    return moment.astimezone(dt.UTC)


def as_id(value) -> int | None:
    """A positive database id from JSON, or None if it is not one."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        return None
    return value


# --- responses: one validator for single and batch creates ------------------------------


RESPONSE_FIELDS = (
    "touchpoint",
    "score",
    "comment",
    "channel",
    "person",
    "properties",
    "created_at",
)


def clean_response_items(raw_items: list) -> tuple[list[dict], dict[int, dict[str, list[str]]]]:
    """Items ready for services.responses_record_batch / response_record, and the
    errors of the bad ones by index. Touchpoints (by slug) and people (by id) are
    looked up with one query each, whatever the number of items."""
    errors: dict[int, dict[str, list[str]]] = {}
    cleaned: list[dict] = []
    slugs, person_ids = set(), set()
    channels = set(Invitation.Channel.values)
    for index, raw in enumerate(raw_items):
        e: dict[str, list[str]] = {}
        item: dict = {}
        if not isinstance(raw, dict):
            errors[index] = {"non_field_errors": ["Expected an object."]}
            cleaned.append(item)
            continue
        slug = raw.get("touchpoint")
        if not isinstance(slug, str) or not slug.strip() or "\x00" in slug or len(slug) > 100:
            e["touchpoint"] = ["A touchpoint slug is required."]
        else:
            item["touchpoint"] = slug.strip()
            slugs.add(item["touchpoint"])
        try:
            item["score"] = services.clean_score(raw.get("score"))
        except ValidationError as exc:
            e["score"] = exc.messages
        comment = raw.get("comment")
        if comment is not None and not isinstance(comment, str):
            e["comment"] = ["Must be a string."]
        elif comment and "\x00" in comment:
            e["comment"] = ["Null characters are not allowed."]
        else:
            try:
                item["comment"] = services.clean_comment(comment)
            except ValidationError as exc:
                e["comment"] = exc.messages
        channel = raw.get("channel")
        if channel is None or channel == "":
            item["channel"] = Invitation.Channel.WEB
        elif isinstance(channel, str) and channel in channels:
            item["channel"] = channel
        else:
            e["channel"] = [f"Must be one of: {', '.join(sorted(channels))}."]
        person = raw.get("person")
        if person is not None:
            if as_id(person) is None:
                e["person"] = ["Must be a person id."]
            else:
                item["person"] = person
                person_ids.add(person)
        properties = raw.get("properties")
        if properties is not None:
            try:
                item["properties"] = validate_properties(properties)
            except serializers.ValidationError as exc:
                e["properties"] = [str(m) for m in exc.detail]
        created_at = raw.get("created_at")
        if created_at is not None:
            try:
                item["created_at"] = parse_moment(created_at)
            except ValidationError as exc:
                e["created_at"] = exc.messages
        if e:
            errors[index] = e
        cleaned.append(item)

    # Active touchpoints come from the 30-second per-process cache the public survey
    # pages use (one query less per request on the hot path); others from the database.
    touchpoints = {}
    for slug in slugs:
        tp = selectors.public_touchpoint(slug) if len(slugs) <= 20 else None
        if tp is not None:
            touchpoints[slug] = tp
    missing = slugs - touchpoints.keys()
    if missing:
        touchpoints.update({tp.slug: tp for tp in Touchpoint.objects.filter(slug__in=missing)})
    people = (
        {p.pk: p for p in Person.objects.filter(pk__in=person_ids).only("pk")} if person_ids else {}
    )
    for index, item in enumerate(cleaned):
        slug = item.get("touchpoint")
        if slug is not None:
            if slug in touchpoints:
                item["touchpoint"] = touchpoints[slug]
            else:
                errors.setdefault(index, {})["touchpoint"] = [f"No touchpoint {slug!r}."]
        pk = item.get("person")
        if pk is not None:
            if pk in people:
                item["person"] = people[pk]
            else:
                errors.setdefault(index, {})["person"] = [f"No person {pk}."]
    return cleaned, errors


class ResponseCreateSerializer(serializers.Serializer):
    """A new response (documentation of the body; validated by clean_response_items)."""

    touchpoint = serializers.SlugField(help_text="The touchpoint's slug.")
    score = serializers.IntegerField(min_value=0, max_value=10)
    comment = serializers.CharField(
        required=False, allow_blank=True, max_length=settings.SURVEY_COMMENT_MAX_LENGTH
    )
    channel = serializers.ChoiceField(
        choices=Invitation.Channel.choices, required=False, default=Invitation.Channel.WEB
    )
    person = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, help_text="A person's id, if known."
    )
    properties = serializers.DictField(required=False, help_text="Free-form attributes.")
    created_at = serializers.DateTimeField(
        required=False,
        help_text="When the customer answered (imports); default now. The day it counts for.",
    )


class ResponseBatchSerializer(serializers.Serializer):
    responses = ResponseCreateSerializer(many=True, max_length=services.RESPONSES_BATCH_MAX)


class ResponseBatchResultSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    ids = serializers.ListField(child=serializers.IntegerField(), help_text="In the order sent.")


# --- outputs ------------------------------------------------------------------------------


class TouchpointSerializer(serializers.ModelSerializer):
    question = serializers.SerializerMethodField()
    translations = serializers.SerializerMethodField()
    owner_team = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)

    class Meta:
        model = Touchpoint
        fields = [
            "id",
            "slug",
            "name",
            "question",
            "translations",
            "owner_team",
            "nps_target",
            "followup_deadline_hours",
            "active",
        ]
        read_only_fields = fields

    def get_question(self, obj) -> str:
        return services.question_for(obj)

    @extend_schema_field(
        serializers.DictField(
            child=serializers.DictField(child=serializers.CharField()),
            help_text='What customers see per language, where set: {"fr": {"name": "…",'
            ' "question": "…"}}.',
        )
    )
    def get_translations(self, obj) -> dict:
        return obj.customer_texts()


class PersonSerializer(serializers.Serializer):
    """A customer. email, phone and name are null unless the caller may see customer
    personal data (CX admins, admin keys): context["pii"]."""

    id = serializers.IntegerField(read_only=True)
    email = serializers.CharField(read_only=True, allow_null=True)
    phone = serializers.CharField(read_only=True, allow_null=True)
    name = serializers.CharField(read_only=True, allow_null=True)
    external_id = serializers.CharField(read_only=True)
    locale = serializers.CharField(read_only=True)
    properties = serializers.DictField(read_only=True, allow_null=True)
    unsubscribed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)

    def to_representation(self, instance):
        return person_data(instance, self.context.get("pii"))


def person_data(person: Person, pii: bool) -> dict:
    """A person as the API shows them: personal data only when `pii`."""
    moment = serializers.DateTimeField().to_representation
    return {
        "id": person.pk,
        "email": person.email if pii else None,
        "phone": person.phone if pii else None,
        "name": person.name if pii else None,
        "external_id": person.external_id,
        "locale": person.locale,
        "properties": person.properties if pii else None,
        "unsubscribed_at": moment(person.unsubscribed_at) if person.unsubscribed_at else None,
        "created_at": moment(person.created_at),
    }


class PersonCreateSerializer(serializers.Serializer):
    """Create a person, or update the one with this email (or phone): blank fields
    never erase stored values; properties are merged."""

    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    phone = serializers.CharField(
        required=False, allow_blank=True, max_length=20, help_text="E.164, e.g. +33612345678"
    )
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    external_id = serializers.CharField(required=False, allow_blank=True, max_length=200)
    locale = serializers.CharField(required=False, allow_blank=True, max_length=10)
    properties = serializers.DictField(required=False, validators=[validate_properties])

    def validate_phone(self, value):
        try:
            return services.clean_phone(value)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None

    def validate(self, attrs):
        if not attrs.get("email") and not attrs.get("phone"):
            raise serializers.ValidationError(
                {"email": ["A person needs an email address or a phone number."]}
            )
        return attrs


class ResponseSerializer(serializers.Serializer):
    """A response. Built by hand in to_representation (the declared fields document
    it): a ModelSerializer spends about a millisecond per instance building its fields,
    which is a quarter of a single create."""

    id = serializers.IntegerField(read_only=True)
    touchpoint = serializers.SlugField(read_only=True)
    score = serializers.IntegerField(read_only=True)
    category = serializers.ChoiceField(choices=Response.Category.choices, read_only=True)
    comment = serializers.CharField(
        read_only=True, help_text="Contact details masked without access to personal data."
    )
    channel = serializers.ChoiceField(choices=Invitation.Channel.choices, read_only=True)
    properties = serializers.DictField(read_only=True, allow_null=True)
    person = PersonSerializer(read_only=True, allow_null=True)
    invitation = serializers.IntegerField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def to_representation(self, obj):
        moment = serializers.DateTimeField().to_representation
        pii = self.context.get("pii")
        return {
            "id": obj.pk,
            "touchpoint": obj.touchpoint.slug,
            "score": obj.score,
            "category": obj.category,
            "comment": shown_comment(obj, contact_details=pii),
            "channel": obj.channel,
            "properties": obj.properties if pii else None,
            # Without personal data not even the id: with it a key that knows an email
            # (POST /api/people/ returns its id) would find that customer's answers.
            "person": None if obj.person_id is None or not pii else person_data(obj.person, pii),
            "invitation": obj.invitation_id,
            "created_at": moment(obj.created_at),
            "updated_at": moment(obj.updated_at),
        }


class InvitationCreateSerializer(serializers.Serializer):
    """Schedule a survey. Give `person` (an id) or the person's email/phone (created or
    updated as by POST /api/people/)."""

    touchpoint = serializers.SlugField(help_text="The touchpoint's slug.")
    person = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=20)
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    channel = serializers.ChoiceField(
        choices=Invitation.Channel.choices,
        required=False,
        default=Invitation.Channel.EMAIL,
        help_text="email or sms: CX Hub sends it; web: nothing is sent, your app shows the "
        "person's link (survey_url).",
    )
    scheduled_for = serializers.DateTimeField(
        required=False, help_text="Send later (default: now)."
    )
    locale = serializers.CharField(required=False, allow_blank=True, max_length=10)
    properties = serializers.DictField(required=False, validators=[validate_properties])

    def validate_phone(self, value):
        try:
            return services.clean_phone(value)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None

    def validate_scheduled_for(self, value):
        try:
            ok = EARLIEST <= value <= timezone.now() + dt.timedelta(days=366)
        except (OverflowError, ValueError):
            ok = False
        if not ok:
            raise serializers.ValidationError("Must be between now and a year from now.")
        return value

    def validate(self, attrs):
        if not attrs.get("person") and not attrs.get("email") and not attrs.get("phone"):
            raise serializers.ValidationError(
                {"person": ["Give a person id, or an email address or phone number."]}
            )
        return attrs


class InvitationSerializer(serializers.ModelSerializer):
    touchpoint = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    person = serializers.SerializerMethodField()
    skip_reason = serializers.ChoiceField(
        choices=Invitation.SkipReason.choices, allow_blank=True, read_only=True
    )
    skip_reason_text = serializers.CharField(source="get_skip_reason_display", read_only=True)
    properties = serializers.SerializerMethodField()
    survey_url = serializers.SerializerMethodField()

    class Meta:
        model = Invitation
        fields = [
            "id",
            "touchpoint",
            "person",
            "channel",
            "status",
            "skip_reason",
            "skip_reason_text",
            "locale",
            "properties",
            "created_at",
            "scheduled_for",
            "sent_at",
            "responded_at",
            "expires_at",
            "survey_url",
        ]
        read_only_fields = fields

    @extend_schema_field(PersonSerializer(allow_null=True))
    def get_person(self, obj):
        """Null without personal data (see ResponseSerializer)."""
        if not self.context.get("pii"):
            return None
        return PersonSerializer(obj.person, context=self.context).data

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_properties(self, obj):
        """The survey's attributes (often the customer's): personal data, like the
        person's own properties."""
        return obj.properties if self.context.get("pii") else None

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_survey_url(self, obj):
        """The customer's personal survey link: personal data, shown with it only."""
        if not self.context.get("pii") or obj.status == Invitation.Status.SKIPPED:
            return None
        return settings.SITE_URL + reverse("surveys:respond", args=[obj.token])


# --- metrics ----------------------------------------------------------------------------


class CountsSerializer(serializers.Serializer):
    """Design §5: NPS an integer (null without responses), percentages to one decimal,
    95 % margin of error in NPS points, and whether the sample is below nps.MIN_SAMPLE."""

    nps = serializers.IntegerField(allow_null=True)
    responses = serializers.IntegerField()
    promoters = serializers.IntegerField()
    passives = serializers.IntegerField()
    detractors = serializers.IntegerField()
    promoter_percent = serializers.FloatField(allow_null=True)
    passive_percent = serializers.FloatField(allow_null=True)
    detractor_percent = serializers.FloatField(allow_null=True)
    margin_of_error = serializers.FloatField(allow_null=True)
    small_sample = serializers.BooleanField(
        help_text=f"Fewer than {MIN_SAMPLE} responses: too few for the margin of error (the normal "
        "approximation) to mean much; the pages show 'few answers' instead of it and never "
        "call such a figure's difference significant. The numbers are as computed."
    )


class TouchpointMetricsSerializer(CountsSerializer):
    touchpoint = serializers.SlugField()
    name = serializers.CharField()
    nps_target = serializers.IntegerField()


class TrendPointSerializer(CountsSerializer):
    start = serializers.DateField(help_text="First day of the day or week.")


class MetricsSerializer(serializers.Serializer):
    since = serializers.DateField()
    until = serializers.DateField(help_text="Last day included.")
    interval = serializers.ChoiceField(choices=["day", "week"])
    overall = CountsSerializer()
    touchpoints = TouchpointMetricsSerializer(many=True)
    trend = TrendPointSerializer(many=True)


class MetricsQuerySerializer(serializers.Serializer):
    since = serializers.DateField(required=False, help_text="First day (default: 29 days ago).")
    until = serializers.DateField(required=False, help_text="Last day, included (default: today).")
    touchpoint = serializers.SlugField(required=False, help_text="One touchpoint's slug.")
    trend = serializers.ChoiceField(choices=["day", "week"], required=False, default="week")

    MAX_DAYS = 3 * 366

    def validate(self, attrs):
        today = timezone.localdate()
        until = attrs.get("until") or today
        since = attrs.get("since") or until - dt.timedelta(days=29)
        for field, value in (("until", until), ("since", since)):
            if not dt.date(2000, 1, 1) <= value <= dt.date(2100, 1, 1):
                raise serializers.ValidationError({field: ["Must be between 2000 and 2100."]})
        if since > until:
            raise serializers.ValidationError({"since": ["Must not be after until."]})
        if (until - since).days >= self.MAX_DAYS:
            raise serializers.ValidationError({"since": ["At most 3 years per request."]})
        attrs["since"], attrs["until"] = since, until
        return attrs
