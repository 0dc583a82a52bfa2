"""Adding or editing a person in the admin applies the rules of every other way in."""

import pytest

from surveys.models import Person

pytestmark = pytest.mark.django_db

FORM = {
    "email": "",
    "phone": "",
    "name": "Zoé",
    "external_id": "",
    "locale": "",
    "properties": "{}",
    "created_at_0": "2026-01-01",
    "created_at_1": "00:00:00",
}


def test_a_phone_number_is_stored_in_e164_and_an_email_lowercased(admin_client):
    page = admin_client.post(
        "/admin/surveys/person/add/",
        {**FORM, "email": " Zoe@Example.ORG ", "phone": "+33 6 12-34-56-78"},
    )
    assert page.status_code == 302, page.content.decode()
    assert list(Person.objects.values_list("email", "phone")) == [
        ("zoe@example.org", "+33612345678")
    ]


def test_a_phone_number_without_its_country_code_is_refused_and_nothing_saved(admin_client):
    page = admin_client.post("/admin/surveys/person/add/", {**FORM, "phone": "0612345678"})
    assert page.status_code == 200
    assert "is not a phone number in E.164 form, e.g. +33612345678." in page.content.decode()
    assert not Person.objects.exists()


def test_a_person_needs_an_email_or_a_phone(admin_client):
    page = admin_client.post("/admin/surveys/person/add/", FORM)
    assert page.status_code == 200
    assert "Give an email address or a phone number." in page.content.decode()
    assert not Person.objects.exists()
