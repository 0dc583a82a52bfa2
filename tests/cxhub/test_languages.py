"""Customers' pages speak the visitor's language; staff pages, written in English only,
stay English for a French browser (else English text came with French dates and
numbers: "due 3 Déc", "± 2,8")."""

import pytest

pytestmark = pytest.mark.django_db


def test_staff_pages_stay_english_for_a_french_browser(client, employee, touchpoint, time_machine):
    time_machine.move_to("2026-12-01 09:00 +01:00")
    client.force_login(employee)
    for url in ("/", f"/touchpoints/{touchpoint.slug}/"):
        page = client.get(url, HTTP_ACCEPT_LANGUAGE="fr")
        assert page.status_code == 200
        html = page.content.decode()
        assert page.wsgi_request.LANGUAGE_CODE == "en"
        assert '<html lang="en">' in html
        assert "décembre" not in html.lower() and "déc" not in html.lower()


def test_the_public_survey_page_still_speaks_french_to_a_french_browser(
    customer_client, touchpoint
):
    page = customer_client.get(f"/s/{touchpoint.slug}/", HTTP_ACCEPT_LANGUAGE="fr")
    assert page.status_code == 200
    assert "Quelle est la probabilité que vous nous recommandiez" in page.content.decode()
    assert "Accept-Language" in page.get("Vary", "")


def test_staff_get_their_error_pages_in_english_too(client, employee):
    client.force_login(employee)
    for url in ("/no-such-page/", "/s/suport-call/"):
        page = client.get(url, HTTP_ACCEPT_LANGUAGE="fr")
        assert page.status_code == 404
        assert "Page not found" in page.content.decode()


def test_an_anonymous_404_in_french_says_it_varies_by_language(client):
    page = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="fr")
    assert page.status_code == 404 and "Page introuvable" in page.content.decode()
    assert "Accept-Language" in page["Vary"]
    assert page["Content-Language"] == "fr"


def test_the_500_page_reads_nothing_from_the_database(rf, django_assert_num_queries):
    from django.contrib.sessions.middleware import SessionMiddleware

    from cxhub import views

    request = rf.get("/", HTTP_ACCEPT_LANGUAGE="fr", HTTP_COOKIE="sessionid=abc")
    SessionMiddleware(lambda r: None).process_request(request)
    from django.contrib.auth.middleware import AuthenticationMiddleware

    AuthenticationMiddleware(lambda r: None).process_request(request)  # a lazy user
    with django_assert_num_queries(0):  # the error may be the database itself
        page = views.server_error(request)
    assert page.status_code == 500
    assert page["Content-Language"] == "fr"
