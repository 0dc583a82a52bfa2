"""A touchpoint's customer-facing name and question per language: the survey pages and
the survey email speak the customer's language; staff pages and the API keep the
staff's name."""

import io

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command
from rest_framework.test import APIClient

from surveys import services
from surveys.models import Invitation, Touchpoint

FRENCH = {
    "fr": {
        "name": "Appel au service client",
        "question": "Recommanderiez-vous notre service client à un proche ?",
    }
}


@pytest.fixture
def french_touchpoint(touchpoint):
    touchpoint.translations = FRENCH
    touchpoint.save()
    return touchpoint


def invite(person_locale, touchpoint, capture, email="jean@example.fr"):
    person = services.person_upsert(email=email, name="Jean Martin", locale=person_locale)
    with capture(execute=True):
        return services.invitation_create(person=person, touchpoint=touchpoint)


def test_french_invitation_email_shows_the_french_name_and_question(
    french_touchpoint, django_capture_on_commit_callbacks
):
    invite("fr", french_touchpoint, django_capture_on_commit_callbacks)
    message = mail.outbox[0]
    html = message.alternatives[0][0]
    assert message.subject == FRENCH["fr"]["question"]
    assert message.body.startswith(FRENCH["fr"]["question"])
    assert "Appel au service client" in html
    assert "Recommanderiez-vous notre service client" in html
    assert "Support call" not in html
    assert '<html lang="fr">' in html


def test_a_french_sms_invitation_asks_the_french_question(
    french_touchpoint, django_capture_on_commit_callbacks, caplog
):
    person = services.person_upsert(phone="+33612345678", name="Jean Martin", locale="fr")
    with (
        caplog.at_level("INFO", logger="surveys.services"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.invitation_create(
            person=person, touchpoint=french_touchpoint, channel=Invitation.Channel.SMS
        )
    assert "Recommanderiez-vous notre service client à un proche ? (0-10)" in caplog.text


def test_french_invitation_pages_show_the_french_name_and_question(
    customer_client, french_touchpoint, django_capture_on_commit_callbacks
):
    invitation = invite("fr", french_touchpoint, django_capture_on_commit_callbacks)
    page = customer_client.get(f"/r/{invitation.token}/?score=8").content.decode()
    assert '<div class="brand-line">Appel au service client</div>' in page
    assert "Recommanderiez-vous notre service client" in page
    assert "Support call" not in page

    answer = customer_client.post(f"/r/{invitation.token}/", {"score": "8"})
    thanks = customer_client.get(answer["Location"]).content.decode()
    assert '<div class="brand-line">Appel au service client</div>' in thanks
    assert "Support call" not in thanks


def test_public_link_in_french_shows_the_french_name_and_question(
    customer_client, french_touchpoint
):
    url = f"/s/{french_touchpoint.slug}/"
    page = customer_client.get(url, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert '<div class="brand-line">Appel au service client</div>' in page
    assert "Recommanderiez-vous notre service client" in page
    assert "Support call" not in page

    answer = customer_client.post(url, {"score": "9"}, HTTP_ACCEPT_LANGUAGE="fr")
    thanks = customer_client.get(answer["Location"], HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert '<div class="brand-line">Appel au service client</div>' in thanks


def test_a_regional_locale_finds_the_language_translation(
    customer_client, french_touchpoint, django_capture_on_commit_callbacks
):
    invitation = invite("fr-CA", french_touchpoint, django_capture_on_commit_callbacks)
    assert mail.outbox[0].subject == FRENCH["fr"]["question"]
    page = customer_client.get(f"/r/{invitation.token}/").content.decode()
    assert "Appel au service client" in page


def test_an_untranslated_name_falls_back_to_the_staff_name(
    customer_client, touchpoint, django_capture_on_commit_callbacks
):
    # Only the question is translated: the name shown is the one staff use.
    touchpoint.translations = {"fr": {"question": "Nous recommanderiez-vous ?"}}
    touchpoint.save()
    invitation = invite("fr", touchpoint, django_capture_on_commit_callbacks)
    html = mail.outbox[0].alternatives[0][0]
    assert "Support call" in html and "Nous recommanderiez-vous ?" in html
    page = customer_client.get(f"/r/{invitation.token}/").content.decode()
    assert '<div class="brand-line">Support call</div>' in page
    assert "Nous recommanderiez-vous ?" in page


def test_an_untranslated_question_falls_back_to_the_touchpoints_own_then_the_standard_one(
    db,
):
    touchpoint = Touchpoint(name="Support call", slug="support-call")
    touchpoint.translations = {"fr": {"name": "Appel au service client"}}
    assert touchpoint.customer_name("fr") == "Appel au service client"
    assert "recommandiez" in touchpoint.customer_question("fr")  # the standard, in French
    touchpoint.question = "Would you recommend our helpline?"
    assert touchpoint.customer_question("fr") == "Would you recommend our helpline?"
    assert touchpoint.customer_question("en") == "Would you recommend our helpline?"


def test_english_pages_and_email_keep_the_default_name_and_question(
    customer_client, french_touchpoint, django_capture_on_commit_callbacks
):
    invitation = invite("en", french_touchpoint, django_capture_on_commit_callbacks)
    message = mail.outbox[0]
    assert "recommend us to a friend" in message.subject
    assert "Support call" in message.alternatives[0][0]
    page = customer_client.get(f"/r/{invitation.token}/").content.decode()
    assert '<div class="brand-line">Support call</div>' in page
    assert "Appel au service client" not in page
    public = customer_client.get(f"/s/{french_touchpoint.slug}/", HTTP_ACCEPT_LANGUAGE="en")
    assert '<div class="brand-line">Support call</div>' in public.content.decode()


def test_customer_facing_texts_are_escaped(
    customer_client, touchpoint, django_capture_on_commit_callbacks
):
    touchpoint.translations = {
        "fr": {"name": "<script>alert('n')</script>", "question": "<b>Note</b> & avis ?"}
    }
    touchpoint.save()
    invitation = invite("fr", touchpoint, django_capture_on_commit_callbacks)
    html = mail.outbox[0].alternatives[0][0]
    page = customer_client.get(f"/r/{invitation.token}/").content.decode()
    public = customer_client.get(f"/s/{touchpoint.slug}/", HTTP_ACCEPT_LANGUAGE="fr")
    for text in (html, page, public.content.decode()):
        assert "<script>alert" not in text and "<b>Note" not in text
        assert "&lt;script&gt;alert(&#x27;n&#x27;)&lt;/script&gt;" in text
        assert "&lt;b&gt;Note&lt;/b&gt; &amp; avis ?" in text


def test_staff_pages_and_the_api_keep_the_staff_name_in_french(client, employee, french_touchpoint):
    client.force_login(employee)
    page = client.get(f"/touchpoints/{french_touchpoint.slug}/", HTTP_ACCEPT_LANGUAGE="fr")
    assert page.status_code == 200
    assert "Support call" in page.content.decode()
    assert "Appel au service client" not in page.content.decode()
    api = APIClient()
    api.force_login(employee)
    one = api.get(f"/api/touchpoints/{french_touchpoint.slug}/", HTTP_ACCEPT_LANGUAGE="fr")
    assert one.status_code == 200, one.content
    assert one.json()["name"] == "Support call"


@pytest.mark.parametrize(
    "translations",
    [
        {"de": {"name": "Support-Anruf"}},  # not a language of the survey pages
        {"en": {"name": "Support call"}},  # the default language: that is `name` itself
        {"fr": {"slug": "appel"}},
        {"fr": {"name": ""}},
        {"fr": {"name": "x" * 101}},
        {"fr": "Appel"},
        ["fr"],
    ],
)
def test_translations_outside_the_languages_and_texts_are_refused(db, translations):
    touchpoint = Touchpoint(name="Support call", slug="support-call", translations=translations)
    with pytest.raises(ValidationError) as error:
        touchpoint.full_clean()
    assert "translations" in error.value.message_dict


def test_malformed_stored_translations_never_break_a_survey_page(customer_client, touchpoint):
    Touchpoint.objects.filter(pk=touchpoint.pk).update(translations={"fr": "Appel"})
    page = customer_client.get(f"/s/{touchpoint.slug}/", HTTP_ACCEPT_LANGUAGE="fr")
    assert page.status_code == 200
    assert '<div class="brand-line">Support call</div>' in page.content.decode()


def admin_form(touchpoint, **changes) -> dict:
    """The touchpoint admin's change form as it comes, with `changes`."""
    return {
        "name": "Support call",
        "slug": "support-call",
        "owner_team": touchpoint.owner_team_id,
        "question": "",
        "nps_target": "30",
        "followup_deadline_hours": "48",
        "resurvey_after_days": "",
        "quiet_period_days": "",
        "active": "on",
        "created_at_0": touchpoint.created_at.date().isoformat(),
        "created_at_1": "00:00:00",
        "name_fr": "",
        "question_fr": "",
        "targets-TOTAL_FORMS": "0",  # the target history inline (read only)
        "targets-INITIAL_FORMS": "0",
        **changes,
    }


def test_cx_admin_edits_the_french_texts_in_the_touchpoint_admin(client, cx_admin, touchpoint):
    cx_admin.is_superuser = True
    cx_admin.save()
    client.force_login(cx_admin)
    url = f"/admin/surveys/touchpoint/{touchpoint.pk}/change/"
    form = client.get(url).content.decode()
    assert "Customer-facing name (French)" in form
    assert "Customer-facing question (French)" in form
    data = admin_form(touchpoint, name_fr="  Appel au service client ")
    saved = client.post(url, data)
    assert saved.status_code == 302, saved.content.decode()[:3000]
    touchpoint.refresh_from_db()
    assert touchpoint.translations == {"fr": {"name": "Appel au service client"}}
    assert touchpoint.name == "Support call"
    assert 'value="Appel au service client"' in client.get(url).content.decode()
    assert "French" in client.get("/admin/surveys/touchpoint/").content.decode()

    client.post(url, {**data, "name_fr": ""})
    touchpoint.refresh_from_db()
    assert touchpoint.translations == {}


def test_the_demo_touchpoints_have_french_names(db):
    call_command("seed_demo", "--responses", "0", "--force", stdout=io.StringIO())
    support = Touchpoint.objects.get(slug="support-call")
    assert support.name == "Support call"
    assert support.customer_name("fr") == "Appel au service client"
    assert all(tp.customer_name("fr") != tp.name for tp in Touchpoint.objects.all())


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("followup_deadline_hours", "0", "greater than or equal to 1"),
        ("nps_target", "150", "less than or equal to 100"),
        ("nps_target", "-101", "greater than or equal to -100"),
    ],
)
def test_the_touchpoint_admin_refuses_a_zero_deadline_and_a_target_out_of_range_at_the_field(
    client, cx_admin, touchpoint, field, value, error
):
    cx_admin.is_superuser = True
    cx_admin.save()
    client.force_login(cx_admin)
    data = admin_form(touchpoint, **{field: value})
    page = client.post(f"/admin/surveys/touchpoint/{touchpoint.pk}/change/", data)
    assert page.status_code == 200
    html = page.content.decode()
    # Next to the field, not as a constraint's message at the top of the form.
    assert f'<ul class="errorlist" id="id_{field}_error"><li>Ensure this value is {error}' in html
    assert "is violated" not in html
    touchpoint.refresh_from_db()
    assert (touchpoint.nps_target, touchpoint.followup_deadline_hours) == (30, 48)
