"""Erasure end to end: a customer who went through everything CX Hub does (created and
surveyed over /v1/, a detractor answer with their contact details in it, a worked and
closed case, praise turned into a shout-out postcard, an unsubscribe, webhooks and
team alerts sent and pending, CSV imports naming them, the admin's history) is erased
with DELETE /v1/people/email:…, and then nothing in any text or JSON column of any
table names them. The NPS does not move.

The sweep reads every model Django knows (its own tables included: admin log,
sessions, contenttypes…), so a table added later that copies customer data fails this
test until erasure covers it."""

from urllib.parse import quote

import pytest
from django.apps import apps
from django.db import models
from django.db.models.functions import Cast
from django.test import Client

from cxhub import services as cxhub_services
from cxhub import webhooks
from cxhub.models import AlertDelivery, TeamAlert, WebhookDelivery, WebhookEndpoint
from feedback import services as feedback_services
from feedback.models import FollowUpCase, RootCause
from recognition import services as recognition_services
from recognition.models import Postcard, ShoutOut
from surveys import imports
from surveys.models import Invitation, Person, Response, ResponseImport
from tests.api.conftest import basic_client

pytestmark = pytest.mark.django_db

EMAIL = "zoe.quarantine@example.org"
PHONE = "+33699887766"
NEEDLES = [
    EMAIL,
    "zoe.quarantine",  # also as the local part, whatever the domain became
    "99887766",
    "99 88 77 66",
    "Quarantine",
    "ZQ-4471",  # a person property, copied into response properties and notes
    "fence",  # the detractor's comment
    "wonderful",  # the promoter's comment
]


def text_columns():
    """(model, field name) of every text and JSON column of every installed model."""
    for model in apps.get_models(include_auto_created=True):
        if model._meta.proxy or not model._meta.managed:
            continue
        for field in model._meta.concrete_fields:
            if isinstance(field, models.CharField | models.TextField | models.JSONField):
                yield model, field.name


def where_found(needle: str) -> list[str]:
    """Every "app.Model.field #pk" whose value contains `needle` (case-insensitive;
    JSON compared as its text)."""
    hits = []
    for model, name in text_columns():
        rows = (
            model._base_manager.annotate(_text=Cast(name, models.TextField()))
            .filter(_text__icontains=needle)
            .values_list("pk", flat=True)
        )
        hits += [f"{model._meta.label}.{name} #{pk}" for pk in rows]
    return hits


@pytest.fixture
def posted(monkeypatch):
    """Outgoing POSTs (webhooks, team alerts), answered 200 without any network."""
    sent = []
    monkeypatch.setattr(
        webhooks, "http_post", lambda outgoing, timeout=None: sent.append(outgoing) or 200
    )
    return sent


def test_after_erasure_through_the_delighted_api_no_table_names_the_customer(
    touchpoint,
    team_a,
    manager_a,
    lead_a,
    cx_admin,
    admin_key,
    write_key,
    posted,
    django_capture_on_commit_callbacks,
):
    admin_v1, write_v1 = basic_client(admin_key[1]), basic_client(write_key[1])
    TeamAlert.objects.create(team=team_a, webhook_url="https://chat.example.com/hook")
    cxhub_services.team_alerts_forget()
    WebhookEndpoint.objects.create(
        url="https://hooks.example.com/cx", events=list(WebhookEndpoint.Event.values)
    )
    webhooks.webhook_endpoints_forget()
    cx_admin.is_superuser = True
    cx_admin.save()
    staff_web = Client()
    staff_web.force_login(cx_admin)

    # Created and surveyed over /v1/, as an integration does.
    with django_capture_on_commit_callbacks(execute=True):
        got = write_v1.post(
            "/v1/people.json",
            {
                "email": EMAIL,
                "name": "Zoé Quarantine",
                "phone_number": PHONE,
                "properties": {"plan": "gold", "customer_ref": "ZQ-4471"},
            },
            format="json",
        )
    assert got.status_code == 200, got.content
    person = Person.objects.get(email=EMAIL)
    invitation = Invitation.objects.get(person=person)
    assert invitation.status == Invitation.Status.SENT

    # A detractor answer on the survey page, with their contact details in the comment.
    comment = f"Parcel thrown over the fence. Call me on +33 6 99 88 77 66 or {EMAIL}"
    with django_capture_on_commit_callbacks(execute=True):
        page = Client().post(f"/r/{invitation.token}/", {"score": "2", "comment": comment})
    assert page.status_code == 302
    detractor = Response.objects.get(person=person)

    # The case is worked and closed with notes about them.
    case = FollowUpCase.objects.get(response=detractor)
    feedback_services.contact_attempt_log(
        case=case, by=manager_a, outcome="reached", notes=f"Zoé Quarantine picked up on {PHONE}"
    )
    feedback_services.case_note_add(case=case, by=manager_a, text="Customer ref ZQ-4471")
    with django_capture_on_commit_callbacks(execute=True):
        feedback_services.case_close(
            case=case,
            by=manager_a,
            outcome="resolved",
            root_causes=[RootCause.objects.create(name="Courier")],
            resolution=f"Refunded; apology mailed to {EMAIL}",
        )

    # Praise naming a colleague, published by the lead as a shout-out postcard.
    with django_capture_on_commit_callbacks(execute=True):
        got = write_v1.post(
            "/v1/survey_responses.json",
            {
                "person": str(person.pk),
                "score": 10,
                "comment": "Mia Manager was wonderful, thanks! Zoé Quarantine",
                "person_properties": {"customer_ref": "ZQ-4471"},
            },
            format="json",
        )
    assert got.status_code == 200, got.content
    praise = Response.objects.get(person=person, score=10)
    recognition_services.shoutouts_suggest(response_id=praise.pk)
    postcard = recognition_services.shoutout_publish(shoutout=ShoutOut.objects.get(), by=lead_a)
    assert "wonderful" in postcard.message

    # A CX admin schedules another survey in the admin: its history names them.
    page = staff_web.post(
        "/admin/surveys/invitation/add/",
        {
            "person": person.pk,
            "touchpoint": touchpoint.pk,
            "channel": "email",
            "locale": "",
            "scheduled_for_0": "2030-01-01",
            "scheduled_for_1": "00:00:00",
        },
    )
    assert page.status_code == 302

    # They unsubscribe; that event's webhook is still pending when they are erased.
    with django_capture_on_commit_callbacks(execute=False):
        got = write_v1.post("/v1/unsubscribes.json", {"person_email": EMAIL}, format="json")
    assert got.status_code == 200, got.content

    # Two CSV imports name them: one waiting to run, one that failed.
    csv = (
        "Response ID,Score,Comment,Response date,Name,Email,Phone number,Customer ref\n"
        f"901,3,Over the fence again,2024-04-18 05:34:20 +0000,Zoé Quarantine,{EMAIL},,ZQ-4471\n"
        f"902,8,Fine,2024-04-19 05:34:20 +0000,Zoé Quarantine,,+33 6 99 88 77 66,\n"
    )
    waiting = imports.response_import_create(
        filename="delighted.csv", content=csv, default_touchpoint=touchpoint, enqueue=False
    )
    failed = imports.response_import_create(
        filename="old.csv", content=csv, default_touchpoint=touchpoint, enqueue=False
    )
    ResponseImport.objects.filter(pk=failed.pk).update(
        status=ResponseImport.Status.FAILED, error=f"Key (email)=({EMAIL}) already exists."
    )

    # Before: the customer is all over the database (what the sweep looks for is there).
    assert set(NEEDLES) == {n for n in NEEDLES if where_found(n)}
    assert WebhookDelivery.objects.filter(status="pending").exists()
    assert AlertDelivery.objects.filter(text__contains="fence").exists()
    metrics = admin_v1.get("/v1/metrics.json").json()

    with django_capture_on_commit_callbacks(execute=True):
        got = admin_v1.delete(f"/v1/people/{quote('email:' + EMAIL, safe='')}")
    assert got.status_code == 202 and got.json() == {"ok": True}
    # The scores stay: the NPS over the same responses has not moved.
    assert admin_v1.get("/v1/metrics.json").json() == metrics

    # What was still pending goes out now: without them.
    posted.clear()
    for pk in WebhookDelivery.objects.filter(status="pending").values_list("pk", flat=True):
        assert webhooks.webhook_deliver(delivery_id=pk)
    assert imports.response_import_run(import_id=waiting.pk).status == "done"
    bodies = [o.body.decode() for o in posted]
    assert bodies and not [b for b in bodies for n in NEEDLES if n.lower() in b.lower()]

    assert {n: where_found(n) for n in NEEDLES} == {n: [] for n in NEEDLES}
    assert Postcard.objects.get(pk=postcard.pk).recipient == manager_a
    detractor.refresh_from_db()
    assert (detractor.score, detractor.person, detractor.comment) == (2, None, "")
    assert FollowUpCase.objects.get(pk=case.pk).status == "closed"
    # The imported file's rows came in as anonymous scores: nobody was re-created.
    assert not Person.objects.exists()
    assert sorted(Response.objects.values_list("score", flat=True)) == [2, 3, 8, 10]


def test_erasure_is_refused_with_a_422_while_an_import_naming_the_person_runs(
    touchpoint, admin_key
):
    person = Person.objects.create(email=EMAIL)
    running = imports.response_import_create(
        filename="big.csv",
        content=f"Score,Response date,Email\n9,2024-04-18 05:34:20 +0000,{EMAIL}\n",
        default_touchpoint=touchpoint,
        enqueue=False,
    )
    ResponseImport.objects.filter(pk=running.pk).update(status=ResponseImport.Status.RUNNING)

    got = basic_client(admin_key[1]).delete(f"/v1/people/{person.pk}")

    assert got.status_code == 422
    assert "running (big.csv)" in got.json()["errors"]["non_field_errors"][0]
    assert Person.objects.filter(pk=person.pk).exists()
