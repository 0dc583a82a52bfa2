import datetime as dt

import pytest
from django.utils import timezone

from surveys import services
from surveys.models import Invitation, Person
from tests.factories import InvitationFactory, PersonFactory, TouchpointFactory

pytestmark = pytest.mark.django_db

URL = "/api/invitations/"


def test_an_invitation_is_scheduled_and_accepted(admin_api, touchpoint, mailoutbox):
    response = admin_api.post(
        URL,
        {"touchpoint": "support-call", "email": "new@example.net", "name": "New"},
        format="json",
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] in ("scheduled", "sent") and body["skip_reason"] == ""
    assert body["person"]["email"] == "new@example.net"
    assert body["survey_url"].startswith("http")
    assert Person.objects.get(email="new@example.net").name == "New"


def test_an_invitation_inside_the_quiet_period_is_stored_skipped_with_its_reason(
    write_api, touchpoint
):
    person = PersonFactory()
    InvitationFactory(person=person, touchpoint=touchpoint)
    response = write_api.post(
        URL, {"touchpoint": "support-call", "person": person.pk}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "skipped"
    assert body["skip_reason"] == "quiet_period"
    assert "quiet period" in body["skip_reason_text"]
    assert body["survey_url"] is None


def test_an_unsubscribed_person_is_not_invited(write_api, touchpoint):
    person = services.person_unsubscribe(person=PersonFactory())
    body = write_api.post(
        URL, {"touchpoint": "support-call", "person": person.pk}, format="json"
    ).json()
    assert (body["status"], body["skip_reason"]) == ("skipped", "unsubscribed")


def test_an_sms_without_a_phone_says_so(write_api, touchpoint):
    person = PersonFactory()
    body = write_api.post(
        URL, {"touchpoint": "support-call", "person": person.pk, "channel": "sms"}, format="json"
    ).json()
    assert body["skip_reason"] == "no_address"


def test_an_inactive_touchpoint_says_so(write_api):
    TouchpointFactory(slug="closed", active=False)
    body = write_api.post(
        URL, {"touchpoint": "closed", "email": "a@example.net"}, format="json"
    ).json()
    assert body["skip_reason"] == "inactive_touchpoint"


def test_an_invitation_can_be_scheduled_for_later(write_api, touchpoint):
    later = timezone.now() + dt.timedelta(days=2)
    response = write_api.post(
        URL,
        {
            "touchpoint": "support-call",
            "email": "later@example.net",
            "scheduled_for": later.isoformat(),
        },
        format="json",
    )
    assert response.status_code == 202
    invitation = Invitation.objects.get(pk=response.json()["id"])
    assert invitation.status == "scheduled" and invitation.scheduled_for == later


@pytest.mark.parametrize(
    "body, field",
    [
        ({"touchpoint": "support-call"}, "person"),
        ({"touchpoint": "nowhere", "email": "a@example.net"}, "touchpoint"),
        ({"touchpoint": "support-call", "person": 99999}, "person"),
        ({"touchpoint": "support-call", "email": "not-an-email"}, "email"),
        ({"touchpoint": "support-call", "phone": "12"}, "phone"),
        ({"touchpoint": "support-call", "email": "a@example.net", "channel": "fax"}, "channel"),
        (
            {
                "touchpoint": "support-call",
                "email": "a@example.net",
                "scheduled_for": "2999-01-01T00:00:00Z",
            },
            "scheduled_for",
        ),
    ],
)
def test_bad_invitations_are_a_400_naming_the_field(write_api, touchpoint, body, field):
    response = write_api.post(URL, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Invitation.objects.exists()


def test_invitations_are_listed_and_filtered(read_api, touchpoint, touchpoint_b):
    a = InvitationFactory(touchpoint=touchpoint)
    InvitationFactory(touchpoint=touchpoint_b)
    body = read_api.get(URL, {"touchpoint": "support-call"}).json()
    assert [i["id"] for i in body["results"]] == [a.pk]
    assert body["results"][0]["person"] is None  # no personal data, not even the id
    assert body["results"][0]["survey_url"] is None


# --- people ---------------------------------------------------------------------------------


def test_a_person_is_created_then_updated_by_email(admin_api):
    first = admin_api.post(
        "/api/people/",
        {"email": "Zoe@Example.net", "name": "Zoé", "properties": {"plan": "pro"}},
        format="json",
    )
    assert first.status_code == 201
    again = admin_api.post(
        "/api/people/", {"email": "zoe@example.net", "phone": "+33 6 12 34 56 78"}, format="json"
    ).json()
    assert again["id"] == first.json()["id"]
    assert again["name"] == "Zoé" and again["phone"] == "+33612345678"
    assert again["properties"] == {"plan": "pro"}


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "email"),
        ({"email": "nope"}, "email"),
        ({"phone": "0612"}, "phone"),
        ({"email": "a@example.net", "properties": "x"}, "properties"),
        ({"email": "a@example.net", "name": "x" * 201}, "name"),
    ],
)
def test_bad_people_are_a_400_naming_the_field(write_api, body, field):
    response = write_api.post("/api/people/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_touchpoints_are_listed_and_read_by_slug(read_api, touchpoint, touchpoint_b):
    listed = read_api.get("/api/touchpoints/").json()
    assert listed["count"] == 2
    assert [t["slug"] for t in listed["results"]] == ["billing", "support-call"]
    one = read_api.get("/api/touchpoints/support-call/").json()
    assert one["owner_team"] == "support" and one["nps_target"] == 30
    assert one["question"]
    assert read_api.get("/api/touchpoints/nope/").status_code == 404


def test_touchpoints_are_paginated_by_page_number(read_api):
    for i in range(5):
        TouchpointFactory(slug=f"tp-{i}", name=f"TP {i}")
    page = read_api.get("/api/touchpoints/", {"page_size": 2, "page": 2}).json()
    assert page["count"] == 5 and len(page["results"]) == 2
    assert page["next"] and page["previous"]
    assert read_api.get("/api/touchpoints/", {"page": 99}).status_code == 400


def test_a_phone_number_another_person_has_is_a_400_and_nothing_is_written(write_api, touchpoint):
    PersonFactory(email="first@example.com", phone="+33610000001")
    PersonFactory(email="second@example.com", phone="+33610000002")
    people, invitations = Person.objects.count(), Invitation.objects.count()
    for path, body in (
        ("/api/people/", {"email": "new@example.com", "phone": "+33610000001"}),
        ("/api/people/", {"email": "second@example.com", "phone": "+33610000001"}),
        (URL, {"touchpoint": "support-call", "email": "new2@example.com", "phone": "+33610000001"}),
    ):
        answer = write_api.post(path, body, format="json")
        assert answer.status_code == 400, answer.content
        assert answer.json()["errors"] == {
            "phone": ["Another person already has this phone number."]
        }
    assert (Person.objects.count(), Invitation.objects.count()) == (people, invitations)
    assert Person.objects.get(email="second@example.com").phone == "+33610000002"


def test_a_delighted_person_with_a_phone_number_another_person_has_is_a_422(admin_key, db):
    from tests.api.conftest import basic_client

    PersonFactory(email="first@example.com", phone="+33610000001")
    answer = basic_client(admin_key[1]).post(
        "/v1/people.json",
        {"email": "new@example.com", "phone_number": "+33610000001", "send": "false"},
        format="json",
    )
    assert answer.status_code == 422, answer.content
    assert "phone_number" in answer.json()["errors"]
    assert not Person.objects.filter(email="new@example.com").exists()


def test_the_touchpoints_api_gives_the_customer_texts_per_language(read_api, touchpoint):
    touchpoint.translations = {
        "fr": {"name": "Appel au service client", "question": " "},  # blank: left out
        "xx": {"name": "not a survey language"},
    }
    touchpoint.save()
    body = read_api.get(f"/api/touchpoints/{touchpoint.slug}/").json()
    assert body["translations"] == {"fr": {"name": "Appel au service client"}}
    touchpoint.translations = {}
    touchpoint.save()
    assert read_api.get(f"/api/touchpoints/{touchpoint.slug}/").json()["translations"] == {}
