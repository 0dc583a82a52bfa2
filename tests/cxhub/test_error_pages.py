"""Error pages give everyone a way out: staff back to the dashboard; a customer with a
mistyped or old survey link an explanation, and no push to the staff login."""

import pytest
from django.utils import translation

pytestmark = pytest.mark.django_db


def test_an_unknown_survey_link_says_so_and_offers_no_staff_login(customer_client):
    page = customer_client.get("/s/suport-call/")
    assert page.status_code == 404
    html = page.content.decode()
    assert "This survey link is unknown or has expired." in html
    assert "scan the QR code again" in html
    assert "<code>/s/suport-call/</code>" in html
    assert "/login/" not in html
    assert "Back to the dashboard" not in html


def test_a_survey_link_typed_in_capitals_is_still_a_survey_link(customer_client):
    page = customer_client.get("/S/Support-Call/")
    assert page.status_code == 404
    assert "This survey link is unknown or has expired." in page.content.decode()
    assert "/login/" not in page.content.decode()


def test_an_unknown_survey_link_is_explained_in_french(customer_client):
    page = customer_client.get("/s/suport-call/", HTTP_ACCEPT_LANGUAGE="fr")
    assert page.status_code == 404
    html = page.content.decode()
    assert '<html lang="fr">' in html
    assert "Page introuvable" in html
    assert "Ce lien d'enquête est inconnu ou a expiré." in html
    assert "Adresse demandée :" in html


def test_an_anonymous_visitor_on_another_unknown_page_may_log_in(client):
    page = client.get("/no-such-page/")
    assert page.status_code == 404
    html = page.content.decode()
    assert "There is no page at this address." in html
    assert "survey link is unknown" not in html
    assert "Do you work here?" in html and 'href="/login/"' in html


def test_the_login_offer_is_in_french_too(client):
    html = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Vous travaillez ici ?" in html and "Se connecter à CX Hub" in html


def test_logged_in_staff_get_the_dashboard_and_no_login_link(client, employee):
    client.force_login(employee)
    for url in ("/no-such-page/", "/s/suport-call/"):
        page = client.get(url)
        assert page.status_code == 404
        html = page.content.decode()
        assert '<a class="btn" href="/">Back to the dashboard</a>' in html
        assert "Do you work here?" not in html


def test_the_requested_path_is_shown_escaped(customer_client):
    page = customer_client.get("/s/<script>alert(1)</script>/")
    assert page.status_code == 404
    html = page.content.decode()
    assert "<script>alert" not in html
    assert "%3Cscript%3Ealert%281%29%3C/script%3E" in html


def test_the_server_error_page_offers_to_try_again_in_both_languages(rf):
    from django.views.defaults import server_error

    with translation.override("en"):
        html = server_error(rf.get("/s/support-call/")).content.decode()
    assert '<a class="btn" href="">Try again</a>' in html
    with translation.override("fr"):
        html = server_error(rf.get("/s/support-call/")).content.decode()
    assert "Réessayer" in html


def test_with_debug_on_a_refused_page_is_the_products_404_not_djangos_technical_one(
    client, customer_client, employee, settings
):
    """`make run` runs with DEBUG on: another team's case, an unknown survey link."""
    settings.DEBUG = True
    client.force_login(employee)
    for visitor, path in ((client, "/cases/999999/"), (customer_client, "/s/nope/")):
        page = visitor.get(path)
        html = page.content.decode()
        assert page.status_code == 404, path
        assert "URL patterns" not in html and "DEBUG = True" not in html, path
        assert f"<code>{path}</code>" in html, path


def test_the_admins_favicon_request_is_answered_without_an_error(client):
    answer = client.get("/favicon.ico")
    assert answer.status_code == 204 and answer.content == b""
