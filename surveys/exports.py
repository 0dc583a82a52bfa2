"""CSV export of responses, streamed in constant memory.

The columns are the ones surveys.imports reads back as CX Hub's own format, so an
export imports into another CX Hub (or the same one: nothing is duplicated, every
row carries its source_key; live answers get `cxhub:<id>`). Every text cell goes
through cxhub.spreadsheet.safe_cell: a comment such as `=HYPERLINK(...)` reaches the
spreadsheet as text, never as a formula.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from cxhub.spreadsheet import safe_cell

COLUMNS = [
    "source_key",
    "touchpoint",
    "score",
    "category",
    "comment",
    "channel",
    "created_at",
    "updated_at",
    "person_name",
    "person_email",
    "person_phone",
    "properties",
]
_FIELDS = (
    "source_key",
    "pk",
    "touchpoint__slug",
    "score",
    "category",
    "comment",
    "channel",
    "created_at",
    "updated_at",
    "person__name",
    "person__email",
    "person__phone",
    "properties",
)


def responses_csv_rows(queryset: QuerySet) -> Iterator[list]:
    """The header, then one list of cells per response, newest first as on the
    responses page (read in chunks: the whole table never sits in memory)."""
    yield COLUMNS
    localtime = timezone.localtime
    rows = queryset.order_by("-created_at", "-pk").values_list(*_FIELDS).iterator(chunk_size=2000)
    for (
        source_key,
        pk,
        touchpoint,
        score,
        category,
        comment,
        channel,
        created_at,
        updated_at,
        name,
        email,
        phone,
        properties,
    ) in rows:
        yield [
            safe_cell(source_key or f"cxhub:{pk}"),
            safe_cell(touchpoint),
            score,
            category,
            safe_cell(comment),
            channel,
            localtime(created_at).isoformat(),
            localtime(updated_at).isoformat(),
            safe_cell(name),
            safe_cell(email),
            safe_cell(phone),
            safe_cell(json.dumps(properties, ensure_ascii=False)) if properties else "",
        ]


class _Echo:
    """A file-like object whose write returns what it was given (csv → a generator)."""

    def write(self, value):
        return value


def csv_lines(rows: Iterable[list]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow(row)


def responses_csv_response(queryset: QuerySet, *, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        csv_lines(responses_csv_rows(queryset)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
