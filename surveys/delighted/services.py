"""Writes behind the Delighted-compatible API: Delighted's semantics mapped onto the
surveys services (person_upsert, invitation_create, response_record)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from surveys import services
from surveys.models import Invitation, Person, Response, Touchpoint
from surveys.privacy import MASK, shown_comment


def comment_change(response: Response, sent: str | None, *, contact_details: bool) -> str | None:
    """The comment a PUT should store, or None to keep the stored one.

    A caller who may not see customer personal data (`read`, `write` keys) read the
    comment scrubbed (contact details masked, the surname initialled); Delighted's
    clients save back everything they read. Sending that scrubbed text back keeps the
    stored comment: it must not overwrite the phone number the customer left to be
    called back on. A new comment replaces it; an edit of the scrubbed text, which
    would store the masks in place of what they hide, is refused.
    """
    if sent is None or contact_details:
        return sent
    shown = shown_comment(response, contact_details=False)
    if sent == shown:
        return None
    if shown != response.comment and MASK in sent:
        raise ValidationError(
            {
                "comment": [
                    f"This comment holds contact details your API key cannot see (shown as"
                    f" {MASK}): send it back unchanged to keep it, or send a new comment."
                ]
            }
        )
    return sent


def touchpoint_for(properties: dict, field: str = "properties") -> Touchpoint:
    """The touchpoint named by properties["touchpoint"] (a slug), else
    settings.DELIGHTED_DEFAULT_TOUCHPOINT, else the oldest active touchpoint."""
    slug = properties.get("touchpoint")
    if slug not in (None, ""):
        touchpoint = Touchpoint.objects.filter(slug=str(slug).strip()).first()
        if touchpoint is None:
            raise ValidationError({f"{field}[touchpoint]": [f"No touchpoint {slug!r}."]})
        return touchpoint
    default = settings.DELIGHTED_DEFAULT_TOUCHPOINT
    if default:
        touchpoint = Touchpoint.objects.filter(slug=default).first()
        if touchpoint is None:
            raise ValidationError(
                {"touchpoint": [f"DELIGHTED_DEFAULT_TOUCHPOINT names no touchpoint ({default!r})."]}
            )
        return touchpoint
    touchpoint = Touchpoint.objects.filter(active=True).order_by("created_at", "pk").first()
    if touchpoint is None:
        raise ValidationError(
            {"touchpoint": ["There is no active touchpoint to survey people for."]}
        )
    return touchpoint


def person_survey(
    *,
    email: str,
    phone: str,
    name: str,
    channel: str,
    delay: int,
    send: bool,
    properties: dict,
    last_sent_at: dt.datetime | None,
    locale: str,
) -> tuple[Person, Invitation | None]:
    """Delighted's POST /v1/people: create or update the person and, unless `send` is
    false, schedule their survey `delay` seconds from now through invitation_create —
    so unsubscribes and the quiet period (also counted from `last_sent_at`) apply
    and a skipped invitation keeps its reason. One transaction."""
    touchpoint = touchpoint_for(properties) if send else None
    with transaction.atomic():
        try:
            person = services.person_upsert(
                email=email, phone=phone, name=name, locale=locale, properties=properties
            )
        except DjangoValidationError as error:  # a phone number another person has
            if "phone" not in getattr(error, "error_dict", {}):
                raise
            raise ValidationError({"phone_number": error.message_dict["phone"]}) from None
        if touchpoint is None:
            return person, None
        invitation = services.invitation_create(
            person=person,
            touchpoint=touchpoint,
            channel=channel,
            scheduled_for=timezone.now() + dt.timedelta(seconds=delay) if delay else None,
            locale=locale,
            properties=properties,
            last_sent_at=last_sent_at,
        )
    return person, invitation
