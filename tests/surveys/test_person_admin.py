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


def test_unsubscribing_a_person_by_hand_cancels_their_surveys_and_announces_it(
    admin_client, touchpoint, django_capture_on_commit_callbacks
):
    import datetime as dt

    from django.utils import timezone

    from surveys import services
    from surveys.hooks import person_unsubscribed
    from surveys.models import Invitation

    person = services.person_upsert(email="zoe@example.org", name="Zoé")
    later = services.invitation_create(
        person=person, touchpoint=touchpoint, scheduled_for=timezone.now() + dt.timedelta(days=3)
    )
    announced = []
    person_unsubscribed.connect(
        lambda sender, person, **kw: announced.append(person.pk), weak=False, dispatch_uid="t"
    )
    try:
        page = admin_client.post(
            f"/admin/surveys/person/{person.pk}/change/",
            {
                **FORM,
                "email": "zoe@example.org",
                "unsubscribed_at_0": "2026-11-30",
                "unsubscribed_at_1": "10:00:00",
            },
        )
    finally:
        person_unsubscribed.disconnect(dispatch_uid="t")
    assert page.status_code == 302, page.content.decode()
    person.refresh_from_db()
    later.refresh_from_db()
    assert person.unsubscribed_at is not None
    assert (later.status, later.skip_reason) == ("cancelled", Invitation.SkipReason.UNSUBSCRIBED)
    assert announced == [person.pk]


def test_deleting_responses_in_the_admin_takes_them_out_of_the_figures(
    admin_client, touchpoint, django_capture_on_commit_callbacks
):
    from surveys import services
    from surveys.models import NpsDaily, Response

    def committed(work):
        with django_capture_on_commit_callbacks(execute=True):
            return work()

    kept = committed(lambda: services.response_record(touchpoint=touchpoint, score=10))
    spam = [
        committed(lambda: services.response_record(touchpoint=touchpoint, score=9))
        for _ in range(2)
    ]
    assert NpsDaily.objects.get().promoters == 3
    page = committed(
        lambda: admin_client.post(
            "/admin/surveys/response/",
            {"action": "delete_selected", "_selected_action": [r.pk for r in spam], "post": "yes"},
        )
    )
    assert page.status_code == 302
    assert list(Response.objects.all()) == [kept]
    assert NpsDaily.objects.get().promoters == 1
    one = committed(lambda: services.response_record(touchpoint=touchpoint, score=8))
    assert NpsDaily.objects.get().passives == 1
    committed(
        lambda: admin_client.post(f"/admin/surveys/response/{one.pk}/delete/", {"post": "yes"})
    )
    assert NpsDaily.objects.get().passives == 0
