"""Query filters of the native API's lists (django-filter)."""

from __future__ import annotations

import datetime as dt

import django_filters
from django import forms

from surveys import services
from surveys.models import Invitation, Person, Response

FIRST_DAY = dt.date(2000, 1, 1)
LAST_DAY = dt.date(2100, 1, 1)


class _BoundedDatesForm(forms.Form):
    """Rejects dates and times outside 2000–2100 with a 400, before any arithmetic on
    them (the day after 9999-12-31 does not exist). A time with a UTC offset is turned
    into UTC: PostgreSQL refuses offsets beyond ±15:59, which ISO 8601 allows."""

    def clean(self):
        data = super().clean()
        for name, value in list(data.items()):
            if isinstance(value, dt.datetime) and value.tzinfo is not None:
                try:
                    value = data[name] = value.astimezone(dt.UTC)
                except OverflowError:
                    self.add_error(name, "Must be between 2000-01-01 and 2100-01-01.")
                    continue
            day = value.date() if isinstance(value, dt.datetime) else value
            if isinstance(day, dt.date) and not FIRST_DAY <= day <= LAST_DAY:
                self.add_error(name, "Must be between 2000-01-01 and 2100-01-01.")
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("since", "The start date is after the end date.")
        return data


class ResponseFilter(django_filters.FilterSet):
    # The labels are the list page's (its errors name the fields as its form does).
    touchpoint = django_filters.CharFilter(
        field_name="touchpoint__slug", label="Touchpoint", help_text="A touchpoint's slug."
    )
    category = django_filters.ChoiceFilter(choices=Response.Category.choices, label="Category")
    since = django_filters.DateFilter(
        method="filter_since", label="From", help_text="Created on or after this local day."
    )
    until = django_filters.DateFilter(
        method="filter_until",
        label="To",
        help_text="Created on or before this local day (included).",
    )
    updated_since = django_filters.IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", help_text="Created or changed since (ISO 8601)."
    )
    person = django_filters.NumberFilter(field_name="person_id", min_value=1, max_value=2**63 - 1)

    class Meta:
        model = Response
        fields = ["touchpoint", "category", "since", "until", "updated_since", "person"]
        form = _BoundedDatesForm

    def filter_since(self, queryset, name, value):
        return queryset.filter(created_at__gte=services.day_bounds(value)[0])

    def filter_until(self, queryset, name, value):
        return queryset.filter(created_at__lt=services.day_bounds(value)[1])


class InvitationFilter(django_filters.FilterSet):
    touchpoint = django_filters.CharFilter(field_name="touchpoint__slug")
    status = django_filters.ChoiceFilter(choices=Invitation.Status.choices)
    person = django_filters.NumberFilter(field_name="person_id", min_value=1, max_value=2**63 - 1)

    class Meta:
        model = Invitation
        fields = ["touchpoint", "status", "person"]


class PersonFilter(django_filters.FilterSet):
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    external_id = django_filters.CharFilter()

    class Meta:
        model = Person
        fields = ["updated_since", "external_id"]
        form = _BoundedDatesForm
