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


def test_a_new_email_address_for_a_bounced_person_can_be_emailed_again(admin_client):
    from django.utils import timezone

    bounced = timezone.now().replace(microsecond=0)
    person = Person.objects.create(email="old@example.org", bounced_at=bounced)
    shown = timezone.localtime(bounced)  # the form shows it unchanged
    page = admin_client.post(
        f"/admin/surveys/person/{person.pk}/change/",
        {
            **FORM,
            "email": "new@example.org",
            "bounced_at_0": shown.strftime("%Y-%m-%d"),
            "bounced_at_1": shown.strftime("%H:%M:%S"),
        },
    )
    assert page.status_code == 302, page.content.decode()
    person.refresh_from_db()
    assert (person.email, person.bounced_at) == ("new@example.org", None)


def test_an_address_changed_to_one_an_erased_person_unsubscribed_is_marked(admin_client):
    from surveys import services

    gone = services.person_upsert(email="gone@example.org")
    services.person_unsubscribe(person=gone)
    services.person_erase(person=gone)
    person = Person.objects.create(email="other@example.org")
    page = admin_client.post(
        f"/admin/surveys/person/{person.pk}/change/", {**FORM, "email": "gone@example.org"}
    )
    assert page.status_code == 302, page.content.decode()
    person.refresh_from_db()
    assert person.unsubscribed_at is not None
