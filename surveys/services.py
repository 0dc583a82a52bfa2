"""Writes for surveys: people, invitations, responses, unsubscribes and rollups."""

from __future__ import annotations

import datetime as dt
import logging
import re
import smtplib
import zoneinfo
from collections import defaultdict

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Count, F, Q
from django.db.models.functions import Coalesce, TruncDate
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from cxhub import fastinsert
from cxhub.queue import enqueue_debounced_on_commit, enqueue_on_commit, publish
from surveys import nps
from surveys.hooks import (
    person_erased,
    person_unsubscribed,
    response_recorded,
    responses_recorded,
)
from surveys.models import (
    DEFAULT_QUESTION,
    Invitation,
    NpsDaily,
    Person,
    Response,
    Suppression,
    TargetChange,
    Touchpoint,
)

logger = logging.getLogger(__name__)

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
DEADLOCK_DETECTED = "40P01"  # PostgreSQL's SQLSTATE


class SurveyError(Exception):
    """A survey action that cannot be done; `code` says why (for the HTTP status)."""

    def __init__(self, message: str, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.code = code


# --- validation -----------------------------------------------------------------


def clean_score(value) -> int:
    """An integer 0–10 from user input, or ValidationError saying what is wrong."""
    if isinstance(value, bool):
        raise ValidationError("The score must be a whole number from 0 to 10.")
    if isinstance(value, str):
        value = value.strip()
        if not re.fullmatch(r"-?[0-9]{1,3}", value):  # ASCII: \d also takes "٩"
            raise ValidationError("The score must be a whole number from 0 to 10.")
        value = int(value)
    if not isinstance(value, int) or not 0 <= value <= 10:
        raise ValidationError("The score must be a whole number from 0 to 10.")
    return value


def digits_id(text: str) -> int | None:
    """The id a string of ASCII digits spells (at most 18 of them: within bigint), else
    None. str.isdigit() alone also takes "²" and Arabic-Indic digits, which int() refuses
    or reads as another id."""
    if text.isascii() and text.isdigit() and len(text) < 19:
        return int(text)
    return None


def clean_comment(value) -> str:
    value = (value or "").strip()
    limit = settings.SURVEY_COMMENT_MAX_LENGTH
    if len(value) > limit:
        raise ValidationError(f"The comment is too long: {len(value)} characters, at most {limit}.")
    return value


def clean_email(value: str | None) -> str:
    """An email address as CX Hub stores and looks it up: stripped and lowercased ("" for
    none). Not validated: person_upsert and the forms do that."""
    return (value or "").strip().lower()


def clean_phone(value: str) -> str:
    value = re.sub(r"[\s().-]", "", value or "")
    if value and not E164.match(value):
        raise ValidationError(f"{value!r} is not a phone number in E.164 form, e.g. +33612345678.")
    return value


def question_for(touchpoint: Touchpoint) -> str:
    """The question as the API shows it (the staff's text, or the standard question in
    the active language). Customers are asked Touchpoint.customer_question()."""
    return touchpoint.question or translation.gettext(DEFAULT_QUESTION)


def local_day(moment: dt.datetime) -> dt.date:
    """The installation's local day (settings.TIME_ZONE, as day_bounds counts days) of
    an aware moment."""
    if moment.tzinfo is None:
        raise ValueError("local_day() needs an aware datetime")
    return moment.astimezone(zoneinfo.ZoneInfo(settings.TIME_ZONE)).date()


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The half-open interval [start, end) of a local day in the installation's zone."""
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    start = dt.datetime.combine(day, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return start, end


# --- people -----------------------------------------------------------------------


def person_upsert(
    *,
    email: str = "",
    phone: str = "",
    name: str = "",
    external_id: str = "",
    locale: str = "",
    properties: dict | None = None,
) -> Person:
    """The person with this email (or phone), created or updated with what is given.

    Blank arguments never erase stored values; properties are merged. A phone number
    another person has is a ValidationError on "phone" (nothing is written). A person
    created whose email or phone is on the suppression list (an erased person's
    unsubscribe or bounce) is created unsubscribed / bounced as of now, without an
    `unsubscribe.created` webhook (that was announced when they unsubscribed).
    """
    email = clean_email(email)
    phone = clean_phone(phone)
    if email:
        validate_email(email)
    if not email and not phone:
        raise ValidationError("A person needs an email address or a phone number.")
    try:
        return _person_upsert(email, phone, name, external_id, locale, properties)
    except IntegrityError as error:  # its savepoint is rolled back: the caller may go on
        if "person_unique_phone" not in str(error):
            raise
        raise ValidationError(
            {"phone": ["Another person already has this phone number."]}
        ) from None


def _person_upsert(email, phone, name, external_id, locale, properties) -> Person:
    with transaction.atomic():
        lookup = {"email": email} if email else {"phone": phone}
        person = Person.objects.select_for_update().filter(**lookup).first()
        if person is None:
            person, _ = Person.objects.get_or_create(
                **lookup,
                defaults={
                    "phone": phone,
                    "name": name,
                    "external_id": external_id,
                    "locale": locale,
                    "properties": properties or {},
                    # An erased person's unsubscribe or bounce, if their address had one.
                    **suppression_fields(email=email, phone=phone, now=timezone.now()),
                },
            )
            return person
        for field, value in (
            ("phone", phone),
            ("name", name),
            ("external_id", external_id),
            ("locale", locale),
        ):
            if value:
                setattr(person, field, value)
        if properties:
            person.properties = {**person.properties, **properties}
        person.save()
        return person


def person_unsubscribe(*, person: Person) -> Person:
    """Mark the person unsubscribed and cancel anything still scheduled for them."""
    with transaction.atomic():
        # Their invitations before the person, in the order person_erase and a survey
        # answer take them: the other order deadlocks with an erasure at that moment.
        _lock_invitations(person_id=person.pk)
        if person.unsubscribed_at is None:
            now = timezone.now()
            # Conditional UPDATE: of two concurrent unsubscribes only one announces it.
            if Person.objects.filter(pk=person.pk, unsubscribed_at__isnull=True).update(
                unsubscribed_at=now, updated_at=now
            ):
                person.unsubscribed_at = person.updated_at = now
                person_unsubscribed.send_robust(sender=Person, person=person)
            else:
                person.refresh_from_db(fields=["unsubscribed_at", "updated_at"])
        person.invitations.filter(
            status__in=[Invitation.Status.SCHEDULED, Invitation.Status.FAILED]
        ).update(status=Invitation.Status.CANCELLED, skip_reason=Invitation.SkipReason.UNSUBSCRIBED)
    return person


def person_unsubscribe_email(*, email: str) -> Person:
    """Unsubscribe the person with this email, created (unsubscribed) if unknown:
    Delighted's POST /v1/unsubscribes. Their invitations are locked before the
    person, as in person_unsubscribe."""
    with transaction.atomic():
        _lock_invitations(person__email=clean_email(email))
        return person_unsubscribe(person=person_upsert(email=email))


def _lock_invitations(**lookup) -> None:
    list(Invitation.objects.select_for_update().filter(**lookup).order_by("pk").values("pk"))


def invitations_cancel_pending(*, person: Person) -> int:
    """Cancel the person's surveys that are scheduled and not sent yet; how many."""
    return person.invitations.filter(status=Invitation.Status.SCHEDULED).update(
        status=Invitation.Status.CANCELLED
    )


# --- suppressions: an erased person's unsubscribe or bounce, without their address ---

SUPPRESSION_SALT = "cxhub.suppression"


def suppression_secrets() -> list:
    """The secrets suppression digests are keyed with: SECRET_KEY (what new rows use)
    and then SECRET_KEY_FALLBACKS (still matched, so a key rotation keeps them)."""
    return [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]


def suppression_digest(address: str, *, secret=None) -> str:
    """The digest a Suppression stores for an address ("email:…" or "phone:…", see
    suppression_addresses): HMAC-SHA256 keyed from `secret` (default SECRET_KEY)."""
    return salted_hmac(SUPPRESSION_SALT, address, secret=secret, algorithm="sha256").hexdigest()


def suppression_addresses(*, email: str, phone: str) -> tuple[str, str]:
    """The email and the phone as digested ("" for none): "email:<lowercased>",
    "phone:<E.164>" (a person's phone is stored in E.164 already)."""
    email, phone = clean_email(email), (phone or "").strip()
    return (f"email:{email}" if email else "", f"phone:{phone}" if phone else "")


def _digests(address: str) -> list[str]:
    """The address's digest under each of suppression_secrets() ([] for no address)."""
    return [suppression_digest(address, secret=s) for s in suppression_secrets()] if address else []


def _suppressed_kinds(*, email: str, phone: str) -> set[str]:
    """The Suppression kinds listed for this email or phone, under any of the keys.
    A bounce is the email's only (a phone does not bounce)."""
    email_address, phone_address = suppression_addresses(email=email, phone=phone)
    by_email, by_phone = _digests(email_address), _digests(phone_address)
    if not by_email and not by_phone:
        return set()
    return set(
        Suppression.objects.filter(
            Q(digest__in=by_email) | Q(digest__in=by_phone, kind=Suppression.Kind.UNSUBSCRIBED)
        ).values_list("kind", flat=True)
    )


def suppression_fields(*, email: str, phone: str, now: dt.datetime) -> dict:
    """What a person created now with this email and phone starts with: unsubscribed_at
    and/or bounced_at set to `now` (as an unsubscribe or a bounce happening now would)
    when their address is on the suppression list; {} otherwise."""
    kinds = _suppressed_kinds(email=email, phone=phone)
    fields = {}
    if Suppression.Kind.UNSUBSCRIBED in kinds:
        fields["unsubscribed_at"] = now
    if Suppression.Kind.BOUNCED in kinds:
        fields["bounced_at"] = now
    return fields


def suppressions_lift(*, email: str, phone: str, kind: str) -> int:
    """Take this email (and, for an unsubscribe, this phone) off the suppression list
    for `kind`: the customer opted back in (a CX admin cleared the person's unsubscribe
    or bounce), so an erasure and re-creation later must not bring it back. Returns the
    rows deleted."""
    email_address, phone_address = suppression_addresses(email=email, phone=phone)
    digests = _digests(email_address)
    if kind == Suppression.Kind.UNSUBSCRIBED:
        digests += _digests(phone_address)
    if not digests:
        return 0
    return Suppression.objects.filter(kind=kind, digest__in=digests).delete()[0]


def person_suppressions_apply(*, person: Person) -> list[str]:
    """For a person about to be created (not saved yet) by anything but person_upsert
    (which does it itself) or the CSV import (which does it in SQL): unsubscribed_at /
    bounced_at set, if not set already, when their email or phone is on the
    suppression list. No `unsubscribe.created` webhook: that event was announced when
    the customer unsubscribed. Returns the kinds applied."""
    fields = suppression_fields(email=person.email, phone=person.phone, now=timezone.now())
    applied = []
    for field, kind in (
        ("unsubscribed_at", Suppression.Kind.UNSUBSCRIBED),
        ("bounced_at", Suppression.Kind.BOUNCED),
    ):
        if field in fields and getattr(person, field) is None:
            setattr(person, field, fields[field])
            applied.append(kind)
    return applied


def _suppressions_record(*, person: Person) -> None:
    """Inside person_erase: the person's unsubscribe (email and phone) and bounce
    (email) go on the suppression list, under the current SECRET_KEY (an address
    listed already stays listed once)."""
    email_address, phone_address = suppression_addresses(email=person.email, phone=person.phone)
    rows = []
    if person.unsubscribed_at is not None:
        rows += [
            Suppression(kind=Suppression.Kind.UNSUBSCRIBED, digest=suppression_digest(address))
            for address in (email_address, phone_address)
            if address
        ]
    if person.bounced_at is not None and email_address:
        rows.append(
            Suppression(kind=Suppression.Kind.BOUNCED, digest=suppression_digest(email_address))
        )
    Suppression.objects.bulk_create(rows, ignore_conflicts=True)


ERASED = {"comment": "", "properties": {}, "person": None, "invitation": None}


ERASE_ATTEMPTS = 3


def person_erase(*, person: Person) -> int:
    """Erase a person (GDPR): what CX Hub knew about them goes, their scores stay.

    In one transaction: their invitations, the person and their responses are locked
    first, so an answer or re-answer written concurrently (with its webhook and team
    alert) either committed before the erasure reads anything or waits for it. Then
    `hooks.person_erased` is sent (feedback scrubs the free text of the person's
    follow-up cases, recognition the quotes of their praise, cxhub the webhook and
    team-alert logs), their rows in CSV imports not finished are blanked
    (surveys.imports), the admin's history of the person and of their invitations
    stops naming them, their responses lose comment, properties and their links to
    the person and the invitation, and the person and their invitations are deleted.
    If they had unsubscribed (or bounced), a keyed digest of their email and phone
    (of the email) goes on the suppression list (models.Suppression), never the
    address, so that an integration or a CRM sync re-creating them creates them
    unsubscribed (bounced).
    Score, touchpoint and dates are kept, so every NPS figure, rollup and case count
    stays exactly as it was. A receiver or an import that refuses (SurveyError)
    cancels all of it. Returns the number of responses stripped.

    An erasure that PostgreSQL picks as a deadlock's victim (a path that locks the
    person before their invitations, as person_upsert does) runs again, up to
    ERASE_ATTEMPTS times; inside an outer transaction it is a savepoint, which the
    retry rolls back to (releasing the locks taken in it). That helps only when the
    outer transaction holds none of the cycle's locks itself: no caller does (the v1
    DELETE, the admin, erase_person).
    """
    for attempt in range(1, ERASE_ATTEMPTS + 1):
        try:
            return _person_erase(person=person)
        except OperationalError as exc:
            deadlock = getattr(exc.__cause__, "pgcode", None) == DEADLOCK_DETECTED
            if not deadlock or attempt == ERASE_ATTEMPTS:
                raise
            logger.warning("Erasure of person %s deadlocked; trying again", person.pk)
    raise AssertionError("unreachable")


def _person_erase(*, person: Person) -> int:
    from surveys import imports

    with transaction.atomic():
        # Invitations before the person, as a survey answer takes them (its invitation,
        # then the person through the response's foreign key): the other order deadlocks
        # with a customer answering at that moment. Listed again under the person's lock
        # for any invitation created meanwhile.
        _lock_invitations(person_id=person.pk)
        person = Person.objects.select_for_update().filter(pk=person.pk).first()
        if person is None:  # erased meanwhile (a second request for the same person)
            return 0
        invitation_ids = list(
            Invitation.objects.select_for_update()
            .filter(person=person)
            .values_list("pk", flat=True)
        )
        response_ids = list(
            Response.objects.select_for_update()
            .filter(Q(person=person) | Q(invitation_id__in=invitation_ids))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        person_erased.send(sender=Person, person=person, response_ids=response_ids)
        imports.response_imports_erase_person(email=person.email, phone=person.phone)
        _suppressions_record(person=person)
        _admin_history_forget(person_id=person.pk, invitation_ids=invitation_ids)
        stripped = Response.objects.filter(pk__in=response_ids).update(
            **ERASED, updated_at=timezone.now()
        )
        Invitation.objects.filter(pk__in=invitation_ids).delete()
        person.delete()
    return stripped


ERASED_ADMIN_REPR = "(erased at the customer's request)"


def _admin_history_forget(*, person_id: int, invitation_ids: list[int]) -> int:
    """The admin's history (django.contrib.admin LogEntry) names an object by its
    str(): a person's name or email, an invitation's "touchpoint → person". The
    entries stay (who changed what, when); the customer's name in them goes."""
    from django.contrib.admin.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    types = ContentType.objects.get_for_models(Person, Invitation)
    return LogEntry.objects.filter(
        Q(content_type=types[Person], object_id=str(person_id))
        | Q(content_type=types[Invitation], object_id__in=[str(pk) for pk in invitation_ids])
    ).update(object_repr=ERASED_ADMIN_REPR)


# --- invitations -------------------------------------------------------------------


def _skip_reason(
    *,
    person: Person,
    touchpoint: Touchpoint,
    channel: str,
    now: dt.datetime,
    scheduled_for: dt.datetime | None = None,
    last_sent_at: dt.datetime | None = None,
) -> str:
    """Why an invitation to go out at `scheduled_for` (default now) is not sent, or "".

    The quiet period is counted around the day it goes out: no other invitation to the
    person (not skipped or cancelled) may go out, or have gone out, within that many
    days before or after it, and no answer of theirs (an API or web answer without an
    invitation too) may be that recent. Counting from when invitations were created let one
    scheduled far ahead go out a few days after one created later.
    """
    if person.unsubscribed_at is not None:
        return Invitation.SkipReason.UNSUBSCRIBED
    if channel == Invitation.Channel.EMAIL and person.bounced_at is not None:
        # The mail server refused the address: sending again only hurts our sender
        # reputation. An SMS still reaches them.
        return Invitation.SkipReason.BOUNCED
    if not touchpoint.active:
        return Invitation.SkipReason.INACTIVE_TOUCHPOINT
    if (channel == Invitation.Channel.EMAIL and not person.email) or (
        channel == Invitation.Channel.SMS and not person.phone
    ):
        return Invitation.SkipReason.NO_ADDRESS
    quiet_days = touchpoint.effective_quiet_period_days
    if not quiet_days:
        return ""
    goes_out = max(scheduled_for or now, now)
    quiet = dt.timedelta(days=quiet_days)
    if last_sent_at is not None and last_sent_at > goes_out - quiet:
        return Invitation.SkipReason.QUIET_PERIOD  # surveyed elsewhere (e.g. by Delighted)
    if Response.objects.filter(person=person, created_at__gt=goes_out - quiet).exists():
        return Invitation.SkipReason.QUIET_PERIOD  # answered lately, without an invitation too
    if (
        Invitation.objects.filter(person=person)
        .exclude(status__in=[Invitation.Status.SKIPPED, Invitation.Status.CANCELLED])
        .annotate(out_at=Coalesce("sent_at", "scheduled_for"))
        .filter(out_at__gt=goes_out - quiet, out_at__lt=goes_out + quiet)
        .exists()
    ):
        return Invitation.SkipReason.QUIET_PERIOD
    return ""


def invitation_create(
    *,
    person: Person,
    touchpoint: Touchpoint,
    channel: str = Invitation.Channel.EMAIL,
    scheduled_for: dt.datetime | None = None,
    locale: str = "",
    properties: dict | None = None,
    ignore_quiet_period: bool = False,
    last_sent_at: dt.datetime | None = None,
) -> Invitation:
    """Schedule a survey for a person, or store why it will not be sent.

    An invitation is always stored: a skipped one carries its reason, so staff can
    see why someone was not surveyed. A scheduled one is sent after commit (at once,
    or by the due-invitation sweep when scheduled for later). `last_sent_at`: when
    the person was last surveyed outside CX Hub; inside the quiet period it skips.
    """
    now = timezone.now()
    scheduled_for = scheduled_for or now
    with transaction.atomic():
        # Serialises invitations to the same person, so two concurrent requests cannot
        # both slip through the quiet period.
        person = Person.objects.select_for_update().filter(pk=person.pk).first()
        if person is None:  # erased (GDPR) meanwhile
            raise SurveyError(_("This person no longer exists."), code="not_found")
        reason = _skip_reason(
            person=person,
            touchpoint=touchpoint,
            channel=channel,
            now=now,
            scheduled_for=scheduled_for,
            last_sent_at=last_sent_at,
        )
        if reason == Invitation.SkipReason.QUIET_PERIOD and ignore_quiet_period:
            reason = ""
        invitation = Invitation.objects.create(
            person=person,
            touchpoint=touchpoint,
            channel=channel,
            token=Invitation.new_token(),
            locale=locale or person.locale,
            status=Invitation.Status.SKIPPED if reason else Invitation.Status.SCHEDULED,
            skip_reason=reason,
            properties=properties or {},
            created_at=now,
            scheduled_for=scheduled_for,
            expires_at=max(now, scheduled_for) + dt.timedelta(days=settings.SURVEY_LINK_VALID_DAYS),
        )
        if not reason and scheduled_for <= now:
            from surveys import tasks

            enqueue_on_commit(tasks.invitation_send, invitation.pk)
    return invitation


def _render_invitation_email(invitation: Invitation) -> EmailMultiAlternatives:
    lang = invitation.locale or settings.LANGUAGE_CODE
    with translation.override(lang):
        survey_url = settings.SITE_URL + reverse("surveys:respond", args=[invitation.token])
        unsubscribe_url = settings.SITE_URL + reverse(
            "surveys:unsubscribe", args=[invitation.token]
        )
        context = {
            "invitation": invitation,
            "touchpoint_name": invitation.touchpoint.customer_name(lang),
            "question": invitation.touchpoint.customer_question(lang),
            "scores": [(s, f"{survey_url}?score={s}") for s in range(11)],
            "survey_url": survey_url,
            "unsubscribe_url": unsubscribe_url,
        }
        subject = context["question"]
        text = render_to_string("surveys/email/invitation.txt", context)
        html = render_to_string("surveys/email/invitation.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        to=[invitation.person.email],
        headers={
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    message.attach_alternative(html, "text/html")
    return message


MAX_SEND_ATTEMPTS = 5


def invitation_send(*, invitation_id: int) -> Invitation | None:
    """Send one due invitation, at most once.

    The row is claimed with a conditional UPDATE (scheduled → sending), so a second
    delivery of the same task, or the sweeper, finds nothing to do. On failure the
    invitation goes back to scheduled (failed after 5 attempts) and the error is
    raised, so the task retries with backoff.
    """
    now = timezone.now()
    claimed = Invitation.objects.filter(
        pk=invitation_id, status=Invitation.Status.SCHEDULED, scheduled_for__lte=now
    ).update(status=Invitation.Status.SENDING, send_attempts=F("send_attempts") + 1, claimed_at=now)
    if not claimed:
        return None
    invitation = Invitation.objects.select_related("person", "touchpoint").get(pk=invitation_id)
    person = invitation.person
    stopped = (
        Invitation.SkipReason.UNSUBSCRIBED
        if person.unsubscribed_at is not None
        else Invitation.SkipReason.BOUNCED
        if invitation.channel == Invitation.Channel.EMAIL and person.bounced_at is not None
        else Invitation.SkipReason.INACTIVE_TOUCHPOINT
        if not invitation.touchpoint.active
        else ""
    )
    if stopped:  # since it was scheduled
        invitation.status = Invitation.Status.CANCELLED
        invitation.skip_reason = stopped
        invitation.save(update_fields=["status", "skip_reason"])
        return invitation
    try:
        if invitation.channel == Invitation.Channel.SMS:
            _send_sms(invitation)
        elif (
            invitation.channel == Invitation.Channel.EMAIL
            and not _render_invitation_email(invitation).send()  # no address left to send to
        ):
            Invitation.objects.filter(pk=invitation_id).update(
                status=Invitation.Status.CANCELLED, skip_reason=Invitation.SkipReason.NO_ADDRESS
            )
            invitation.refresh_from_db()
            return invitation
        # A web-link invitation sends nothing: its personal link (survey_url) is the
        # integration's to show; it counts as sent when due, for the quiet period.
    except smtplib.SMTPRecipientsRefused as exc:
        # The server refused the address itself: a hard bounce. Retrying cannot help;
        # the person is marked bounced (listed by /v1/bounces) and the send failed.
        now = timezone.now()
        Person.objects.filter(pk=invitation.person_id).update(bounced_at=now, updated_at=now)
        Invitation.objects.filter(pk=invitation_id).update(
            status=Invitation.Status.FAILED,
            last_error=f"Recipient refused: {exc.recipients}"[:1000],
        )
        invitation.refresh_from_db()
        return invitation
    except Exception as exc:
        failed = invitation.send_attempts >= MAX_SEND_ATTEMPTS
        Invitation.objects.filter(pk=invitation_id).update(
            status=Invitation.Status.FAILED if failed else Invitation.Status.SCHEDULED,
            last_error=f"{type(exc).__name__}: {exc}"[:1000],
        )
        raise
    Invitation.objects.filter(pk=invitation_id).update(
        status=Invitation.Status.SENT, sent_at=timezone.now(), last_error=""
    )
    invitation.refresh_from_db()
    return invitation


def _send_sms(invitation: Invitation) -> None:
    # No SMS provider ships with CX Hub: the message is logged, like the console email.
    url = settings.SITE_URL + reverse("surveys:respond", args=[invitation.token])
    lang = invitation.locale or settings.LANGUAGE_CODE
    with translation.override(lang):
        text = f"{invitation.touchpoint.customer_question(lang)} (0-10) {url}"
    logger.info("SMS to %s: %s", invitation.person.phone, text)


def invitations_send_due(*, now: dt.datetime | None = None, stuck_after_minutes: int = 15) -> int:
    """Sweeper: enqueue every due invitation, and free sends a dead worker left claimed
    (claimed longer ago than any send takes: EMAIL_TIMEOUT bounds one; a send still in
    progress is left alone, or its email would go twice)."""
    from surveys import tasks

    now = now or timezone.now()
    stuck = now - dt.timedelta(minutes=stuck_after_minutes)
    Invitation.objects.filter(
        Q(claimed_at__lte=stuck) | Q(claimed_at__isnull=True, scheduled_for__lte=stuck),
        status=Invitation.Status.SENDING,
        sent_at__isnull=True,
    ).update(status=Invitation.Status.SCHEDULED)
    ids = list(Invitation.objects.due(now).values_list("pk", flat=True)[:5000])
    for pk in ids:
        publish(tasks.invitation_send, pk)
    return len(ids)


def invitation_get_for_token(token: str) -> Invitation:
    """The invitation behind a survey link; SurveyError if unknown or expired."""
    invitation = (
        Invitation.objects.select_related("touchpoint", "person").filter(token=token).first()
        if token
        else None
    )
    if invitation is None:
        raise SurveyError(_("This survey link is not valid."), code="not_found")
    if invitation.is_expired:
        raise SurveyError(_("This survey link has expired."), code="expired")
    return invitation


# --- targets -------------------------------------------------------------------------


def touchpoint_target_changed(*, touchpoint: Touchpoint, old: int, by=None, today=None) -> None:
    """Record that `touchpoint.nps_target` (saved) replaced `old` from today on, so that
    past periods keep being judged against `old` (models.TargetChange). The first change
    also records `old` as the target since the start (set by no one in particular,
    when the touchpoint was created); a second change the same day replaces the first."""
    new = touchpoint.nps_target
    if new == old:
        return
    today = today or timezone.localdate()
    with transaction.atomic():
        # get_or_create: two admins making the first change at once record it once.
        TargetChange.objects.get_or_create(
            touchpoint=touchpoint,
            applies_from=TargetChange.SINCE_THE_START,
            defaults={"nps_target": old, "changed_at": touchpoint.created_at},
        )
        TargetChange.objects.update_or_create(
            touchpoint=touchpoint,
            applies_from=today,
            defaults={"nps_target": new, "changed_by": by, "changed_at": timezone.now()},
        )


# --- responses ---------------------------------------------------------------------


def response_record(
    *,
    touchpoint: Touchpoint,
    score,
    comment: str = "",
    invitation: Invitation | None = None,
    person: Person | None = None,
    channel: str = Invitation.Channel.WEB,
    properties: dict | None = None,
    created_at: dt.datetime | None = None,
) -> Response:
    """Record a customer's answer, atomically with everything that must follow it.

    - score and comment are validated first: nothing is written for bad input;
    - one response per invitation: answering again updates it and keeps its first
      submission time (the day it counts for);
    - `hooks.response_recorded` is sent inside the transaction (feedback opens a
      detractor's case there, so a detractor never exists without its case);
    - the (touchpoint, day) rollup is recomputed after commit.
    """
    score = clean_score(score)
    comment = clean_comment(comment)
    now = timezone.now()
    category = nps.category(score)
    with transaction.atomic():
        existing = None
        if invitation is not None:
            invitation = Invitation.objects.select_for_update().filter(pk=invitation.pk).first()
            if invitation is None:  # erased (GDPR) while this answer waited for its lock
                raise SurveyError(_("This link is not valid."), code="not_found")
            if invitation.is_expired:
                raise SurveyError(_("This survey link has expired."), code="expired")
            touchpoint = invitation.touchpoint
            person = invitation.person
            # Locked: an integration's update (response_update) at the same moment
            # would otherwise be overwritten with what was read here.
            existing = Response.objects.select_for_update().filter(invitation=invitation).first()
        elif person is not None:
            # Locked against an erasure meanwhile, which would otherwise fail this
            # answer at commit on its foreign key (erasure locks the person too).
            person = Person.objects.select_for_update(no_key=True).filter(pk=person.pk).first()
            if person is None:
                raise SurveyError(_("This person no longer exists."), code="not_found")
        if existing is not None:
            previous_score, previous_comment = existing.score, existing.comment
            _response_change(existing, score=score, comment=comment, properties=properties, now=now)
            response, created = existing, False
        else:
            previous_score = previous_comment = None
            # fastinsert: the same row as Response.objects.create(), a third of the
            # survey POST's CPU less (its statement is built once per process).
            response = fastinsert.insert(
                Response(
                    touchpoint=touchpoint,
                    person=person,
                    invitation=invitation,
                    score=score,
                    category=category,
                    comment=comment,
                    channel=invitation.channel if invitation is not None else channel,
                    properties={
                        **(invitation.properties if invitation else {}),
                        **(properties or {}),
                    },
                    created_at=created_at or now,
                    updated_at=now,
                )
            )
            created = True
            if invitation is not None:
                Invitation.objects.filter(pk=invitation.pk).update(responded_at=now)
        _response_announce(
            response,
            created=created,
            previous_score=previous_score,
            previous_comment=previous_comment,
        )
    return response


def _response_change(response: Response, *, score, comment, properties, now) -> None:
    """Write a new score and/or comment (None: kept) and merged properties to a
    recorded response; its first submission time stays."""
    if score is not None:
        response.score, response.category = score, nps.category(score)
    if comment is not None:
        response.comment = comment
    if properties:
        response.properties = {**response.properties, **properties}
    response.updated_at = now
    response.save(update_fields=["score", "category", "comment", "properties", "updated_at"])


def _response_announce(
    response: Response, *, created: bool, previous_score, previous_comment
) -> None:
    """Inside the recording transaction: tell the apps (hooks.response_recorded) and
    get the (touchpoint, day) rollup recomputed after commit."""
    response_recorded.send(
        sender=Response,
        response=response,
        created=created,
        previous_score=previous_score,
        previous_comment=previous_comment,
    )
    rollup_schedule_on_commit(
        touchpoint_id=response.touchpoint_id, day=local_day(response.created_at)
    )


def response_update(
    *,
    response: Response,
    score=None,
    comment: str | None = None,
    properties: dict | None = None,
) -> Response:
    """Change a recorded response (an integration correcting it): what is given is
    validated first and replaced (properties are merged); like answering again, it
    keeps the first submission time, tells `hooks.response_recorded` (created=False)
    in the transaction, and recomputes the day's rollup after commit."""
    if score is not None:
        score = clean_score(score)
    if comment is not None:
        comment = clean_comment(comment)
    with transaction.atomic():
        response = Response.objects.select_for_update().get(pk=response.pk)
        previous_score, previous_comment = response.score, response.comment
        _response_change(
            response, score=score, comment=comment, properties=properties, now=timezone.now()
        )
        _response_announce(
            response,
            created=False,
            previous_score=previous_score,
            previous_comment=previous_comment,
        )
    return response


# --- rollups -----------------------------------------------------------------------


def rollup_schedule_on_commit(*, touchpoint_id: int, day: dt.date) -> None:
    """After commit, get the (touchpoint, day) rollup recomputed.

    Debounced (cxhub.queue.publish_debounced): a burst of responses for the same day
    costs one recompute every ROLLUP_DEBOUNCE_SECONDS per web process, not one per
    response. If the broker is down the request still succeeds and the hourly
    reconcile sweep catches up.
    """
    from surveys import tasks

    enqueue_debounced_on_commit(
        tasks.rollup_recompute,
        touchpoint_id,
        day.isoformat(),
        window=settings.ROLLUP_DEBOUNCE_SECONDS,
    )


def responses_delete(*, responses) -> int:
    """Delete responses (a CX admin removing spam, in the admin), and get the rollups
    of the (touchpoint, day) pairs they counted in recomputed after commit: the
    dashboards, the metrics and /v1/metrics stop counting them. A detractor's response
    is kept by its follow-up case (ProtectedError). Returns how many were deleted."""
    with transaction.atomic():
        touched = {
            (touchpoint_id, local_day(created_at))
            for touchpoint_id, created_at in responses.values_list("touchpoint_id", "created_at")
        }
        deleted = responses.delete()[1].get(Response._meta.label, 0)
        for touchpoint_id, day in touched:
            rollup_schedule_on_commit(touchpoint_id=touchpoint_id, day=day)
    return deleted


def _empty_scores() -> list[int]:
    return [0] * 11


def rollup_recompute(*, touchpoint_id: int, day: dt.date) -> NpsDaily | None:
    """Recount one (touchpoint, day) from its responses. Idempotent; safe to run twice."""
    start, end = day_bounds(day)
    rows = (
        Response.objects.filter(
            touchpoint_id=touchpoint_id, created_at__gte=start, created_at__lt=end
        )
        .values("score")
        .annotate(n=Count("id"))
        .order_by()
    )
    scores = _empty_scores()
    for row in rows:
        scores[row["score"]] = row["n"]
    return _rollups_write({(touchpoint_id, day): scores}, delete_empty=True).get(
        (touchpoint_id, day)
    )


def _rollups_write(counts: dict[tuple[int, dt.date], list[int]], *, delete_empty: bool) -> dict:
    now = timezone.now()
    rows, empty = [], []
    for (tp_id, day), scores in counts.items():
        c = nps.Counts(sum(scores[9:]), sum(scores[7:9]), sum(scores[:7]))
        if c.total == 0:
            empty.append((tp_id, day))
            continue
        rows.append(
            NpsDaily(
                touchpoint_id=tp_id,
                date=day,
                promoters=c.promoters,
                passives=c.passives,
                detractors=c.detractors,
                score_counts=scores,
                computed_at=now,
            )
        )
    with transaction.atomic():
        if delete_empty:
            for tp_id, day in empty:
                NpsDaily.objects.filter(touchpoint_id=tp_id, date=day).delete()
        NpsDaily.objects.bulk_create(
            rows,
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["touchpoint", "date"],
            update_fields=["promoters", "passives", "detractors", "score_counts", "computed_at"],
        )
    return {(r.touchpoint_id, r.date): r for r in rows}


def rollups_recompute_range(
    *, start: dt.date, end: dt.date, touchpoint_ids: list[int] | None = None
) -> int:
    """Rebuild the rollups of every day in [start, end] with one grouped scan.

    Rows of days with no responses left are removed. Returns the number of rows written.
    """
    first, _ = day_bounds(start)
    _, last = day_bounds(end)
    qs = Response.objects.filter(created_at__gte=first, created_at__lt=last)
    if touchpoint_ids is not None:
        qs = qs.filter(touchpoint_id__in=touchpoint_ids)
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    grouped = (
        qs.annotate(day=TruncDate("created_at", tzinfo=zone))
        .values("touchpoint_id", "day", "score")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts: dict[tuple[int, dt.date], list[int]] = defaultdict(_empty_scores)
    for row in grouped.iterator():
        counts[(row["touchpoint_id"], row["day"])][row["score"]] += row["n"]
    with transaction.atomic():
        stale = NpsDaily.objects.filter(date__gte=start, date__lte=end)
        if touchpoint_ids is not None:
            stale = stale.filter(touchpoint_id__in=touchpoint_ids)
        gone = [
            r.pk
            for r in stale.only("pk", "touchpoint_id", "date")
            if (r.touchpoint_id, r.date) not in counts
        ]
        NpsDaily.objects.filter(pk__in=gone).delete()
        written = _rollups_write(counts, delete_empty=False)
    return len(written)


def rollups_reconcile(*, now: dt.datetime | None = None, days: int = 2) -> int:
    """Sweeper: recount every (touchpoint, day) a recent response touched.

    Covers the last `days` local days of every touchpoint, plus older days whose
    responses were updated (answered again) within that window. Whatever a lost
    message left undone is redone; running it twice changes nothing.
    """
    now = now or timezone.now()
    today = local_day(now)
    since = now - dt.timedelta(days=days)
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    touched = (
        Response.objects.filter(updated_at__gte=since)
        .filter(~Q(created_at__gte=day_bounds(today - dt.timedelta(days=days - 1))[0]))
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values_list("touchpoint_id", "day")
        .distinct()
    )
    n = rollups_recompute_range(start=today - dt.timedelta(days=days - 1), end=today)
    for tp_id, day in touched:
        rollup_recompute(touchpoint_id=tp_id, day=day)
        n += 1
    return n


# --- batches (REST API) ------------------------------------------------------------

RESPONSES_BATCH_MAX = 1000


class SurveyBatchError(SurveyError):
    """Items of a batch are invalid and nothing was written. `errors` maps each bad
    item's index to {field: [messages]}."""

    def __init__(self, errors: dict[int, dict[str, list[str]]]):
        super().__init__(f"{len(errors)} item(s) are invalid; nothing was recorded.")
        self.errors = errors


def responses_record_batch(*, items: list[dict]) -> list[Response]:
    """Record up to RESPONSES_BATCH_MAX new responses at once: all of them or none.

    Each item: touchpoint (a Touchpoint), score, and optionally comment, person (a
    Person), channel, properties, created_at (its first-submission time; default now).

    - every item is validated first (clean_score, clean_comment, channel); if any is
      wrong, SurveyBatchError lists each bad item's errors and nothing is written;
    - the rows are written with one COPY (fastinsert.insert_many) in one transaction,
      and `hooks.responses_recorded` (response_recorded's bulk form) is sent inside it:
      a detractor never exists without its case, and a receiver that raises rolls the
      whole batch back;
    - rollups are recomputed after commit, once per (touchpoint, day) touched.

    Batch items are new answers; answering an invitation (again) is response_record's.
    """
    if len(items) > RESPONSES_BATCH_MAX:
        raise SurveyError(f"At most {RESPONSES_BATCH_MAX} responses per batch.")
    now = timezone.now()
    channels = set(Invitation.Channel.values)
    rows: list[Response] = []
    errors: dict[int, dict[str, list[str]]] = {}
    for index, item in enumerate(items):
        item_errors: dict[str, list[str]] = {}
        try:
            score = clean_score(item.get("score"))
        except ValidationError as exc:
            item_errors["score"] = exc.messages
        try:
            comment = clean_comment(item.get("comment", ""))
        except ValidationError as exc:
            item_errors["comment"] = exc.messages
        channel = item.get("channel") or Invitation.Channel.WEB
        if not isinstance(channel, str) or channel not in channels:
            item_errors["channel"] = [f"{channel!r} is not one of {', '.join(sorted(channels))}."]
        if not isinstance(item.get("touchpoint"), Touchpoint):
            item_errors["touchpoint"] = ["A touchpoint is required."]
        if item_errors:
            errors[index] = item_errors
            continue
        person = item.get("person")
        rows.append(
            Response(
                touchpoint=item["touchpoint"],
                person=person,
                score=score,
                category=nps.category(score),
                comment=comment,
                channel=channel,
                properties=item.get("properties") or {},
                created_at=item.get("created_at") or now,
                updated_at=now,
            )
        )
    if errors:
        raise SurveyBatchError(errors)
    with transaction.atomic():
        # The people answering are locked (in id order) against an erasure meanwhile,
        # which would otherwise fail the batch at commit on their foreign keys.
        people = sorted({r.person_id for r in rows if r.person_id is not None})
        there = set(
            Person.objects.select_for_update(no_key=True)
            .filter(pk__in=people)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if len(there) < len(people):
            raise SurveyBatchError(
                {
                    index: {"person": ["This person no longer exists (erased)."]}
                    for index, row in enumerate(rows)
                    if row.person_id is not None and row.person_id not in there
                }
            )
        fastinsert.insert_many(rows)
        responses_recorded.send(sender=Response, responses=rows)
        for tp_id, day in {(r.touchpoint_id, local_day(r.created_at)) for r in rows}:
            rollup_schedule_on_commit(touchpoint_id=tp_id, day=day)
    return rows
