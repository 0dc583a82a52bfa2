"""Delighted's v1 object shapes, in and out.

Out: ids are strings, timestamps integer Unix seconds, absent values null — as
Delighted's API reference and its clients expect. In: JSON bodies, or form-encoded
ones with Delighted's bracket keys (`properties[plan]=pro`, `expand[]=person`), and
integer Unix timestamps. Every parser raises a DRF ValidationError naming the field,
which the /v1/ exception handler answers with a 422.
"""

from __future__ import annotations

import datetime as dt
import re

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from surveys import nps, services
from surveys.models import Invitation, Person, Response
from surveys.privacy import shown_comment
from surveys.serializers import has_nul

# Unix seconds accepted: the epoch (Delighted integrations pass since=0 for "all")
# to 2100-01-01.
MAX_TIMESTAMP = 4_102_444_800
MAX_DELAY = 366 * 24 * 3600
# What POST /v1/people can send a survey by.
PERSON_CHANNELS = (Invitation.Channel.EMAIL, Invitation.Channel.SMS)
CLOCK_SKEW = dt.timedelta(minutes=5)
BRACKET_KEY = re.compile(r"^([^\[\]]+)\[([^\[\]]*)\]$")


# --- in -------------------------------------------------------------------------------


def invalid(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


def body_dict(request) -> dict:
    """The request body as a dict: JSON as sent; form-encoded with one level of
    brackets unfolded (`properties[plan]=pro` → {"properties": {"plan": "pro"}},
    `tags[]=a&tags[]=b` → {"tags": ["a", "b"]})."""
    data = request.data
    if isinstance(data, QueryDict):
        return unfold_brackets(data)
    if not isinstance(data, dict):
        raise invalid("non_field_errors", "Expected a JSON object.")
    return data


def unfold_brackets(data: QueryDict) -> dict:
    out: dict = {}
    for key, values in data.lists():
        match = BRACKET_KEY.match(key)
        if match is None:
            out[key] = values[-1]
            continue
        name, sub = match.groups()
        if sub == "":
            target = out.setdefault(name, [])
            if not isinstance(target, list):
                raise invalid(name, "Mixes a list and a single value.")
            target.extend(values)
        else:
            target = out.setdefault(name, {})
            if not isinstance(target, dict):
                raise invalid(name, "Mixes an object and a single value.")
            target[sub] = values[-1]
    return out


def query_list(params: QueryDict, name: str) -> list[str]:
    """`name[]=a&name[]=b` (Delighted's Python and Ruby clients) or `name=a` (its Node
    client)."""
    return params.getlist(f"{name}[]") + params.getlist(name)


def timestamp(value, field: str) -> dt.datetime:
    """An aware datetime from integer Unix seconds (an int, or a string of digits)."""
    if isinstance(value, str) and re.fullmatch(r"\s*[0-9]{1,10}\s*", value):  # ASCII: not "١٢"
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(
            field, "Expected a Unix timestamp: whole seconds since 1970, e.g. 1767225600."
        )
    if not 0 <= value <= MAX_TIMESTAMP:
        raise invalid(field, "Must be a Unix timestamp between 1970 and 2100.")
    return dt.datetime.fromtimestamp(value, tz=dt.UTC)


def optional_timestamp(source, field: str) -> dt.datetime | None:
    value = source.get(field)
    if value is None or value == "":
        return None
    return timestamp(value, field)


def past_timestamp(value, field: str, *, earliest: dt.datetime | None = None) -> dt.datetime:
    moment = timestamp(value, field)
    if moment > timezone.now() + CLOCK_SKEW:
        raise invalid(field, "Must not be in the future.")
    if earliest is not None and moment < earliest:
        raise invalid(field, f"Must be {earliest:%Y-%m-%d} or later.")
    return moment


def integer(value, field: str, *, minimum: int, maximum: int) -> int:
    if isinstance(value, str) and re.fullmatch(r"\s*-?[0-9]{1,12}\s*", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(field, "Expected a whole number.")
    if not minimum <= value <= maximum:
        raise invalid(field, f"Must be between {minimum} and {maximum}.")
    return value


def boolean(value, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "false", "0"):
        return value.strip().lower() in ("true", "1")
    if type(value) is int and value in (0, 1):  # not 0.0, -0.0 or 1.0
        return bool(value)
    raise invalid(field, "Expected true or false.")


def text(value, field: str, *, max_length: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise invalid(field, "Expected a string.")
    if "\x00" in value:
        raise invalid(field, "Null characters are not allowed.")
    value = value.strip()
    if len(value) > max_length:
        raise invalid(field, f"At most {max_length} characters.")
    return value


def score(value, field: str = "score") -> int:
    try:
        return services.clean_score(value)
    except DjangoValidationError as exc:
        raise invalid(field, exc.messages[0]) from None


def comment(value, field: str = "comment") -> str:
    value = text(value, field, max_length=10**6)
    try:
        return services.clean_comment(value)
    except DjangoValidationError as exc:
        raise invalid(field, exc.messages[0]) from None


def email(value, field: str = "email") -> str:
    value = text(value, field, max_length=254).lower()
    if value:
        try:
            validate_email(value)
        except DjangoValidationError:
            raise invalid(field, f"{value!r} is not a valid email address.") from None
    return value


def phone(value, field: str = "phone_number") -> str:
    value = text(value, field, max_length=20)
    try:
        return services.clean_phone(value)
    except DjangoValidationError as exc:
        raise invalid(field, exc.messages[0]) from None


def properties(value, field: str) -> dict:
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise invalid(field, "Expected an object of names and values.")
    if has_nul(value):
        raise invalid(field, "Null characters are not allowed.")
    for key, item in value.items():
        if isinstance(item, dict | list):
            raise invalid(f"{field}[{key}]", "Expected a string, number or boolean.")
    return value


# --- out ------------------------------------------------------------------------------


def ts(moment: dt.datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


def person_data(person: Person) -> dict:
    """A person as Delighted shows one. The last_* / next_* times come from the
    annotations of selectors.people_with_activity when present."""
    return {
        "id": str(person.pk),
        "email": person.email or None,
        "name": person.name or None,
        "phone_number": person.phone or None,
        "created_at": ts(person.created_at),
        "last_sent_at": ts(getattr(person, "last_sent_at", None)),
        "last_responded_at": ts(getattr(person, "last_responded_at", None)),
        "next_survey_scheduled_at": ts(getattr(person, "next_survey_scheduled_at", None)),
    }


def permalink(response: Response) -> str:
    """Where staff read the response: its touchpoint's page."""
    page = reverse("touchpoint-detail", args=[response.touchpoint.slug])
    return f"{settings.SITE_URL}{page}#response-{response.pk}"


def response_data(
    response: Response,
    *,
    pii: bool,
    expand_person: bool = False,
    notes: list[dict] | None = None,
) -> dict:
    """Delighted's survey response. Without access to personal data (`read` and `write`
    keys) the person (even its id) and person_properties are null and the comment is
    scrubbed of contact details."""
    if response.person_id is None or not pii:  # not even the id: see person_id
        person = None
    elif expand_person:
        person = person_data(response.person)
    else:
        person = str(response.person_id)
    return {
        "id": str(response.pk),
        "person": person,
        "survey_type": "nps",
        "score": response.score,
        "comment": shown_comment(response, contact_details=pii) or None,
        "permalink": permalink(response),
        "created_at": ts(response.created_at),
        "updated_at": ts(response.updated_at),
        "person_properties": (response.properties or {}) if pii else None,
        "notes": [
            {
                "id": str(note["id"]),
                "text": note["text"],
                "user_email": note["user_email"] or None,
                "created_at": ts(note["at"]),
            }
            for note in notes or []
        ],
        "tags": [],
        "additional_answers": [],
    }


def metrics_data(counts: nps.Counts) -> dict:
    """Delighted's metrics keys; design §5 numbers (NPS null without responses,
    percentages to one decimal)."""
    values = counts.as_dict()
    return {
        "nps": values["nps"],
        "promoter_count": counts.promoters,
        "promoter_percent": values["promoter_percent"],
        "passive_count": counts.passives,
        "passive_percent": values["passive_percent"],
        "detractor_count": counts.detractors,
        "detractor_percent": values["detractor_percent"],
        "response_count": counts.total,
    }


def unsubscribe_data(person: Person) -> dict:
    return {
        "person_id": str(person.pk),
        "email": person.email or None,
        "name": person.name or None,
        "unsubscribed_at": ts(person.unsubscribed_at),
    }


def bounce_data(person: Person) -> dict:
    return {
        "person_id": str(person.pk),
        "email": person.email or None,
        "name": person.name or None,
        "bounced_at": ts(person.bounced_at),
    }
