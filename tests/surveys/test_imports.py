"""CSV import of responses: formats, validation, no duplicates, people, cases, rollups,
the background task, the pages and who may use them."""

import csv
import datetime as dt
import io

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from feedback.models import CaseEvent, FollowUpCase
from surveys import imports, nps, services, tasks
from surveys.models import NpsDaily, Person, Response, ResponseImport
from tests.factories import PersonFactory
from tests.surveys.test_rollups import direct_counts
from tests.surveys.test_worker import worker  # noqa: F401 - the real-worker fixture

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
HEADER = [
    "Response ID",
    "Score",
    "Comment",
    "Response date",
    "Updated at",
    "Name",
    "Email",
    "Phone number",
    "Delighted Source",
    "Plan",
]


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


def delighted_csv(rows, header=HEADER):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def sample_rows(n=6, start=0):
    """n Delighted rows, a third of them detractors, spread over the last 30 days."""
    rows = []
    for i in range(start, start + n):
        when = NOW - dt.timedelta(days=i % 30, hours=i % 7)
        rows.append(
            [
                str(1000 + i),
                str([2, 9, 10, 7, 5, 10][i % 6]),
                f"Comment {i}",
                when.strftime("%Y-%m-%d %H:%M:%S +0000"),
                "",
                f"Customer {i}",
                f"customer{i}@example.net",
                "",
                "email" if i % 2 else "web",
                "gold" if i % 3 == 0 else "",
            ]
        )
    return rows


@pytest.fixture
def run_import(django_capture_on_commit_callbacks, cx_admin):
    """Create an import as the upload page does and let its task run after commit."""

    def _run(content, *, default_touchpoint=None, filename="export.csv"):
        with django_capture_on_commit_callbacks(execute=True):
            created = imports.response_import_create(
                filename=filename,
                content=content,
                default_touchpoint=default_touchpoint,
                created_by=cx_admin,
            )
        return ResponseImport.objects.get(pk=created.pk)

    return _run


@pytest.fixture(params=["copy", "orm"])
def both_paths(request, monkeypatch):
    """The PostgreSQL COPY path and the portable ORM path must behave the same."""
    if request.param == "orm":
        monkeypatch.setattr(imports, "USE_COPY", False)
    elif connection.vendor != "postgresql":
        pytest.fail("the COPY path needs PostgreSQL; run the tests on PostgreSQL")
    return request.param


# --- no duplicates --------------------------------------------------------------------------


def test_importing_the_same_file_twice_adds_nothing_the_second_time(
    run_import, touchpoint, both_paths
):
    content = delighted_csv(sample_rows(12))
    first = run_import(content, default_touchpoint=touchpoint)
    assert (first.status, first.imported, first.duplicates, first.skipped) == ("done", 12, 0, 0)
    assert first.content == ""  # the file is not kept once done
    cases = FollowUpCase.objects.count()

    second = run_import(content, default_touchpoint=touchpoint)
    assert (second.status, second.imported, second.duplicates, second.skipped) == ("done", 0, 12, 0)
    assert Response.objects.count() == 12
    assert Person.objects.count() == 12
    assert FollowUpCase.objects.count() == cases
    assert set(Response.objects.values_list("source_key", flat=True)) == {
        f"delighted:{1000 + i}" for i in range(12)
    }


def test_rows_without_a_response_id_are_recognised_by_their_content(
    run_import, touchpoint, both_paths
):
    rows = sample_rows(5)
    for row in rows:
        row[0] = ""
    content = delighted_csv(rows)
    assert run_import(content, default_touchpoint=touchpoint).imported == 5
    again = run_import(content, default_touchpoint=touchpoint)
    assert (again.imported, again.duplicates) == (0, 5)
    assert all(
        k.startswith("sha256:") for k in Response.objects.values_list("source_key", flat=True)
    )


def test_the_same_row_twice_in_one_file_is_imported_once(run_import, touchpoint, both_paths):
    rows = sample_rows(3)
    done = run_import(delighted_csv(rows + [rows[1]]), default_touchpoint=touchpoint)
    assert (done.imported, done.duplicates) == (3, 1)


# --- Delighted's format -------------------------------------------------------------------


def test_delighted_columns_become_the_response_and_its_person(run_import, touchpoint, both_paths):
    header = [
        " response id ",
        "SCORE",
        "Comment",
        "Date",
        "Updated_at",
        "Name",
        "E-mail",
        "Phone",
        "Delighted source",
        "Permalink",
        "Company size",
    ]
    rows = [
        [
            "77",
            "3",
            "  Waited an hour  ",
            "2026-11-19T08:30:00Z",
            "2026-11-19 10:00:00 UTC",
            "Claire Fontaine",
            "Claire@Example.NET",
            "+33 6 12 34 56 78",
            "sms",
            "https://delighted.example/r/77",
            "51-200",
        ],
        ["78", "10", "", "1763542800", "", "", "", "+33698765432", "kiosk", "", ""],
    ]
    done = run_import(delighted_csv(rows, header), default_touchpoint=touchpoint)
    assert (done.imported, done.skipped) == (2, 0), done.report

    first = Response.objects.select_related("person").get(source_key="delighted:77")
    assert (first.score, first.category, first.comment, first.channel) == (
        3,
        nps.DETRACTOR,
        "Waited an hour",
        "sms",
    )
    assert first.created_at == dt.datetime(2026, 11, 19, 8, 30, tzinfo=dt.UTC)
    assert first.updated_at == dt.datetime(2026, 11, 19, 10, 0, tzinfo=dt.UTC)
    assert first.properties == {
        "delighted_source": "sms",
        "permalink": "https://delighted.example/r/77",
    }
    person = first.person
    assert (person.email, person.phone, person.name) == (
        "claire@example.net",
        "+33612345678",
        "Claire Fontaine",
    )
    assert person.properties == {"Company size": "51-200"}

    second = Response.objects.select_related("person").get(source_key="delighted:78")
    assert second.created_at == dt.datetime.fromtimestamp(1763542800, tz=dt.UTC)
    assert second.channel == "web"
    assert (second.person.email, second.person.phone) == ("", "+33698765432")


def test_existing_people_are_found_by_email_or_phone_and_updated_not_duplicated(
    run_import, touchpoint, both_paths
):
    known = PersonFactory(email="claire@example.net", name="", properties={"vip": "yes"})
    by_phone = PersonFactory(email="", phone="+33698765432", name="Old name")
    rows = [
        ["1", "9", "", "2026-11-01", "", "Claire F", "claire@example.net", "", "", "gold"],
        ["2", "8", "", "2026-11-02", "", "New name", "", "+33698765432", "", ""],
    ]
    assert run_import(delighted_csv(rows), default_touchpoint=touchpoint).imported == 2
    assert Person.objects.count() == 2
    known.refresh_from_db()
    by_phone.refresh_from_db()
    assert (known.name, known.properties) == ("Claire F", {"vip": "yes", "Plan": "gold"})
    assert by_phone.name == "New name"
    assert Response.objects.get(source_key="delighted:1").person == known
    assert Response.objects.get(source_key="delighted:2").person == by_phone


def test_a_phone_number_already_someone_elses_is_not_given_to_a_new_person(
    run_import, touchpoint, both_paths
):
    owner = PersonFactory(email="owner@example.net", phone="+33611111111")
    rows = [
        ["1", "9", "", "2026-11-01", "", "New", "new@example.net", "+33611111111", "", ""],
        ["2", "9", "", "2026-11-01", "", "Two", "two@example.net", "+33622222222", "", ""],
        ["3", "9", "", "2026-11-01", "", "Three", "three@example.net", "+33622222222", "", ""],
        ["4", "9", "", "2026-11-01", "", "", "", "+33622222222", "", ""],
    ]
    assert run_import(delighted_csv(rows), default_touchpoint=touchpoint).imported == 4
    new = Person.objects.get(email="new@example.net")
    assert new.phone == "" and Person.objects.get(phone="+33611111111") == owner
    two = Person.objects.get(email="two@example.net")
    assert two.phone == "+33622222222"
    assert Person.objects.get(email="three@example.net").phone == ""
    assert Response.objects.get(source_key="delighted:4").person == two
    assert Person.objects.count() == 4


def test_people_are_written_in_bulk_not_one_query_per_row(touchpoint, both_paths):
    def queries(n, start):
        created = imports.response_import_create(
            filename="d.csv",
            content=delighted_csv(sample_rows(n, start)),
            default_touchpoint=touchpoint,
            enqueue=False,
        )
        with CaptureQueriesContext(connection) as ctx:
            assert imports.response_import_run(import_id=created.pk).imported == n
        return len(ctx.captured_queries)

    assert queries(300, 0) == queries(5, 1000)


def test_a_touchpoint_column_picks_the_touchpoint_by_slug(run_import, touchpoint, touchpoint_b):
    header = ["Response ID", "Score", "Response date", "Touchpoint"]
    rows = [["1", "9", "2026-11-01", "billing"], ["2", "9", "2026-11-01", ""]]
    done = run_import(delighted_csv(rows, header), default_touchpoint=touchpoint)
    assert done.imported == 2
    assert Response.objects.get(source_key="delighted:1").touchpoint == touchpoint_b
    assert Response.objects.get(source_key="delighted:2").touchpoint == touchpoint


# --- validation ---------------------------------------------------------------------------


def test_bad_rows_are_reported_with_their_row_number_and_reason_and_good_rows_still_import(
    run_import, touchpoint, settings
):
    header = ["Response ID", "Score", "Comment", "Response date", "Email", "Touchpoint"]
    rows = [
        ["1", "9", "fine", "2026-11-01", "a@example.net", ""],  # row 2
        ["2", "11", "", "2026-11-01", "", ""],  # row 3
        ["3", "seven", "", "2026-11-01", "", ""],  # row 4
        ["4", "5", "x" * 5001, "2026-11-01", "", ""],  # row 5
        ["5", "5", "", "yesterday", "", ""],  # row 6
        ["6", "5", "", "1999-12-31", "", ""],  # row 7
        ["7", "5", "", "2026-11-01", "not-an-email", ""],  # row 8
        ["8", "5", "", "2026-11-01", "", "nowhere"],  # row 9
        ["9", "7", "also fine", "2026-11-02 10:00", "", ""],  # row 10
        ["10", "", "", "2026-11-01", "", ""],  # row 11
    ]
    done = run_import(delighted_csv(rows, header), default_touchpoint=touchpoint)
    assert (done.status, done.imported, done.skipped, done.duplicates) == ("done", 2, 8, 0)
    reasons = {entry["row"]: entry["reason"] for entry in done.report}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9, 11]
    assert reasons[3].startswith("score:") and "0 to 10" in reasons[3]
    assert reasons[4].startswith("score:")
    assert reasons[5] == "comment: 5001 characters, at most 5000"
    assert reasons[6].startswith("date:")
    assert reasons[7].startswith("date:") and "2000-01-01" in reasons[7]
    assert reasons[8].startswith("email:")
    assert reasons[9] == "touchpoint: there is no touchpoint 'nowhere'"
    assert reasons[11].startswith("score:")
    assert sorted(Response.objects.values_list("score", flat=True)) == [7, 9]


def test_the_stored_report_is_capped_but_every_skipped_row_is_counted(
    run_import, touchpoint, monkeypatch
):
    monkeypatch.setattr(imports, "REPORT_CAP", 3)
    monkeypatch.setattr(imports, "BATCH_SIZE", 2)
    rows = [[str(i), "12", "", "2026-11-01"] for i in range(7)]
    done = run_import(
        delighted_csv(rows, ["Response ID", "Score", "Comment", "Date"]),
        default_touchpoint=touchpoint,
    )
    assert (done.skipped, len(done.report)) == (7, 3)
    assert [e["row"] for e in done.report] == [2, 3, 4]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "file is empty."),
        (b"Response ID,Score,Response date\n", "no rows to import"),
        (b"name,colour\nClaire,blue\n", "lacks a Score column and a date column"),
        (b"Score,Comment\n9,ok\n", "lacks a date column"),
        (b"PK\x03\x04\x00\x00binary", "not a CSV file"),
        (b"Score,Date\n9,2026-11-01\n" + b"x" * 70000 + b"\x00\n", "not a CSV file"),
    ],
)
def test_a_bad_upload_gets_a_clear_error_and_writes_nothing(
    client, cx_admin, touchpoint, content, message
):
    client.force_login(cx_admin)
    answer = client.post(
        "/responses/import/",
        {"file": SimpleUploadedFile("export.csv", content), "default_touchpoint": touchpoint.slug},
    )
    assert answer.status_code == 400
    assert message in answer.content.decode()
    assert ResponseImport.objects.count() == 0
    assert Response.objects.count() == 0


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(
    client, cx_admin, touchpoint, monkeypatch
):
    monkeypatch.setattr(imports, "MAX_UPLOAD_BYTES", 100)
    client.force_login(cx_admin)
    content = delighted_csv(sample_rows(5)).encode()
    answer = client.post(
        "/responses/import/",
        {"file": SimpleUploadedFile("big.csv", content), "default_touchpoint": touchpoint.slug},
    )
    assert answer.status_code == 400
    assert "The file is too big" in answer.content.decode()
    assert ResponseImport.objects.count() == 0


def test_a_file_without_a_touchpoint_column_needs_a_default_touchpoint(
    client, cx_admin, touchpoint
):
    client.force_login(cx_admin)
    content = delighted_csv(sample_rows(2)).encode()
    answer = client.post("/responses/import/", {"file": SimpleUploadedFile("d.csv", content)})
    assert answer.status_code == 400
    assert "choose the touchpoint" in answer.content.decode()
    assert ResponseImport.objects.count() == 0


# --- cases and rollups ---------------------------------------------------------------------


def test_imported_detractors_get_cases_recent_ones_open_old_ones_closed_as_history(
    run_import, touchpoint, team_a
):
    touchpoint.followup_deadline_hours = 48
    touchpoint.save()
    header = ["Response ID", "Score", "Comment", "Response date"]
    rows = [
        ["recent", "2", "still angry", (NOW - dt.timedelta(hours=3)).isoformat()],
        ["old", "4", "long ago", (NOW - dt.timedelta(days=400)).isoformat()],
        ["promoter", "10", "", (NOW - dt.timedelta(hours=3)).isoformat()],
    ]
    assert run_import(delighted_csv(rows, header), default_touchpoint=touchpoint).imported == 3

    assert Response.objects.filter(category=nps.DETRACTOR, case__isnull=True).count() == 0
    recent = FollowUpCase.objects.get(response__source_key="delighted:recent")
    assert recent.status in (FollowUpCase.Status.NEW, FollowUpCase.Status.ASSIGNED)
    assert (recent.team, recent.touchpoint, recent.priority) == (team_a, touchpoint, 3)
    assert recent.due_at == recent.response.created_at + dt.timedelta(hours=48)
    assert recent.outcome == ""

    old = FollowUpCase.objects.get(response__source_key="delighted:old")
    assert (old.status, old.outcome, old.priority) == ("closed", "unreachable", 2)
    assert old.closed_at == NOW
    assert "Imported history" in old.resolution
    assert old.due_at < NOW
    event = CaseEvent.objects.get(case=old)
    assert (event.kind, "Imported history" in event.message) == ("closed", True)
    assert not FollowUpCase.objects.filter(response__source_key="delighted:promoter").exists()


def test_a_recent_imported_detractor_is_assigned_to_the_team_like_a_live_one(
    run_import, touchpoint, manager_a
):
    rows = [["1", "3", "", (NOW - dt.timedelta(hours=1)).isoformat()]]
    run_import(
        delighted_csv(rows, ["Response ID", "Score", "Comment", "Date"]),
        default_touchpoint=touchpoint,
    )
    case = FollowUpCase.objects.get()
    assert (case.status, case.assignee) == ("assigned", manager_a)


def test_rollups_equal_a_direct_aggregate_after_the_import(run_import, touchpoint, touchpoint_b):
    # A rollup already there for a day the import touches must be recounted, not kept.
    services.response_record(touchpoint=touchpoint, score=0, created_at=NOW - dt.timedelta(days=3))
    header = ["Response ID", "Score", "Response date", "Touchpoint"]
    rows = [
        [str(i), str(i % 11), (NOW - dt.timedelta(hours=7 * i)).isoformat(), ""] for i in range(120)
    ] + [
        [f"b{i}", str(i % 11), (NOW - dt.timedelta(days=i)).isoformat(), "billing"]
        for i in range(20)
    ]
    done = run_import(delighted_csv(rows, header), default_touchpoint=touchpoint)
    assert done.imported == 140
    first = timezone.localdate(NOW - dt.timedelta(days=40))
    day = first
    while day <= timezone.localdate(NOW):
        for tp in (touchpoint, touchpoint_b):
            rollup = NpsDaily.objects.filter(touchpoint=tp, date=day).first()
            counts = rollup.counts if rollup else nps.Counts(0, 0, 0)
            assert counts == direct_counts(tp, day, day + dt.timedelta(days=1)), (tp, day)
        day += dt.timedelta(days=1)


# --- the background task ---------------------------------------------------------------------


def test_the_upload_page_runs_the_import_through_the_task_and_shows_the_report(
    client, cx_admin, touchpoint, django_capture_on_commit_callbacks
):
    client.force_login(cx_admin)
    rows = sample_rows(4) + [["bad", "12", "", "2026-11-01", "", "", "", "", "", ""]]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        answer = client.post(
            "/responses/import/",
            {
                "file": SimpleUploadedFile("delighted.csv", delighted_csv(rows).encode()),
                "default_touchpoint": touchpoint.slug,
            },
        )
    assert len(callbacks) >= 1
    response_import = ResponseImport.objects.get()
    assert answer.status_code == 302
    assert answer["Location"] == f"/responses/import/{response_import.pk}/"
    assert (response_import.status, response_import.imported, response_import.skipped) == (
        "done",
        4,
        1,
    )
    page = client.get(answer["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-status="done"' in html and "hx-trigger" not in html
    assert "Skipped rows" in html and "score: &#x27;12&#x27; is not a whole number" in html


def test_the_progress_fragment_keeps_polling_until_the_import_is_done(client, cx_admin, touchpoint):
    client.force_login(cx_admin)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(imports, "BATCH_SIZE", 2)
        pending = imports.response_import_create(
            filename="d.csv",
            content=delighted_csv(sample_rows(5)),
            default_touchpoint=touchpoint,
            enqueue=False,
        )
        url = f"/responses/import/{pending.pk}/"
        fragment = client.get(url, HTTP_HX_REQUEST="true").content.decode()
        assert fragment.startswith('<section id="import-progress"')
        assert 'hx-trigger="every 1s"' in fragment and 'data-status="pending"' in fragment
        imports.response_import_run(import_id=pending.pk)
    fragment = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'data-status="done"' in fragment and "hx-trigger" not in fragment
    assert 'data-counter="imported">5<' in fragment


def test_running_an_import_twice_does_nothing_the_second_time(run_import, touchpoint):
    done = run_import(delighted_csv(sample_rows(3)), default_touchpoint=touchpoint)
    assert imports.response_import_run(import_id=done.pk) is None
    assert ResponseImport.objects.get(pk=done.pk).imported == 3
    assert Response.objects.count() == 3


def test_the_sweeper_starts_imports_whose_message_was_lost(touchpoint):
    lost = imports.response_import_create(
        filename="d.csv",
        content=delighted_csv(sample_rows(3)),
        default_touchpoint=touchpoint,
        enqueue=False,
    )
    assert imports.response_imports_resume() == 0  # too recent: its message may be on its way
    with time_machine.travel(NOW + dt.timedelta(minutes=6), tick=False):
        assert imports.response_imports_resume() == 1  # eager: runs it now
    lost.refresh_from_db()
    assert (lost.status, lost.imported) == ("done", 3)


def _five_rows_failing_on_the_second_batch(touchpoint, monkeypatch, error: BaseException):
    """An import of 5 rows in batches of 2 whose second batch raises `error`; returns
    (the import, the real insert to put back)."""
    monkeypatch.setattr(imports, "BATCH_SIZE", 2)
    real_insert = imports._responses_insert
    calls = []

    def fails_on_the_second_batch(rows, now):
        calls.append(len(rows))
        if len(calls) == 2:
            raise error
        return real_insert(rows, now)

    monkeypatch.setattr(imports, "_responses_insert", fails_on_the_second_batch)
    created = imports.response_import_create(
        filename="d.csv",
        content=delighted_csv(sample_rows(5)),
        default_touchpoint=touchpoint,
        enqueue=False,
    )
    return created, real_insert


def test_a_run_a_dead_worker_left_half_done_resumes_after_its_last_batch(touchpoint, monkeypatch):
    created, real_insert = _five_rows_failing_on_the_second_batch(
        touchpoint, monkeypatch, SystemExit("worker killed")
    )
    with pytest.raises(SystemExit):
        imports.response_import_run(import_id=created.pk)
    stuck = ResponseImport.objects.get(pk=created.pk)
    assert (stuck.status, stuck.rows_done, stuck.imported) == ("running", 2, 2)

    monkeypatch.setattr(imports, "_responses_insert", real_insert)
    with time_machine.travel(NOW + dt.timedelta(minutes=31), tick=False):
        assert imports.response_imports_resume() == 1
    stuck.refresh_from_db()
    assert (stuck.status, stuck.rows_done, stuck.imported, stuck.duplicates) == ("done", 5, 5, 0)
    assert Response.objects.count() == 5
    # The days of the batch written before the crash got their rollups too.
    assert sum(r.counts.total for r in NpsDaily.objects.all()) == 5


def test_the_sweeper_leaves_a_long_import_alone_while_its_batches_keep_coming(
    touchpoint, monkeypatch
):
    """A big file whose run started more than 30 minutes ago but commits a batch every
    20: alive, not to be resumed beside itself (which counted every row twice)."""
    monkeypatch.setattr(imports, "BATCH_SIZE", 2)
    real_insert = imports._responses_insert
    sweeps = []
    created = imports.response_import_create(
        filename="d.csv",
        content=delighted_csv(sample_rows(6)),
        default_touchpoint=touchpoint,
        enqueue=False,
    )
    with time_machine.travel(NOW, tick=False) as clock:

        def slow_insert(rows, now):
            clock.shift(dt.timedelta(minutes=20))
            if len(sweeps) == 0 and timezone.now() >= NOW + dt.timedelta(minutes=60):
                sweeps.append(imports.response_imports_resume())
            return real_insert(rows, now)

        monkeypatch.setattr(imports, "_responses_insert", slow_insert)
        done = imports.response_import_run(import_id=created.pk)
    assert sweeps == [0]
    assert (done.status, done.rows_done, done.imported, done.duplicates) == ("done", 6, 6, 0)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_an_import_delivered_twice_once(worker, touchpoint):  # noqa: F811
    created = imports.response_import_create(
        filename="d.csv",
        content=delighted_csv(sample_rows(6)),
        default_touchpoint=touchpoint,
        enqueue=False,
    )
    task_id = "import-twice"
    for _ in range(2):  # a redelivery after a lost ack carries the same task id
        tasks.response_import_run.apply_async(args=(created.pk,), task_id=task_id)
    name = tasks.response_import_run.name
    assert worker.wait_for(lambda: worker.succeeded(name, task_id) >= 2), "not delivered twice"
    done = ResponseImport.objects.get(pk=created.pk)
    assert (done.status, done.imported, done.duplicates) == ("done", 6, 0)
    assert Response.objects.count() == 6


def test_an_import_that_fails_says_why_and_keeps_its_file(touchpoint, monkeypatch):
    def broken(rows, now):
        raise RuntimeError("disk full")

    monkeypatch.setattr(imports, "_responses_insert", broken)
    created = imports.response_import_create(
        filename="d.csv",
        content=delighted_csv(sample_rows(2)),
        default_touchpoint=touchpoint,
        enqueue=False,
    )
    failed = imports.response_import_run(import_id=created.pk)
    assert (failed.status, failed.error) == ("failed", "RuntimeError: disk full")
    assert failed.content
    assert Response.objects.count() == 0


def test_an_import_that_fails_midway_still_counts_what_it_stored_in_the_rollups(
    touchpoint, monkeypatch
):
    created, _ = _five_rows_failing_on_the_second_batch(
        touchpoint, monkeypatch, RuntimeError("disk full")
    )
    failed = imports.response_import_run(import_id=created.pk)
    assert (failed.status, failed.imported) == ("failed", 2)
    # The first batch is stored, and counted: no sweeper looks at days this old.
    assert Response.objects.count() == 2
    assert sum(r.counts.total for r in NpsDaily.objects.all()) == 2


def test_a_name_or_an_email_longer_than_its_column_skips_its_row_not_the_file(
    run_import, touchpoint
):
    rows = sample_rows(3)
    rows[1][5] = "N" * 201  # Name
    rows[2][6] = "a" * 250 + "@example.net"  # Email
    done = run_import(delighted_csv(rows), default_touchpoint=touchpoint)
    assert (done.status, done.imported, done.skipped) == ("done", 1, 2)
    assert [r["reason"] for r in done.report] == [
        "name: 201 characters, at most 200",
        "email: 262 characters, at most 254",
    ]


# --- management command ----------------------------------------------------------------------


def test_the_import_command_imports_a_file_and_reports_skipped_rows(tmp_path, touchpoint):
    path = tmp_path / "delighted.csv"
    rows = sample_rows(3) + [["x", "99", "", "2026-11-01", "", "", "", "", "", ""]]
    path.write_text(delighted_csv(rows))
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "import_responses", str(path), "--touchpoint", touchpoint.slug, stdout=out, stderr=err
    )
    assert "3 imported, 0 duplicates, 1 skipped" in out.getvalue()
    assert "row 5: score:" in err.getvalue()
    assert Response.objects.count() == 3


# --- who may use the pages ----------------------------------------------------------------------

PAGES = ["/responses/", "/responses/import/", "/responses/export.csv"]


@pytest.mark.parametrize("persona", ["employee", "manager_a", "lead_a", "executive"])
def test_staff_other_than_cx_admins_get_404_on_every_import_and_export_page(
    client, request, persona, touchpoint
):
    created = imports.response_import_create(
        filename="d.csv",
        content=delighted_csv(sample_rows(1)),
        default_touchpoint=touchpoint,
        enqueue=False,
    )
    client.force_login(request.getfixturevalue(persona))
    for url in [*PAGES, f"/responses/import/{created.pk}/"]:
        assert client.get(url).status_code == 404, url
    upload = SimpleUploadedFile("d.csv", delighted_csv(sample_rows(1)).encode())
    assert client.post("/responses/import/", {"file": upload}).status_code == 404
    assert ResponseImport.objects.count() == 1


def test_anonymous_visitors_are_sent_to_the_login_page(customer_client, db):
    for url in [*PAGES, "/responses/import/1/"]:
        answer = customer_client.get(url)
        assert answer.status_code == 302 and answer["Location"].startswith("/login/"), url


def test_cx_admins_reach_every_page_and_see_the_nav_link(client, cx_admin, touchpoint):
    created = imports.response_import_create(
        filename="d.csv",
        content=delighted_csv(sample_rows(1)),
        default_touchpoint=touchpoint,
        enqueue=False,
    )
    client.force_login(cx_admin)
    for url in [*PAGES, f"/responses/import/{created.pk}/"]:
        assert client.get(url).status_code == 200, url
    assert 'href="/responses/"' in client.get("/").content.decode()
    assert client.get("/responses/import/999999/").status_code == 404


def test_other_staff_do_not_see_the_responses_nav_link(client, manager_a):
    client.force_login(manager_a)
    assert 'href="/responses/"' not in client.get("/").content.decode()


def test_a_date_with_an_offset_postgresql_refuses_is_imported_as_the_same_instant(
    run_import, touchpoint, both_paths
):
    rows = sample_rows(2)
    rows[0][3] = "2026-11-01T10:00:00-16:00"
    done = run_import(delighted_csv(rows), default_touchpoint=touchpoint)
    assert (done.status, done.imported, done.skipped) == ("done", 2, 0), done.report
    stored = Response.objects.get(source_key="delighted:1000")
    assert stored.created_at == dt.datetime(2026, 11, 2, 2, 0, tzinfo=dt.UTC)
