"""CSV import of responses: CX Hub's own export and Delighted's CSV export.

Formats (detected from the header; column names are matched ignoring case, spaces,
dashes and underscores, so "Response date", "response_date" and "RESPONSE-DATE" are
the same column):

- CX Hub's export (surveys.exports.COLUMNS): source_key, touchpoint, score, category
  (ignored: it follows from the score), comment, channel, created_at, updated_at,
  person_name, person_email, person_phone, properties (a JSON object). Cells the
  export neutralised against spreadsheet formulas are read back as written.
- Delighted's export: Score, Comment, Response date (or Date, Created at), and
  optionally Response ID, Updated at, Name, Email, Phone number (or Phone), Delighted
  Source (email/sms → that channel, anything else → web; kept in the response's
  properties), Permalink, Tags, Notes, Survey type (kept in the response's
  properties), Person ID (ignored) and a Touchpoint column (a slug). Every other
  column is a person property (Delighted exports them as columns), merged into the
  person's properties.

Dates: ISO 8601 (`2024-04-18T05:34:20Z`, `2024-04-18 05:34:20+02:00`, a date alone),
Ruby's `2024-04-18 05:34:20 -0700` and `... UTC`, or Unix seconds; a date without an
offset is in TIME_ZONE. Between 2000-01-01 and tomorrow.

Every row is validated (score a whole number 0–10, comment at most
SURVEY_COMMENT_MAX_LENGTH characters, a date, a known touchpoint from its column or
the import's default, a valid email/phone when given); a bad row is skipped and its
row number (as a spreadsheet shows it: the header is row 1) and reason go to the
report, capped at REPORT_CAP entries (the counts cover every row).

No duplicates: each row has a source_key, `delighted:<Response ID>` (or the export's
own source_key) when the file has one, else the SHA-256 of the normalised row
(touchpoint, email or phone, time, score, comment); the unique index on it drops rows
already imported, so importing the same file twice adds nothing (the second run
reports every row as a duplicate).

How it is fast (bench/import): rows are cleaned in one pass of plain Python; each
batch of BATCH_SIZE rows is one transaction that drops the keys already imported (one
index probe each), settles its people and inserts its responses (PostgreSQL: COPY into
temporary tables, then a handful of set statements — UPDATE/INSERT people, one
INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING for the responses; elsewhere the
ORM's bulk_create), announces them with `hooks.responses_imported` (feedback opens the
detractors' cases with one COPY, in the same transaction) and moves the import's
counters, so the page shows progress and a run that died resumes after the last batch
committed. Rollups are recomputed once, over the days the import touched, at the end.
New people whose email or phone an erased person had unsubscribed or bounced
(models.Suppression) are inserted unsubscribed / bounced: one more set statement, run
only while the suppression list is not empty.
Measured at 200,000 rows: ~5,600 rows/s end to end, where COPY straight into
surveys_response alone (its indexes and foreign keys, nothing else) does ~36,000.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import logging
import re
import zoneinfo
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.http import Http404
from django.utils import timezone
from django.utils.encoding import force_bytes

from cxhub import jsontext, roles
from cxhub.fastinsert import copy_text
from cxhub.queue import enqueue_on_commit, publish
from cxhub.spreadsheet import unsafe_cell
from surveys import nps, services
from surveys.hooks import responses_imported
from surveys.models import Invitation, Person, Response, ResponseImport, Suppression, Touchpoint

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
BATCH_SIZE = 10_000
REPORT_CAP = 1000
CXHUB, DELIGHTED = "cxhub", "delighted"
# COPY on PostgreSQL (measured in bench/import); the portable ORM path elsewhere.
USE_COPY = True
FIRST_DAY = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
SOURCE_KEY_MAX = Response._meta.get_field("source_key").max_length
# Checked per row, so that a value the column cannot hold skips its row with a reason
# instead of failing the whole file.
EMAIL_MAX = Person._meta.get_field("email").max_length
NAME_MAX = Person._meta.get_field("name").max_length

# canonical field → accepted (normalised) header names
ALIASES = {
    "source_key": ("sourcekey",),
    "response_id": ("responseid", "delightedresponseid", "surveyresponseid"),
    "touchpoint": ("touchpoint", "touchpointslug"),
    "score": ("score", "npsscore", "rating"),
    "category": ("category",),
    "comment": ("comment", "comments"),
    "created_at": ("createdat", "responsedate", "date", "respondedat", "created"),
    "updated_at": ("updatedat", "updated"),
    "name": ("name", "personname", "customername"),
    "email": ("email", "personemail", "emailaddress"),
    "phone": ("phone", "phonenumber", "personphone", "personphonenumber"),
    "channel": ("channel",),
    "delighted_source": ("delightedsource", "source"),
    "properties": ("properties",),
    "person_id": ("personid", "delightedpersonid"),
    # Delighted columns about the response, kept in its properties under these keys.
    "permalink": ("permalink",),
    "tags": ("tags",),
    "notes": ("notes",),
    "survey_type": ("surveytype",),
}
RESPONSE_EXTRAS = ("permalink", "tags", "notes", "survey_type")
_BY_ALIAS = {alias: name for name, aliases in ALIASES.items() for alias in aliases}
_SCORES = {str(s): s for s in range(11)}
_CATEGORIES = [nps.category(s) for s in range(11)]
_CHANNELS = frozenset(Invitation.Channel.values)
_EMAIL = re.compile(r"[^@\s,;<>()\[\]\"']+@[^@\s,;<>()\[\]\"']+\.[^@\s,;<>()\[\]\"'.]+")
_RUBY_TIME = re.compile(r"(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d(?::\d\d(?:\.\d+)?)?)\s*([+-]\d\d:?\d\d)")


class ImportFileError(ValueError):
    """The uploaded file cannot be imported at all; the message says why, and `field`
    which of the upload form's fields it is about (the file itself unless said)."""

    def __init__(self, message: str, *, field: str = "file"):
        super().__init__(message)
        self.field = field


def _normalise(header: str) -> str:
    return re.sub(r"[\s_\-.]+", "", header.strip().lstrip("\ufeff").lower())


@dataclass
class Layout:
    """Where each known field is in the file's rows."""

    format: str
    index: dict[str, int]
    person_properties: list[tuple[int, str]] = field(default_factory=list)


def layout_for(header: list[str]) -> Layout:
    index: dict[str, int] = {}
    others: list[tuple[int, str]] = []
    for position, raw in enumerate(header):
        name = _BY_ALIAS.get(_normalise(raw))
        if name is None:
            if raw.strip():
                others.append((position, raw.strip()))
        elif name not in index:
            index[name] = position
    if "score" not in index or "created_at" not in index:
        missing = " and ".join(
            what
            for what, key in (("a Score column", "score"), ("a date column", "created_at"))
            if key not in index
        )
        raise ImportFileError(
            f"The header is not one CX Hub knows: it lacks {missing}. Import CX Hub's own "
            "CSV export (source_key, touchpoint, score, comment, created_at, …) or "
            "Delighted's CSV export (Response ID, Score, Comment, Response date, …)."
        )
    if "source_key" in index and "touchpoint" in index:
        return Layout(CXHUB, index)
    return Layout(DELIGHTED, index, others)


def decode_upload(data: bytes) -> str:
    """The text of an uploaded file, or ImportFileError if it is not a CSV text file."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImportFileError(
            f"The file is too big: {len(data) / 1024 / 1024:.1f} MB, at most "
            f"{MAX_UPLOAD_BYTES // 1024 // 1024} MB. Split it and import the parts."
        )
    if b"\x00" in data[:65536]:
        raise ImportFileError("This is not a CSV file (it contains binary data).")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:  # Excel on Windows saves "CSV" in its own code page.
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise ImportFileError("This is not a CSV text file: save it as CSV (UTF-8).") from None


def _reader(text: str):
    # A comment can be up to SURVEY_COMMENT_MAX_LENGTH; a too-long one is a row error,
    # not a file that cannot be read.
    csv.field_size_limit(max(csv.field_size_limit(), MAX_UPLOAD_BYTES))
    first_line = text[: text.find("\n")] if "\n" in text else text
    delimiter = max(",;\t", key=first_line.count)
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


def inspect(text: str) -> tuple[Layout, int]:
    """The file's layout and its number of data rows; ImportFileError when unusable."""
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise ImportFileError("The file is empty.")
    reader = _reader(text)
    try:
        header = next(reader)
        layout = layout_for(header)
        rows = sum(1 for row in reader if any(row))
    except csv.Error as exc:
        raise ImportFileError(f"This is not a readable CSV file: {exc}.") from None
    if not rows:
        raise ImportFileError("The file has a header but no rows to import.")
    return layout, rows


# --- cleaning one row ------------------------------------------------------------------


class RowError(ValueError):
    pass


def parse_moment(text: str, zone, now: dt.datetime) -> dt.datetime:
    text = text.strip()
    if not text:
        raise RowError("missing")
    try:
        if text.isascii() and text.isdigit():
            moment = dt.datetime.fromtimestamp(int(text), tz=dt.UTC)
        else:
            if text.endswith((" UTC", " utc", " GMT")):
                text = text[:-4] + "+00:00"
            try:
                moment = dt.datetime.fromisoformat(text)
            except ValueError:
                match = _RUBY_TIME.fullmatch(text)
                if not match:
                    raise
                moment = dt.datetime.fromisoformat("{}T{}{}".format(*match.groups()))
    except (ValueError, OverflowError, OSError):
        raise RowError(
            f"{text[:40]!r} is not a date CX Hub reads (use ISO 8601, e.g. 2024-04-18 09:30:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    try:
        in_range = FIRST_DAY <= moment <= now + dt.timedelta(days=1)
    except OverflowError:
        in_range = False
    if not in_range:
        raise RowError(f"{text[:40]!r} is outside 2000-01-01 to today")
    # In UTC: PostgreSQL refuses UTC offsets beyond ±15:59, which ISO 8601 allows.
    return moment.astimezone(dt.UTC)


def parse_properties(raw: str) -> dict:
    """A properties cell as a JSON object PostgreSQL's jsonb can store, or RowError:
    one value jsonb refuses would fail the whole batch's COPY (cxhub.jsontext)."""
    try:
        properties = jsontext.loads(raw, refuse_nul=True)
    except jsontext.Unstorable as exc:
        raise RowError(f"properties: {exc}") from None
    except ValueError:
        properties = None
    if not isinstance(properties, dict):
        raise RowError("properties: not a JSON object")
    return properties


@dataclass(slots=True)
class Row:
    number: int
    touchpoint: Touchpoint
    email: str
    phone: str
    name: str
    person_properties: dict
    score: int
    comment: str
    channel: str
    created_at: dt.datetime
    updated_at: dt.datetime
    properties: dict
    source_key: str
    person_id: int | None = None


class Cleaner:
    """Turns the cells of one data row into a Row, or raises RowError saying why."""

    def __init__(self, layout: Layout, *, default_touchpoint: Touchpoint | None, now):
        self.layout = layout
        self.default = default_touchpoint
        self.touchpoints = {t.slug: t for t in Touchpoint.objects.all()}
        self.zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
        self.now = now
        self.comment_max = settings.SURVEY_COMMENT_MAX_LENGTH
        self.own = layout.format == CXHUB
        index = layout.index
        self.at = {name: index.get(name) for name in ALIASES}
        self.extras = [(index[n], n) for n in RESPONSE_EXTRAS if n in index]
        self.width = max([*index.values(), *(i for i, _ in layout.person_properties)]) + 1

    def cell(self, cells, name) -> str:
        position = self.at[name]
        if position is None:
            return ""
        value = cells[position]
        return unsafe_cell(value) if self.own and value[:1] == "'" else value

    def clean(self, cells: list[str], number: int) -> Row:
        if len(cells) < self.width:
            cells = cells + [""] * (self.width - len(cells))
        cell = self.cell
        raw_score = cell(cells, "score").strip()
        score = _SCORES.get(raw_score)
        if score is None:
            try:
                score = services.clean_score(raw_score)
            except Exception:
                raise RowError(
                    f"score: {raw_score[:20]!r} is not a whole number from 0 to 10"
                ) from None
        comment = cell(cells, "comment").strip()
        if len(comment) > self.comment_max:
            raise RowError(f"comment: {len(comment)} characters, at most {self.comment_max}")
        try:
            created_at = parse_moment(cell(cells, "created_at"), self.zone, self.now)
        except RowError as exc:
            raise RowError(f"date: {exc}") from None
        updated_raw = cell(cells, "updated_at")
        updated_at = created_at
        if updated_raw.strip():
            try:
                updated_at = max(created_at, parse_moment(updated_raw, self.zone, self.now))
            except RowError as exc:
                raise RowError(f"updated at: {exc}") from None
        slug = cell(cells, "touchpoint").strip()
        if slug:
            touchpoint = self.touchpoints.get(slug)
            if touchpoint is None:
                raise RowError(f"touchpoint: there is no touchpoint {slug[:60]!r}")
        elif self.default is not None:
            touchpoint = self.default
        else:
            raise RowError("touchpoint: the row names none and the import has no default")
        email = services.clean_email(cell(cells, "email"))
        if email and not _EMAIL.fullmatch(email):
            raise RowError(f"email: {email[:60]!r} is not an email address")
        if len(email) > EMAIL_MAX:
            raise RowError(f"email: {len(email)} characters, at most {EMAIL_MAX}")
        phone = cell(cells, "phone")
        if phone:
            try:
                phone = services.clean_phone(phone)
            except Exception:
                raise RowError(
                    f"phone: {phone[:30]!r} is not a phone number in E.164 form"
                ) from None
        name = cell(cells, "name").strip() if (email or phone) else ""
        if len(name) > NAME_MAX:
            raise RowError(f"name: {len(name)} characters, at most {NAME_MAX}")
        properties: dict = {}
        if self.own:
            channel = cell(cells, "channel").strip() or Invitation.Channel.WEB
            if channel not in _CHANNELS:
                raise RowError(
                    f"channel: {channel[:20]!r} is not one of {', '.join(sorted(_CHANNELS))}"
                )
            raw = cell(cells, "properties").strip()
            if raw:
                properties = parse_properties(raw)
            person_properties = {}
            source_key = cell(cells, "source_key").strip()
        else:
            source = cell(cells, "delighted_source").strip()
            lowered = source.lower()
            channel = lowered if lowered in ("email", "sms") else Invitation.Channel.WEB
            if source:
                properties["delighted_source"] = source
            for position, key in self.extras:
                if cells[position].strip():
                    properties[key] = cells[position].strip()
            person_properties = {
                key: cells[position].strip()
                for position, key in self.layout.person_properties
                if cells[position].strip()
            }
            response_id = cell(cells, "response_id").strip()
            source_key = f"delighted:{response_id}" if response_id else ""
        if len(source_key) > SOURCE_KEY_MAX:
            source_key = "sha256:" + hashlib.sha256(source_key.encode()).hexdigest()
        if not source_key:
            digest = hashlib.sha256(
                "\x1f".join(
                    (
                        touchpoint.slug,
                        email or phone,
                        created_at.astimezone(dt.UTC).isoformat(),
                        str(score),
                        comment,
                    )
                ).encode()
            ).hexdigest()
            source_key = f"sha256:{digest}"
        return Row(
            number,
            touchpoint,
            email,
            phone,
            name,
            person_properties if (email or phone) else {},
            score,
            comment,
            channel,
            created_at,
            updated_at,
            properties,
            source_key,
        )


# --- writing a batch -------------------------------------------------------------------


def _copy_available() -> bool:
    return USE_COPY and connection.vendor == "postgresql"


def _responses_insert(rows: list[Row], now: dt.datetime) -> list[Response]:
    """Link or create the rows' people and insert the rows whose source_key is new (the
    first of several rows with the same key); return those as saved Responses."""
    if not rows:
        return []
    existing = _existing_keys([r.source_key for r in rows])
    fresh, seen = [], existing
    for row in rows:
        if row.source_key not in seen:
            seen.add(row.source_key)
            fresh.append(row)
    if not fresh:
        return []
    people = _identities(fresh)
    if _copy_available():
        return _insert_with_copy(fresh, people, now)
    _people_link_orm(fresh, people, now)
    responses = [_response(None, r) for r in fresh]
    Response.objects.bulk_create(responses, batch_size=1000)
    return responses


def _existing_keys(keys: list[str]) -> set[str]:
    if _copy_available():  # one index probe per key, without building an IN list
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT source_key FROM surveys_response"
                " WHERE source_key = ANY(%s) AND source_key <> ''",
                [keys],
            )
            return {key for (key,) in cursor.fetchall()}
    existing: set[str] = set()
    for start in range(0, len(keys), 5000):
        existing.update(
            Response.objects.filter(source_key__in=keys[start : start + 5000]).values_list(
                "source_key", flat=True
            )
        )
    return existing


@dataclass(slots=True)
class Identity:
    """What a file says about one person: found by email, else by phone (as
    person_upsert does); a given name replaces theirs, properties are merged."""

    email: str
    phone: str
    name: str
    properties: dict


def _identities(rows: list[Row]) -> dict[str, Identity]:
    people: dict[str, Identity] = {}
    for row in rows:
        if not (row.email or row.phone):
            continue
        key = row.email or row.phone
        seen = people.get(key)
        if seen is None:
            people[key] = Identity(row.email, row.phone, row.name, dict(row.person_properties))
        else:
            seen.phone = seen.phone or row.phone
            seen.name = row.name or seen.name
            seen.properties.update(row.person_properties)
    # A phone number belongs to one person: the first of the file's people with an
    # email who gives it; a phone-only row with that number is then theirs.
    owners: dict[str, str] = {}
    for key, person in people.items():
        if person.email and person.phone:
            if person.phone in owners:
                person.phone = ""
            else:
                owners[person.phone] = key
    for key in [k for k, p in people.items() if not p.email and p.phone in owners]:
        del people[key]
    return people


# The portable path (SQLite in development): a few set queries per batch through the ORM.


def _people_link_orm(rows: list[Row], people: dict[str, Identity], now: dt.datetime) -> None:
    emails = [p.email for p in people.values() if p.email]
    phones = list({p.phone for p in people.values() if p.phone})
    ids: dict[str, int] = {}
    taken_phones: set[str] = set()
    changed: dict[int, Person] = {}
    for person in _people_matching(emails, phones):
        if person.phone:
            taken_phones.add(person.phone)
        for key, lookup in ((person.email, True), (person.phone, False)):
            want = people.get(key) if key else None
            if want is None or key in ids or bool(want.email) != lookup:
                continue
            ids[key] = person.pk
            if want.name and want.name != person.name:
                person.name = want.name
                changed[person.pk] = person
            if want.phone and not person.phone and want.phone not in taken_phones:
                person.phone = want.phone
                taken_phones.add(person.phone)
                changed[person.pk] = person
            merged = {**person.properties, **want.properties}
            if merged != person.properties:
                person.properties = merged
                changed[person.pk] = person
    for person in changed.values():
        person.updated_at = now
    if changed:
        Person.objects.bulk_update(
            list(changed.values()), ["name", "phone", "properties", "updated_at"], batch_size=1000
        )
    new = [
        Person(
            email=p.email,
            phone="" if p.phone in taken_phones else p.phone,
            name=p.name,
            properties=p.properties,
            created_at=now,
            updated_at=now,
        )
        for key, p in people.items()
        if key not in ids and (p.email or p.phone not in taken_phones)
    ]
    if new and Suppression.objects.exists():
        for person in new:  # an erased person's unsubscribe or bounce, as person_upsert
            fields = services.suppression_fields(email=person.email, phone=person.phone, now=now)
            for field, value in fields.items():
                setattr(person, field, value)
    if new:
        Person.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)
        for person in _people_matching(
            [p.email for p in new if p.email], [p.phone for p in new if not p.email]
        ):
            ids.setdefault(person.email or person.phone, person.pk)
            if person.phone:
                ids.setdefault(person.phone, person.pk)
    for row in rows:
        if row.email or row.phone:
            row.person_id = ids.get(row.email) if row.email else ids.get(row.phone)


def _people_matching(emails: list[str], phones: list[str]):
    people = Person.objects.only("pk", "email", "phone", "name", "properties")
    for start in range(0, max(len(emails), len(phones)), 5000):
        chunk_e, chunk_p = emails[start : start + 5000], phones[start : start + 5000]
        query = Q(email__in=chunk_e) if chunk_e else Q(pk__in=[])
        if chunk_p:
            query |= Q(phone__in=chunk_p)
        yield from people.filter(query)


# PostgreSQL: the rows go into temporary tables with COPY; people and responses are
# then written by a handful of set statements, with no per-row work in Python.


def _copy(cursor, table: str, columns: str, lines: list[str], extra: str = "") -> None:
    """A temporary table `table` (dropped at commit) holding the COPY-text lines in its
    `columns`, plus `extra` columns left to their defaults."""
    names = ", ".join(c.split()[0] for c in columns.split(","))
    cursor.execute(
        f"CREATE TEMPORARY TABLE {table} ({columns}{', ' + extra if extra else ''}) ON COMMIT DROP"
    )
    cursor.copy_expert(f"COPY {table} ({names}) FROM STDIN", io.StringIO("\n".join(lines) + "\n"))


# No statement reads surveys_person while inserting into it (a scan of a table the same
# statement grows is quadratic when the planner thinks the table is empty): who is
# known is settled in the temporary table first.
_PEOPLE_SQL = [
    # Known already: by email, or by phone for rows without an email (as person_upsert).
    """UPDATE import_people AS u SET person_id = p.id FROM surveys_person AS p
    WHERE u.email <> '' AND p.email = u.email AND p.email <> ''""",
    """UPDATE import_people AS u SET person_id = p.id FROM surveys_person AS p
    WHERE u.email = '' AND p.phone = u.phone AND p.phone <> ''""",
    # A phone number someone else already has stays theirs.
    """UPDATE import_people AS u SET phone_taken = true FROM surveys_person AS p
    WHERE u.email <> '' AND u.phone <> '' AND p.phone = u.phone AND p.phone <> ''
      AND p.id IS DISTINCT FROM u.person_id""",
    # Known people: a given name replaces theirs, properties merge, a free phone fills in.
    """UPDATE surveys_person AS p SET
        name = CASE WHEN u.name <> '' THEN u.name ELSE p.name END,
        phone = CASE WHEN p.phone = '' AND u.phone <> '' AND NOT u.phone_taken
                     THEN u.phone ELSE p.phone END,
        properties = p.properties || u.properties,
        updated_at = %(now)s
    FROM import_people AS u
    WHERE p.id = u.person_id
      AND ((u.name <> '' AND u.name <> p.name) OR NOT p.properties @> u.properties
           OR (p.phone = '' AND u.phone <> '' AND NOT u.phone_taken))""",
]
# New people, after _PEOPLE_SQL (and _SUPPRESSED_SQL, which finds who starts
# unsubscribed / bounced).
_PEOPLE_INSERT_SQL = """INSERT INTO surveys_person
        (email, phone, name, external_id, locale, properties, unsubscribed_at, bounced_at,
         created_at, updated_at)
    SELECT u.email, CASE WHEN u.phone_taken THEN '' ELSE u.phone END, u.name, '', '',
           u.properties, CASE WHEN u.unsubscribed THEN %(now)s::timestamptz END,
           CASE WHEN u.bounced THEN %(now)s::timestamptz END, %(now)s, %(now)s
    FROM import_people AS u
    WHERE u.person_id IS NULL
    ON CONFLICT DO NOTHING"""

# Run before _PEOPLE_INSERT_SQL, only when the suppression list is not empty: which new
# people an erased person's unsubscribe or bounce applies to (services.person_upsert's
# rule, set-based). HMAC-SHA256 written out with PostgreSQL's sha256(): per key,
# sha256(opad || sha256(ipad || message)), ipad/opad from services.suppression_digest's
# key (_suppression_pads), so the digests are the ones Python computes.
_HMAC = "encode(sha256(%(opad{n})s || sha256(%(ipad{n})s || convert_to({message}, 'UTF8'))), 'hex')"
_SUPPRESSED_SQL = """UPDATE import_people AS u SET
    unsubscribed = EXISTS (SELECT 1 FROM surveys_suppression AS s
        WHERE s.kind = 'unsubscribed' AND s.digest IN ({by_email}, {by_phone})),
    bounced = u.email <> '' AND EXISTS (SELECT 1 FROM surveys_suppression AS s
        WHERE s.kind = 'bounced' AND s.digest IN ({by_email}))
WHERE u.person_id IS NULL"""


def _suppression_pads() -> dict[str, bytes]:
    """HMAC's inner and outer pads (RFC 2104) of the key salted_hmac derives from each
    of services.suppression_secrets(), as ipad0/opad0, ipad1/opad1…"""
    pads = {}
    salt = force_bytes(services.SUPPRESSION_SALT)
    for n, secret in enumerate(services.suppression_secrets()):
        # salted_hmac's derived key, zero-padded to SHA-256's 64-byte block.
        key = hashlib.sha256(salt + force_bytes(secret)).digest().ljust(64, b"\0")
        pads[f"ipad{n}"] = bytes(b ^ 0x36 for b in key)
        pads[f"opad{n}"] = bytes(b ^ 0x5C for b in key)
    return pads


def _suppressed_sql() -> tuple[str, dict[str, bytes]]:
    pads = _suppression_pads()
    keys = range(len(pads) // 2)

    def digests(message: str) -> str:
        return ", ".join(_HMAC.format(n=n, message=message) for n in keys)

    # NULL (no address, or a phone someone else keeps) matches no digest.
    by_email = digests("CASE WHEN u.email <> '' THEN 'email:' || u.email END")
    by_phone = digests("CASE WHEN u.phone <> '' AND NOT u.phone_taken THEN 'phone:' || u.phone END")
    return _SUPPRESSED_SQL.format(by_email=by_email, by_phone=by_phone), pads


_RESPONSES_SQL = """
INSERT INTO surveys_response (touchpoint_id, person_id, score, category, comment, properties,
                              channel, created_at, updated_at, source_key)
SELECT r.touchpoint_id, COALESCE(pe.id, pp.id), r.score, r.category, r.comment, r.properties,
       r.channel, r.created_at, r.updated_at, r.source_key
FROM import_rows AS r
LEFT JOIN surveys_person AS pe ON r.email <> '' AND pe.email = r.email AND pe.email <> ''
LEFT JOIN surveys_person AS pp
       ON r.email = '' AND r.phone <> '' AND pp.phone = r.phone AND pp.phone <> ''
ON CONFLICT DO NOTHING
RETURNING id, person_id, source_key
"""


def _insert_with_copy(
    rows: list[Row], people: dict[str, Identity], now: dt.datetime
) -> list[Response]:
    dumps = json.dumps
    with connection.cursor() as cursor:
        if people:
            _copy(
                cursor,
                "import_people",
                "email text, phone text, name text, properties jsonb",
                [
                    f"{copy_text(p.email)}\t{p.phone}\t{copy_text(p.name)}\t"
                    + (copy_text(dumps(p.properties)) if p.properties else "{}")
                    for p in people.values()
                ],
                extra="person_id bigint, phone_taken boolean NOT NULL DEFAULT false,"
                " unsubscribed boolean NOT NULL DEFAULT false,"
                " bounced boolean NOT NULL DEFAULT false",
            )
            for statement in _PEOPLE_SQL:
                cursor.execute(statement, {"now": now})
            if Suppression.objects.exists():
                cursor.execute(*_suppressed_sql())
            cursor.execute(_PEOPLE_INSERT_SQL, {"now": now})
        _copy(
            cursor,
            "import_rows",
            "touchpoint_id bigint, email text, phone text, score smallint, category text,"
            " comment text, properties jsonb, channel text, created_at timestamptz,"
            " updated_at timestamptz, source_key text",
            [
                f"{r.touchpoint.pk}\t{copy_text(r.email)}\t{r.phone}\t{r.score}\t{_CATEGORIES[r.score]}\t"
                f"{copy_text(r.comment)}\t"
                + (copy_text(dumps(r.properties)) if r.properties else "{}")
                + f"\t{r.channel}\t{r.created_at.isoformat()}\t{r.updated_at.isoformat()}"
                f"\t{copy_text(r.source_key)}"
                for r in rows
            ],
        )
        cursor.execute(_RESPONSES_SQL)
        inserted = cursor.fetchall()
        cursor.execute("DROP TABLE import_rows")
        if people:
            cursor.execute("DROP TABLE import_people")
    by_key = {r.source_key: r for r in rows}
    responses = []
    for pk, person_id, key in sorted(inserted):
        row = by_key[key]
        row.person_id = person_id
        responses.append(_response(pk, row))
    return responses


def _response(pk: int | None, r: Row) -> Response:
    # Positional, in field order: Django's fast path for building model instances.
    response = Response(
        pk,
        r.touchpoint.pk,
        r.person_id,
        None,
        r.score,
        _CATEGORIES[r.score],
        r.comment,
        r.properties,
        r.channel,
        r.created_at,
        r.updated_at,
        r.source_key,
    )
    response._state.adding = pk is None
    return response


# --- the import as a whole ---------------------------------------------------------------


def response_import_create(
    *,
    filename: str,
    content: str,
    default_touchpoint: Touchpoint | None,
    created_by=None,
    enqueue: bool = True,
) -> ResponseImport:
    """Check the file and store it as a pending import; the task runs it after commit.

    Raises ImportFileError (and writes nothing) for a file that cannot be imported:
    empty, no rows, too big, not CSV, a header CX Hub does not know, or no touchpoint
    for its rows (no touchpoint column and no default touchpoint).
    """
    if "\x00" in content:
        raise ImportFileError("This is not a CSV file (it contains binary data).")
    if len(content.encode()) > MAX_UPLOAD_BYTES:
        raise ImportFileError(
            f"The file is too big: at most {MAX_UPLOAD_BYTES // 1024 // 1024} MB."
        )
    layout, rows = inspect(content)
    if "touchpoint" not in layout.index and default_touchpoint is None:
        raise ImportFileError(
            "The file has no touchpoint column: choose the touchpoint its responses "
            "belong to as the default touchpoint.",
            field="default_touchpoint",
        )
    with transaction.atomic():
        response_import = ResponseImport.objects.create(
            filename=(filename or "responses.csv")[:255],
            content=content.lstrip("\ufeff"),
            default_touchpoint=default_touchpoint,
            created_by=created_by,
            rows_total=rows,
        )
        if enqueue:
            from surveys import tasks

            enqueue_on_commit(tasks.response_import_run, response_import.pk)
    return response_import


def response_import_run(*, import_id: int) -> ResponseImport | None:
    """Run a pending import to the end. Idempotent: the import is claimed with a
    conditional UPDATE (pending → running), so a second delivery of the task finds
    nothing to do; a run resumed by the sweeper starts after the last committed batch.

    A file-level failure marks the import failed with the error (its content is kept);
    row-level problems only skip their rows.
    """
    now = timezone.now()
    claimed = ResponseImport.objects.filter(
        pk=import_id, status=ResponseImport.Status.PENDING
    ).update(status=ResponseImport.Status.RUNNING, started_at=now, progressed_at=now)
    if not claimed:
        return None
    response_import = ResponseImport.objects.select_related("default_touchpoint").get(pk=import_id)
    try:
        _run(response_import, now)
    except Exception as exc:
        logger.exception("import %s failed", import_id)
        ResponseImport.objects.filter(pk=import_id).update(
            status=ResponseImport.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
    else:
        ResponseImport.objects.filter(pk=import_id).update(
            status=ResponseImport.Status.DONE, content="", finished_at=timezone.now()
        )
    response_import.refresh_from_db()
    return response_import


def _run(response_import: ResponseImport, now: dt.datetime) -> None:
    text = response_import.content
    reader = _reader(text)
    layout = layout_for(next(reader))
    cleaner = Cleaner(layout, default_touchpoint=response_import.default_touchpoint, now=now)
    done = response_import.rows_done  # > 0 when resuming after a lost worker
    report = list(response_import.report)
    touched: dict[int, list] = {}  # touchpoint → [first, last] moment answered
    batch: list[Row] = []
    counted = 0
    bad: list[dict] = []
    try:
        for number, cells in enumerate(reader, start=2):
            if not any(cells):
                continue
            counted += 1
            if counted <= done:
                # Written by the run that died; its days still need their rollups.
                try:
                    row = cleaner.clean(cells, number)
                except RowError:
                    continue
                _touch(touched, row.touchpoint.pk, row.created_at)
                continue
            try:
                batch.append(cleaner.clean(cells, number))
            except RowError as exc:
                bad.append({"row": number, "reason": str(exc)})
            if len(batch) + len(bad) >= BATCH_SIZE:
                _write_batch(response_import, batch, bad, report, now, touched)
                batch, bad = [], []
        if batch or bad:
            _write_batch(response_import, batch, bad, report, now, touched)
    finally:
        # Also when the run fails midway: the batches it committed count in the rollups
        # (no sweeper would: imported rows carry old dates).
        try:
            for tp_id, (first, last) in touched.items():
                services.rollups_recompute_range(
                    start=services.local_day(first),
                    end=services.local_day(last),
                    touchpoint_ids=[tp_id],
                )
        except Exception:  # the run's own error, if any, is the one to report
            logger.exception(
                "import %s: the rollups of its days were not recomputed", response_import.pk
            )


def _exported_from_here(rows: list[Row]) -> set[str]:
    """Keys `cxhub:<id>` of rows that are this installation's own live responses (an
    export imported back): the response with that id, touchpoint and time exists."""
    wanted = {}
    for row in rows:
        kind, _, pk = row.source_key.partition(":")
        if kind == "cxhub" and (pk := services.digits_id(pk)) is not None:
            wanted[pk] = row
    if not wanted:
        return set()
    found = Response.objects.filter(pk__in=list(wanted), source_key="").values_list(
        "pk", "touchpoint_id", "created_at"
    )
    return {
        f"cxhub:{pk}"
        for pk, touchpoint_id, created_at in found
        if (wanted[pk].touchpoint.pk, wanted[pk].created_at) == (touchpoint_id, created_at)
    }


def _write_batch(response_import, rows, bad, report, now, touched) -> None:
    with transaction.atomic():
        here = _exported_from_here(rows)
        inserted = _responses_insert([r for r in rows if r.source_key not in here], now)
        if inserted:
            responses_imported.send(sender=Response, responses=inserted)
        room = REPORT_CAP - len(report)
        if room > 0 and bad:
            report.extend(bad[:room])
        ResponseImport.objects.filter(pk=response_import.pk).update(
            rows_done=F("rows_done") + len(rows) + len(bad),
            imported=F("imported") + len(inserted),
            duplicates=F("duplicates") + len(rows) - len(inserted),
            skipped=F("skipped") + len(bad),
            report=report,
            progressed_at=timezone.now(),
        )
    for response in inserted:
        _touch(touched, response.touchpoint_id, response.created_at)


def _touch(touched: dict[int, list], touchpoint_id: int, moment: dt.datetime) -> None:
    """Widen the touchpoint's [first, last] moment to include this one (turned into
    local days once, at the end: a local day only grows with the moment)."""
    span = touched.get(touchpoint_id)
    if span is None:
        touched[touchpoint_id] = [moment, moment]
    elif moment < span[0]:
        span[0] = moment
    elif moment > span[1]:
        span[1] = moment


def response_imports_resume(*, older_than_minutes: int = 5, stuck_after_minutes: int = 30) -> int:
    """Sweeper: start imports whose task message was lost (broker down at upload), and
    resume runs a dead worker left half done (from their last committed batch): runs
    with no batch committed for `stuck_after_minutes`, not merely long ones (a second
    run beside a live one would count every row twice)."""
    from surveys import tasks

    now = timezone.now()
    stuck = now - dt.timedelta(minutes=stuck_after_minutes)
    ResponseImport.objects.filter(
        Q(progressed_at__lt=stuck) | Q(progressed_at__isnull=True, started_at__lt=stuck),
        status=ResponseImport.Status.RUNNING,
    ).update(status=ResponseImport.Status.PENDING)
    ids = list(
        ResponseImport.objects.filter(
            status=ResponseImport.Status.PENDING,
            created_at__lt=now - dt.timedelta(minutes=older_than_minutes),
        ).values_list("pk", flat=True)[:100]
    )
    for pk in ids:
        publish(tasks.response_import_run, pk)
    return len(ids)


def response_import_get_for_user(user, pk: int) -> ResponseImport:
    """The import, for CX admins; 404 for everyone else."""
    if not roles.is_cx_admin(user):
        raise Http404
    # Not the file itself: the progress bar polls this every second.
    response_import = ResponseImport.objects.defer("content").filter(pk=pk).first()
    if response_import is None:
        raise Http404
    return response_import


# --- erasure ---------------------------------------------------------------------------

ERASED_CELL = "[erased]"
# What an erased person's rows keep: what their score needs to count, as their live
# responses keep it (surveys.services.person_erase). Every other cell is blanked.
_KEPT_ON_ERASURE = frozenset(
    ("source_key", "response_id", "touchpoint", "score", "category", "created_at")
    + ("updated_at", "channel", "delighted_source", "survey_type")
)


def response_imports_erase_person(*, email: str, phone: str) -> int:
    """GDPR erasure (called by services.person_erase, in its transaction): the imports
    that still hold the person's email or phone lose them. In a file not imported yet
    (pending), or kept after a failure, the person's rows keep only their score, dates
    and touchpoint, so they import as anonymous answers, and the address is masked
    wherever else it appears; the report and the error are masked too. Rows keep their
    places, so a resumed run still starts where it stopped.

    A running import with the person's rows still ahead would re-create them from the
    copy its worker read: SurveyError (the erasure is refused, nothing changes) until
    it has finished. Returns the number of imports changed."""
    email, phone = services.clean_email(email), phone.strip()
    needles = [n for n in (email, phone) if n]
    if not needles:
        return 0
    candidates = Q(content__icontains=email) if email else Q(pk__in=[])
    if phone:  # as a row may write it: "+33 6 12-34-56-78" is the same number
        separators = r"[\s().-]*"
        digits = separators.join(re.escape(d) for d in phone.lstrip("+"))
        candidates |= Q(content__iregex=rf"\+{separators}{digits}")
    for needle in needles:
        candidates |= Q(error__icontains=needle) | Q(report__icontains=needle)
    changed = 0
    for response_import in ResponseImport.objects.select_for_update().filter(candidates):
        content, last = _content_erase(response_import.content, needles, email, phone)
        running = response_import.status == ResponseImport.Status.RUNNING
        if running and last > response_import.rows_done:
            raise services.SurveyError(
                f"An import that names this person is running ({response_import.filename}): "
                "erase them once it has finished.",
                code="conflict",
            )
        error = _mask(response_import.error, needles)
        report = [
            {**entry, "reason": _mask(str(entry.get("reason", "")), needles)}
            if isinstance(entry, dict)
            else entry
            for entry in response_import.report
        ]
        if content is None and (error, report) == (response_import.error, response_import.report):
            continue
        if content is not None:
            response_import.content = content
        response_import.error, response_import.report = error, report
        response_import.save(update_fields=["content", "error", "report"])
        changed += 1
    return changed


def _mask(text: str, needles: list[str]) -> str:
    for needle in needles:
        text = re.sub(re.escape(needle), ERASED_CELL, text, flags=re.IGNORECASE)
    return text


def _content_erase(text: str, needles, email: str, phone: str) -> tuple[str | None, int]:
    """The file with the person's rows blanked and their address masked elsewhere (None
    when it names them nowhere), and the place of the last row that named them (theirs,
    or another's quoting their address) as rows_done counts rows (0 for none)."""
    if not text:
        return None, 0
    reader = _reader(text)
    try:
        header = next(reader)
        layout = layout_for(header)
    except (StopIteration, ImportFileError, csv.Error):
        masked = _mask(text, needles)  # not a file CX Hub reads: masking is all there is
        return (masked if masked != text else None), 0
    at = layout.index
    kept = {at[name] for name in _KEPT_ON_ERASURE if name in at}
    out = io.StringIO()
    writer = csv.writer(out, delimiter=reader.dialect.delimiter, lineterminator="\n")
    writer.writerow(header)
    counted = last = 0
    touched = False
    for cells in reader:
        if any(cells):
            counted += 1
        by_name = {name: cells[i] for name, i in at.items() if i < len(cells)}
        if (email and services.clean_email(by_name.get("email")) == email) or (
            phone and _phone(by_name.get("phone", "")) == phone
        ):
            last, touched = counted, True
            cells = [c if i in kept else "" for i, c in enumerate(cells)]
        else:
            masked = [_mask(c, needles) for c in cells]
            if masked != cells:  # quotes them (a comment): a running worker would import it
                last, touched = counted, True
            cells = masked
        writer.writerow(cells)
    return (out.getvalue() if touched else None), last


def _phone(value: str) -> str:
    try:
        return services.clean_phone(value)
    except Exception:
        return value.strip()
