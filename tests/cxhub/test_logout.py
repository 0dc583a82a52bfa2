"""Logging out: the header's button (POST), a typed /logout/ (GET), and a word after."""

import pytest

pytestmark = pytest.mark.django_db


def test_logging_out_says_so_on_the_login_page(client, employee):
    client.force_login(employee)
    page = client.post("/logout/", follow=True)
    assert page.redirect_chain == [("/login/", 302)]
    assert "You are logged out." in page.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_typed_logout_address_asks_and_logs_out_nobody_by_itself(client, employee):
    client.force_login(employee)
    page = client.get("/logout/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Log out of CX Hub?" in html and 'action="/logout/"' in html
    assert "_auth_user_id" in client.session  # a GET (a link prefetch) changes nothing


def test_a_typed_logout_address_when_logged_out_goes_to_the_login_page(client):
    page = client.get("/logout/")
    assert (page.status_code, page["Location"]) == (302, "/login/")
