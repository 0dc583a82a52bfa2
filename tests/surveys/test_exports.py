"""CSV export of responses: the list page's filters, streamed, formula cells neutralised,
and a round trip through the import."""

import csv
import datetime as dt
import io

import pytest
import time_machine
from django.core.management import call_command

from cxhub.spreadsheet import safe_cell, unsafe_cell
from feedback.models import CaseEvent, FollowUpCase
from surveys import imports, services
from surveys.models import NpsDaily, Person, Response, ResponseImport

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
EVIL = ['=HYPERLINK("http://x")', "+SUM(1)", "-2+3", "@cmd", "\tTAB", "\rCR"]


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


def record(touchpoint, score, days_ago, comment="", **person):
    customer = services.person_upsert(**person) if person else None
    return services.response_record(
        touchpoint=touchpoint,
        score=score,
        comment=comment,
        person=customer,
        created_at=NOW - dt.timedelta(days=days_ago, minutes=days_ago * 7),
        properties={"order": f"A-{days_ago}"} if days_ago % 2 else None,
    )


@pytest.fixture
def responses(touchpoint, touchpoint_b):
    return [
        record(touchpoint, 9, 1, "Lovely", email="claire@example.net", name="Claire Fontaine"),
        record(touchpoint, 2, 1, 'Line 1\nline 2, "quoted"', phone="+33612345678"),
        record(touchpoint, 7, 3, EVIL[0], email="=evil@example.net", name="@Mallory"),
        record(touchpoint_b, 10, 4, "'=already quoted"),
        record(touchpoint_b, 0, 40, "Old and unhappy"),
    ]


def download(client, query=""):
    answer = client.get(f"/responses/export.csv{query}")
    assert answer.status_code == 200
    assert answer.streaming
    assert answer["Content-Type"] == "text/csv; charset=utf-8"
    assert answer["Content-Disposition"].startswith('attachment; filename="responses-')
    return b"".join(answer.streaming_content).decode()


def parsed(text):
    return list(csv.DictReader(io.StringIO(text)))


def state():
    """Every response as the fields an export carries (not ids)."""
    return sorted(
        (
            r.touchpoint.slug,
            r.score,
            r.category,
            r.comment,
            r.channel,
            r.created_at,
            r.updated_at,
            r.person.email if r.person else None,
            r.person.phone if r.person else None,
            r.person.name if r.person else None,
            r.properties,
        )
        for r in Response.objects.select_related("touchpoint", "person")
    )


def test_export_then_import_into_a_fresh_database_gives_the_same_responses(
    client, cx_admin, responses, django_capture_on_commit_callbacks
):
    client.force_login(cx_admin)
    before = state()
    text = download(client)
    assert len(parsed(text)) == 5

    CaseEvent.objects.all().delete()
    FollowUpCase.objects.all().delete()
    Response.objects.all().delete()
    Person.objects.all().delete()
    NpsDaily.objects.all().delete()

    with django_capture_on_commit_callbacks(execute=True):
        created = imports.response_import_create(
            filename="export.csv", content=text, default_touchpoint=None, created_by=cx_admin
        )
    done = ResponseImport.objects.get(pk=created.pk)
    assert (done.status, done.imported, done.skipped) == ("done", 5, 0), done.report
    assert state() == before
    # The detractors have their cases again (the old one closed as history).
    assert FollowUpCase.objects.count() == 2
    assert FollowUpCase.objects.filter(status="closed").count() == 1


def test_a_delighted_import_exported_and_imported_into_a_fresh_database_is_unchanged(
    client, cx_admin, touchpoint, django_capture_on_commit_callbacks
):
    delighted = (
        "Response ID,Score,Comment,Response date,Name,Email,Phone number,Delighted Source,Plan\n"
        "7,10,Great,2026-11-02 10:00:00 +0000,Claire F,claire@example.net,,email,pro\n"
        '8,4,"=1+1, said the bot",2026-11-03 11:00:00 +0100,,,+33612345678,sms,\n'
    )

    def import_text(text, default):
        with django_capture_on_commit_callbacks(execute=True):
            created = imports.response_import_create(
                filename="f.csv", content=text, default_touchpoint=default
            )
        return ResponseImport.objects.get(pk=created.pk)

    assert import_text(delighted, touchpoint).imported == 2
    before = state()
    keys = set(Response.objects.values_list("source_key", flat=True))
    client.force_login(cx_admin)
    text = download(client)

    FollowUpCase.objects.all().delete()
    Response.objects.all().delete()
    Person.objects.all().delete()
    assert import_text(text, None).imported == 2
    assert state() == before
    assert set(Response.objects.values_list("source_key", flat=True)) == keys
    # The export keeps Delighted's keys: the original file is still recognised.
    assert import_text(delighted, touchpoint).duplicates == 2


def test_an_export_imported_back_into_the_same_database_adds_nothing(
    client, cx_admin, responses, django_capture_on_commit_callbacks
):
    client.force_login(cx_admin)
    before = state()
    with django_capture_on_commit_callbacks(execute=True):
        created = imports.response_import_create(
            filename="export.csv", content=download(client), default_touchpoint=None
        )
    done = ResponseImport.objects.get(pk=created.pk)
    assert (done.imported, done.duplicates) == (0, 5)
    assert state() == before


def test_cells_that_would_run_as_spreadsheet_formulas_are_neutralised(client, cx_admin, touchpoint):
    for comment in EVIL[:4]:
        services.response_record(touchpoint=touchpoint, score=5, comment=comment)
    # Comments are stripped on the way in; names are not: a leading tab or CR too.
    for email, name in (("-x@example.net", "=cmd|' /C calc'!A0"), ("t@example.net", "\tTab")):
        services.response_record(
            touchpoint=touchpoint,
            score=9,
            person=services.person_upsert(email=email, name=name),
            comment=f"by {email}",
        )
    client.force_login(cx_admin)
    rows = parsed(download(client))
    comments = {row["comment"] for row in rows}
    for evil in EVIL[:4]:
        assert "'" + evil in comments
        assert evil not in comments
    by_name = {row["comment"]: row for row in rows}
    assert by_name["by -x@example.net"]["person_name"] == "'=cmd|' /C calc'!A0"
    assert by_name["by -x@example.net"]["person_email"] == "'-x@example.net"
    assert by_name["by t@example.net"]["person_name"] == "'\tTab"
    assert {row["score"] for row in rows} == {"5", "9"}  # numbers stay numbers


@pytest.mark.parametrize("text", [*EVIL, "=1+1", "+33612345678", "-12", "'=x", "''", "plain", ""])
def test_safe_cell_never_starts_a_formula_and_unsafe_cell_gives_the_original_back(text):
    cell = safe_cell(text)
    assert unsafe_cell(cell) == text
    if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
        assert cell.lstrip("+-").replace(".", "").isdigit()


def test_the_export_has_the_filters_of_the_list_page(client, cx_admin, responses, touchpoint):
    client.force_login(cx_admin)
    only_tp = parsed(download(client, f"?touchpoint={touchpoint.slug}"))
    assert {r["touchpoint"] for r in only_tp} == {touchpoint.slug} and len(only_tp) == 3
    detractors = parsed(download(client, "?category=detractor"))
    assert sorted(r["score"] for r in detractors) == ["0", "2"]
    recent = parsed(download(client, f"?since={(NOW - dt.timedelta(days=10)).date()}"))
    assert len(recent) == 4
    old = parsed(download(client, f"?until={(NOW - dt.timedelta(days=10)).date()}"))
    assert [r["comment"] for r in old] == ["Old and unhappy"]
    search = parsed(download(client, "?q=LOVELY"))
    assert [r["comment"] for r in search] == ["Lovely"]
    # The list page shows the same rows and links to this export with its filters.
    page = client.get("/responses/?category=detractor").content.decode()
    assert page.count("data-response=") == 2
    assert 'href="/responses/export.csv?category=detractor"' in page


def test_bad_filters_get_a_400_that_says_what_is_wrong(client, cx_admin, db):
    client.force_login(cx_admin)
    answer = client.get("/responses/export.csv?since=yesterday")
    assert answer.status_code == 400
    assert "since" in answer.content.decode()
    page = client.get("/responses/?category=angry")
    assert page.status_code == 400
    assert "Category: Select a valid choice. angry is not one" in page.content.decode()
    # Named as the page's form names the fields (From, To), not by their query names.
    page = client.get("/responses/?since=2026-12-31&until=2026-01-01")
    assert page.status_code == 400
    assert "From: The start date is after the end date." in page.content.decode()


def test_the_list_page_escapes_comments_and_paginates(client, cx_admin, touchpoint):
    for _ in range(55):
        services.response_record(touchpoint=touchpoint, score=9)
    with time_machine.travel(NOW + dt.timedelta(minutes=1), tick=False):
        services.response_record(
            touchpoint=touchpoint, score=3, comment="<script>alert(1)</script>"
        )
    client.force_login(cx_admin)
    html = client.get("/responses/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("data-response=") == 50
    assert "Page 1 of 2" in html
    assert client.get("/responses/?page=2").content.decode().count("data-response=") == 6


def test_the_export_command_writes_the_same_csv_with_filters(tmp_path, responses, touchpoint):
    out = tmp_path / "out.csv"
    err = io.StringIO()
    call_command("export_responses", "--touchpoint", touchpoint.slug, "-o", str(out), stderr=err)
    rows = parsed(out.read_text())
    assert len(rows) == 3 and "Wrote 3 responses" in err.getvalue()
    assert list(rows[0]) == [
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
