"""Reads behind the Delighted-compatible API."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db.models import Count, OuterRef, Subquery

from surveys import nps, selectors
from surveys.hooks import response_notes
from surveys.models import Invitation, Person, Response
from surveys.services import clean_phone, day_bounds, digits_id, local_day

EARLIEST_DAY = dt.date(2000, 1, 1)


def activity(ref: str = "pk", prefix: str = "") -> dict:
    """Annotations giving Delighted's last_sent_at, last_responded_at and
    next_survey_scheduled_at of the person `ref` points to: one correlated subquery
    each, on the (person, …) indexes."""
    invitations = Invitation.objects.filter(person=OuterRef(ref))
    return {
        f"{prefix}last_sent_at": Subquery(
            invitations.filter(sent_at__isnull=False).order_by("-sent_at").values("sent_at")[:1]
        ),
        f"{prefix}last_responded_at": Subquery(
            Response.objects.filter(person=OuterRef(ref))
            .order_by("-created_at")
            .values("created_at")[:1]
        ),
        f"{prefix}next_survey_scheduled_at": Subquery(
            invitations.filter(status=Invitation.Status.SCHEDULED)
            .order_by("scheduled_for")
            .values("scheduled_for")[:1]
        ),
    }


def people_with_activity(qs=None):
    qs = Person.objects.all() if qs is None else qs
    return qs.annotate(**activity())


def person_by_identifier(identifier: str) -> Person | None:
    """Delighted's person identifiers: `123` (id), `email:…` or `phone_number:…`."""
    kind, sep, value = identifier.partition(":")
    if not sep:
        pk = digits_id(identifier)
        return Person.objects.filter(pk=pk).first() if pk is not None else None
    value = value.strip()
    if kind == "email" and value:
        return Person.objects.filter(email=value.lower()).first()
    if kind == "phone_number" and value:
        try:
            phone = clean_phone(value)  # as person_upsert stored it
        except ValidationError:
            return None
        return Person.objects.filter(phone=phone).first()
    return None


def _edge_counts(start: dt.datetime, end: dt.datetime, touchpoint_ids) -> nps.Counts:
    qs = Response.objects.filter(created_at__gte=start, created_at__lt=end)
    if touchpoint_ids is not None:
        qs = qs.filter(touchpoint_id__in=touchpoint_ids)
    by_category = dict(qs.values_list("category").annotate(n=Count("id")).order_by())
    return nps.Counts(
        by_category.get(nps.PROMOTER, 0),
        by_category.get(nps.PASSIVE, 0),
        by_category.get(nps.DETRACTOR, 0),
    )


def counts_between(
    *, start: dt.datetime | None, end: dt.datetime, touchpoint_ids=None
) -> nps.Counts:
    """Responses first submitted in [start, end) (start None: since the beginning),
    exactly: whole local days are read from the daily rollups, and only the partial
    days at either edge are counted from the responses, so the cost does not grow
    with the length of the range."""
    if start is not None and start >= end:
        return nps.Counts()
    if start is None:
        first_full = EARLIEST_DAY
    else:
        first_full = local_day(start)
        if day_bounds(first_full)[0] < start:
            first_full += dt.timedelta(days=1)
    after_full = local_day(end)  # the day holding `end` is partial (or empty if it starts there)
    total = nps.Counts()
    if first_full < after_full:
        rollups = selectors.counts_by_touchpoint(
            selectors.Period(first_full, after_full), touchpoint_ids
        )
        for counts in rollups.values():
            total = total + counts
        edges = [(start, day_bounds(first_full)[0]), (day_bounds(after_full)[0], end)]
    else:
        edges = [(start, end)]
    for a, b in edges:
        if a is not None and a < b:
            total = total + _edge_counts(a, b, touchpoint_ids)
    return total


def notes_for(response_ids: list[int]) -> dict[int, list[dict]]:
    """The notes other apps keep about these responses (surveys.hooks.response_notes)."""
    notes: dict[int, list[dict]] = {}
    for _receiver, answer in response_notes.send(sender=Response, response_ids=response_ids):
        for response_id, items in (answer or {}).items():
            notes.setdefault(response_id, []).extend(items)
    return notes
