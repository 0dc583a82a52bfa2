"""Erasing a person (GDPR) beyond their own rows: CSV imports that still hold their
data, the Django admin (deleting there is erasing), the admin's history, and answers
written while the erasure runs."""

import csv
import datetime as dt
import io
import threading
import time

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from cxhub import webhooks
from cxhub.models import WebhookDelivery, WebhookEndpoint
from feedback import services as feedback_services
from feedback.models import CaseEvent, FollowUpCase
from surveys import imports, services
from surveys.hooks import response_recorded
from surveys.models import Invitation, Person, Response, ResponseImport, Suppression
from tests.factories import PersonFactory, ResponseFactory

pytestmark = pytest.mark.django_db

EMAIL = "zoe.quarantine@example.org"
PHONE = "+33699887766"
HEADER = ["Response ID", "Score", "Comment", "Response date", "Name", "Email", "Phone", "Plan"]


@pytest.fixture
def zoe(db):
    return PersonFactory(email=EMAIL, phone=PHONE, name="Zoé Quarantine")


def delighted_csv(rows):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue()


ROWS = [
    ["501", "3", "Call me, Zoé", "2024-04-18 05:34:20 +0000", "Zoé Quarantine", EMAIL, "", "gold"],
    ["502", "9", f"My friend {EMAIL} sent me", "2024-04-19 05:34:20 +0000", "Ann", "ann@ex.net"]
    + ["", ""],
    ["503", "6", "By phone only", "2024-04-20 05:34:20 +0000", "Zoé Q", "", "+33 6 99 88 77 66"]
    + [""],
]


def _pending_import(touchpoint, rows=ROWS):
    return imports.response_import_create(
        filename="delighted.csv",
        content=delighted_csv(rows),
        default_touchpoint=touchpoint,
        enqueue=False,
    )


# --- imports ----------------------------------------------------------------------------


def test_a_pending_import_keeps_only_the_scores_of_an_erased_persons_rows(zoe, touchpoint):
    pending = _pending_import(touchpoint)

    services.person_erase(person=zoe)

    pending.refresh_from_db()
    for needle in [EMAIL, "Quarantine", "99 88 77 66", "gold", "Call me"]:
        assert needle not in pending.content
    # Run later, the file imports their scores as anonymous answers: nobody comes back.
    done = imports.response_import_run(import_id=pending.pk)
    assert (done.status, done.imported, done.skipped) == ("done", 3, 0)
    assert not Person.objects.filter(email=EMAIL).exists()
    assert not Person.objects.filter(phone=PHONE).exists()
    answers = {r.score: r for r in Response.objects.select_related("person")}
    assert (answers[3].person, answers[3].comment) == (None, "")
    assert (answers[6].person, answers[6].comment) == (None, "")
    assert answers[9].person.email == "ann@ex.net"  # another customer's row stays
    assert answers[9].comment == "My friend [erased] sent me"


def test_a_failed_imports_file_error_and_report_forget_the_erased_person(zoe, touchpoint):
    failed = _pending_import(touchpoint)
    ResponseImport.objects.filter(pk=failed.pk).update(
        status=ResponseImport.Status.FAILED,
        error=f"IntegrityError: Key (email)=({EMAIL}) already exists.",
        report=[{"row": 7, "reason": f"phone: '{PHONE} ext 2' is not a phone number"}],
    )

    services.person_erase(person=zoe)

    failed.refresh_from_db()
    assert EMAIL not in failed.content and "Quarantine" not in failed.content
    assert failed.error == "IntegrityError: Key (email)=([erased]) already exists."
    assert failed.report == [{"row": 7, "reason": "phone: '[erased] ext 2' is not a phone number"}]
    assert failed.content.count("\n") == 4  # every row keeps its place


def test_erasure_waits_for_a_running_import_that_still_has_the_persons_rows_ahead(zoe, touchpoint):
    running = _pending_import(touchpoint)
    ResponseImport.objects.filter(pk=running.pk).update(
        status=ResponseImport.Status.RUNNING, rows_done=2
    )
    with pytest.raises(services.SurveyError, match="running"):
        services.person_erase(person=zoe)
    assert Person.objects.filter(pk=zoe.pk).exists()  # nothing was erased
    running.refresh_from_db()
    assert EMAIL in running.content

    # Once its worker is past the person's rows (row 3 is phone-only: theirs too)…
    ResponseImport.objects.filter(pk=running.pk).update(rows_done=3)
    services.person_erase(person=zoe)
    running.refresh_from_db()
    assert EMAIL not in running.content and not Person.objects.filter(pk=zoe.pk).exists()


def test_erasure_waits_for_a_running_import_with_a_row_ahead_that_quotes_their_address(
    zoe, touchpoint
):
    # Row 2 is Ann's, and her comment gives Zoé's email: the worker's copy would import it.
    running = _pending_import(touchpoint, rows=[ROWS[1]])
    ResponseImport.objects.filter(pk=running.pk).update(
        status=ResponseImport.Status.RUNNING, rows_done=0
    )
    with pytest.raises(services.SurveyError, match="running"):
        services.person_erase(person=zoe)
    ResponseImport.objects.filter(pk=running.pk).update(rows_done=1)
    services.person_erase(person=zoe)
    running.refresh_from_db()
    assert EMAIL not in running.content


def test_imports_that_never_named_the_person_are_left_alone(zoe, touchpoint):
    other = _pending_import(touchpoint, rows=[ROWS[1][:5] + ["ann@ex.net", "", ""]])
    before = ResponseImport.objects.get(pk=other.pk).content
    services.person_erase(person=PersonFactory(email="nobody@example.org"))
    assert ResponseImport.objects.get(pk=other.pk).content == before


# --- the admin --------------------------------------------------------------------------


@pytest.fixture
def cx_admin_web(client, cx_admin):
    cx_admin.is_superuser = True
    cx_admin.save()
    client.force_login(cx_admin)
    return client


def _detractor_with_notes(person, touchpoint, manager):
    response = services.response_record(
        touchpoint=touchpoint, score=2, comment=f"Reach me at {EMAIL}", person=person
    )
    case = FollowUpCase.objects.get(response=response)
    feedback_services.case_note_add(case=case, by=manager, text="Zoé lives at 3 rue Haute")
    return response, case


def test_deleting_a_person_in_the_admin_erases_them(cx_admin_web, zoe, touchpoint, manager_a):
    response, case = _detractor_with_notes(zoe, touchpoint, manager_a)

    page = cx_admin_web.post(f"/admin/surveys/person/{zoe.pk}/delete/", {"post": "yes"})

    assert page.status_code == 302
    assert not Person.objects.filter(pk=zoe.pk).exists()
    response.refresh_from_db()
    assert (response.score, response.comment, response.person) == (2, "", None)
    notes = CaseEvent.objects.filter(case=case).values_list("message", flat=True)
    assert not any("rue Haute" in n for n in notes)
    entry = LogEntry.objects.get(action_flag=DELETION)  # the history says what happened…
    assert entry.object_id == str(zoe.pk)
    assert entry.object_repr == services.ERASED_ADMIN_REPR  # …not who it was


def test_the_admins_delete_action_erases_every_selected_person(
    cx_admin_web, zoe, touchpoint, manager_a
):
    bob = PersonFactory(email="bob@example.org")
    response, _case = _detractor_with_notes(zoe, touchpoint, manager_a)
    bobs = services.response_record(touchpoint=touchpoint, score=9, comment="Bob's", person=bob)

    page = cx_admin_web.post(
        "/admin/surveys/person/",
        {"action": "delete_selected", "_selected_action": [zoe.pk, bob.pk], "post": "yes"},
    )

    assert page.status_code == 302
    assert not Person.objects.exists()
    assert list(Response.objects.order_by("pk").values_list("comment", flat=True)) == ["", ""]
    assert {e.object_repr for e in LogEntry.objects.all()} == {services.ERASED_ADMIN_REPR}
    assert bobs.pk != response.pk


def test_the_admin_refuses_to_delete_a_person_while_an_import_naming_them_runs(
    cx_admin_web, zoe, touchpoint
):
    running = _pending_import(touchpoint)
    ResponseImport.objects.filter(pk=running.pk).update(status=ResponseImport.Status.RUNNING)
    url = f"/admin/surveys/person/{zoe.pk}/delete/"
    page = cx_admin_web.post(url, {"post": "yes"}, follow=True)
    assert page.status_code == 200
    assert "erase them once it has finished" in page.content.decode()
    assert Person.objects.filter(pk=zoe.pk).exists()
    assert not LogEntry.objects.exists()  # the deletion's history entry rolled back with it


def test_the_admins_delete_action_reports_a_refused_person_as_not_deleted(
    cx_admin_web, zoe, touchpoint
):
    bob = PersonFactory(email="bob@example.org", name="Bob")
    running = _pending_import(touchpoint)  # names Zoé, not Bob
    ResponseImport.objects.filter(pk=running.pk).update(status=ResponseImport.Status.RUNNING)
    confirm = cx_admin_web.post(
        "/admin/surveys/person/",
        {"action": "delete_selected", "_selected_action": [zoe.pk, bob.pk]},
    )
    assert confirm.status_code == 200
    assert "Delete multiple objects" in confirm.content.decode()
    assert Person.objects.count() == 2  # the confirmation page changes nothing

    page = cx_admin_web.post(
        "/admin/surveys/person/",
        {"action": "delete_selected", "_selected_action": [zoe.pk, bob.pk], "post": "yes"},
        follow=True,
    )
    said = [str(m) for m in page.context["messages"]]
    assert said[0].startswith("Not deleted: Zoé Quarantine. An import that names this person")
    assert said[1:] == ["Erased 1 person."]
    assert list(Person.objects.values_list("pk", flat=True)) == [zoe.pk]
    # Bob's deletion is in the history (without his name); Zoé has no entry at all.
    assert list(LogEntry.objects.values_list("object_id", "object_repr")) == [
        (str(bob.pk), services.ERASED_ADMIN_REPR)
    ]


def test_the_admins_history_of_an_erased_persons_invitations_no_longer_names_them(
    cx_admin_web, zoe, touchpoint, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    with django_capture_on_commit_callbacks(execute=True):
        page = cx_admin_web.post(
            "/admin/surveys/invitation/add/",
            {
                "person": zoe.pk,
                "touchpoint": touchpoint.pk,
                "channel": "email",
                "locale": "",
                "scheduled_for_0": timezone.localdate().isoformat(),
                "scheduled_for_1": "00:00:00",
            },
        )
    assert page.status_code == 302
    added = LogEntry.objects.get()
    assert "Zoé Quarantine" in added.object_repr
    invitation_id = Invitation.objects.get().pk

    services.person_erase(person=zoe)

    added.refresh_from_db()
    assert added.object_id == str(invitation_id)
    assert added.object_repr == services.ERASED_ADMIN_REPR


# --- answers written while the erasure runs -----------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_answer_committed_while_the_erasure_waits_is_erased_with_its_webhook(
    zoe, touchpoint, monkeypatch
):
    """A customer re-answers at the moment they are erased: the erasure waits for the
    answer's transaction (it locks the invitation and the response first), then erases
    the new comment and the webhook event that quotes it."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    monkeypatch.setattr(webhooks, "http_post", lambda outgoing, timeout=None: 200)  # no network
    WebhookEndpoint.objects.create(
        url="https://hooks.example.com/cx", events=["survey_response.updated"]
    )
    webhooks.webhook_endpoints_forget()
    invitation = services.invitation_create(person=zoe, touchpoint=touchpoint)
    services.response_record(invitation=invitation, touchpoint=touchpoint, score=3, comment="Hm")
    late = "Reach me: late@example.org"
    # Held once the webhook row of this answer is written (the hold is connected last),
    # not committed.
    errors = _race(
        response_recorded,
        (
            "answer",
            lambda: services.response_record(
                invitation=invitation, touchpoint=touchpoint, score=4, comment=late
            ),
        ),
        ("erasure", lambda: services.person_erase(person=zoe)),
        held=lambda response, **kwargs: response.comment == late,
    )
    assert errors == {}
    assert not Person.objects.filter(pk=zoe.pk).exists()
    assert list(Response.objects.values_list("score", "comment")) == [(4, "")]
    delivery = WebhookDelivery.objects.get()
    assert delivery.payload["event_data"]["comment"] == ""


@pytest.mark.django_db(transaction=True)
def test_an_answer_by_person_id_committing_while_the_erasure_waits_is_erased_too(zoe, touchpoint):
    """An integration records an answer for a person (no invitation) as they are
    erased: the answer commits, then the erasure strips it; neither fails (the
    answer used to fail at commit on its foreign key: a 500)."""
    errors = _race(
        response_recorded,
        (
            "answer",
            lambda: services.response_record(
                touchpoint=touchpoint, person=zoe, score=3, comment="Call me on +33699887766"
            ),
        ),
        ("erasure", lambda: services.person_erase(person=zoe)),  # waits for the answer's lock
    )
    assert errors == {}
    assert not Person.objects.filter(pk=zoe.pk).exists()
    assert list(Response.objects.values_list("score", "comment", "person")) == [(3, "", None)]


@pytest.mark.django_db(transaction=True)
def test_an_answer_by_person_id_after_the_erasure_is_refused_cleanly(zoe, touchpoint):
    """The erasure holds the person; the answer waits, then finds them gone: a clear
    "no longer exists" (the API's 404), and nothing is written."""
    from surveys.hooks import person_erased

    items = [
        {"touchpoint": touchpoint, "score": 9},
        {"touchpoint": touchpoint, "score": 2, "person": zoe},
    ]
    errors = _race(
        person_erased,
        ("erasure", lambda: services.person_erase(person=zoe)),
        ("answer", lambda: services.response_record(touchpoint=touchpoint, person=zoe, score=3)),
        ("batch", lambda: services.responses_record_batch(items=items)),
    )
    assert set(errors) == {"answer", "batch"}
    assert isinstance(errors["answer"], services.SurveyError)
    assert errors["answer"].code == "not_found"
    assert errors["batch"].errors == {1: {"person": ["This person no longer exists (erased)."]}}
    assert Response.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_customer_answering_again_during_an_integrations_update_keeps_the_update(zoe, touchpoint):
    """The integration's PUT (response_update) and the customer's second answer wait
    for each other: the answer no longer writes back the properties it read before
    the update committed."""
    invitation = services.invitation_create(person=zoe, touchpoint=touchpoint)
    response = services.response_record(invitation=invitation, touchpoint=touchpoint, score=4)
    seen_before: list = []

    def held(response, previous_comment, **kwargs):
        if response.comment == "Noted by CRM":  # the update, inside its transaction
            return True
        seen_before.append(previous_comment)  # the second answer's
        return False

    errors = _race(
        response_recorded,
        (
            "update",
            lambda: services.response_update(
                response=response, comment="Noted by CRM", properties={"crm_ticket": "T-1"}
            ),
        ),
        (
            "again",
            lambda: services.response_record(
                invitation=invitation, touchpoint=touchpoint, score=9, comment="Sorted now"
            ),
        ),
        held=held,
    )
    assert errors == {}
    response.refresh_from_db()
    assert (response.score, response.comment, response.properties) == (
        9,
        "Sorted now",
        {"crm_ticket": "T-1"},
    )
    assert seen_before == ["Noted by CRM"]  # the case timeline quotes what was there


def _race(signal, first, *others, held=lambda **kwargs: True) -> dict:
    """Run `first` (name, work) in a thread until it sends `signal` inside its
    transaction, and hold it there (while `held(**kwargs)` says so); then run each of
    `others` in its own thread until they all wait for its row locks; then let all
    finish. Returns their errors by name. Row locks: PostgreSQL only."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    inside, go_on = threading.Event(), threading.Event()
    errors: dict = {}

    def hold(sender, **kwargs):
        if held(**kwargs):
            inside.set()
            go_on.wait(10)

    signal.connect(hold, weak=False, dispatch_uid="test.race")
    threads = []
    try:
        threads.append(_in_thread(errors, *first))
        assert inside.wait(10), "the first never reached the hold"
        threads += [_in_thread(errors, *other) for other in others]
        deadline = time.monotonic() + 10
        while _locks_waited() < len(others) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _locks_waited() == len(others), "the others do not wait for the first's locks"
    finally:
        go_on.set()
        for thread in threads:
            thread.join(15)
        signal.disconnect(dispatch_uid="test.race")
    return errors


def _locks_waited() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0]


def _someone_waits_for_a_lock() -> bool:
    return _locks_waited() > 0


def test_a_second_erasure_of_the_same_person_finds_nothing_left_and_succeeds(zoe, touchpoint):
    # Two DELETE requests for one customer: the second waits on the first's lock, then
    # finds the person gone. It must answer as the first did, not fail.
    stale = Person.objects.get(pk=zoe.pk)
    ResponseFactory(touchpoint=touchpoint, person=zoe, score=4, comment="Call me")
    assert services.person_erase(person=zoe) == 1
    assert services.person_erase(person=stale) == 0
    assert not Person.objects.filter(pk=zoe.pk).exists()


def test_an_answer_to_an_invitation_erased_meanwhile_is_refused_as_an_unknown_link(zoe, touchpoint):
    invitation = services.invitation_create(person=zoe, touchpoint=touchpoint)
    services.person_erase(person=zoe)  # while the answer waited for the invitation's lock
    with pytest.raises(services.SurveyError) as refused:
        services.response_record(invitation=invitation, touchpoint=touchpoint, score=3)
    assert refused.value.code == "not_found"
    assert not Response.objects.exists()


def test_inviting_a_person_erased_meanwhile_is_refused(zoe, touchpoint):
    services.person_erase(person=zoe)
    with pytest.raises(services.SurveyError) as refused:
        services.invitation_create(person=zoe, touchpoint=touchpoint)
    assert refused.value.code == "not_found"


@pytest.mark.django_db(transaction=True)
def test_an_unsubscribe_at_the_moment_of_an_erasure_does_not_deadlock_it(zoe, touchpoint):
    """The customer clicks "unsubscribe" while they are erased: both lock the person's
    invitations before the person, so one waits for the other instead of PostgreSQL
    aborting one of them (the DELETE /v1/people answering 500)."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    from surveys.hooks import person_unsubscribed

    services.invitation_create(
        person=zoe, touchpoint=touchpoint, scheduled_for=timezone.now() + dt.timedelta(days=3)
    )
    errors = _race(
        person_unsubscribed,  # held inside the unsubscribe's transaction
        ("unsubscribe", lambda: services.person_unsubscribe(person=Person.objects.get())),
        ("erase", lambda: services.person_erase(person=zoe)),
    )
    assert errors == {}
    assert not Person.objects.exists()
    assert list(Suppression.objects.values_list("kind", flat=True)) == ["unsubscribed"] * 2


@pytest.mark.django_db(transaction=True)
def test_an_erasure_picked_as_a_deadlocks_victim_runs_again(zoe, touchpoint, caplog):
    """A path that locks the person before their invitations (person_upsert does) meets
    an erasure, which locks them the other way round: PostgreSQL aborts the erasure,
    which runs again once the other transaction is through."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    from django.db import transaction

    services.invitation_create(
        person=zoe, touchpoint=touchpoint, scheduled_for=timezone.now() + dt.timedelta(days=3)
    )
    locked, erasure_waits = threading.Event(), threading.Event()
    errors = {}

    def person_first():
        with transaction.atomic():
            with connection.cursor() as cursor:  # the erasure is the one to find the cycle
                cursor.execute("SET LOCAL deadlock_timeout = '10s'")
            Person.objects.select_for_update().get(pk=zoe.pk)
            locked.set()
            erasure_waits.wait(10)
            list(Invitation.objects.select_for_update().filter(person_id=zoe.pk))

    other = _in_thread(errors, "other", person_first)
    assert locked.wait(10)
    with caplog.at_level("WARNING", logger="surveys.services"):
        erasure = _in_thread(errors, "erase", lambda: services.person_erase(person=zoe))
        deadline = time.monotonic() + 10
        while not _someone_waits_for_a_lock() and time.monotonic() < deadline:
            time.sleep(0.02)
        erasure_waits.set()
        other.join(20)
        erasure.join(20)
    assert errors == {}
    assert f"Erasure of person {zoe.pk} deadlocked; trying again" in caplog.text
    assert not Person.objects.exists()


def test_the_erase_person_command_says_why_it_refuses(zoe, touchpoint):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    running = _pending_import(touchpoint)
    ResponseImport.objects.filter(pk=running.pk).update(status=ResponseImport.Status.RUNNING)
    with pytest.raises(CommandError, match="Nothing was erased: An import that names this"):
        call_command("erase_person", "--email", EMAIL)
    assert Person.objects.filter(pk=zoe.pk).exists()


def _in_thread(errors: dict, name: str, work) -> threading.Thread:
    """Run `work` in a thread with its own database connection; its exception, if
    any, lands in errors[name]."""

    def run():
        try:
            work()
        except Exception as exc:  # noqa: BLE001 - reported by the caller's assertion
            errors[name] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_erase_person_finds_a_phone_number_written_as_customers_write_it(zoe):
    out = io.StringIO()
    call_command("erase_person", "--phone", "+33 (6) 99-88-77-66", stdout=out)
    assert "erased" in out.getvalue()
    assert not Person.objects.filter(pk=zoe.pk).exists()
    with pytest.raises(CommandError, match="Nothing was erased"):
        call_command("erase_person", "--phone", "0699887766")
