"""A customer answers on a phone, in a real browser."""

import re

import pytest
from django.core import mail

from surveys import services
from surveys.models import Response

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_customer_answers_an_emailed_survey_on_a_phone(phone, live_server, touchpoint):
    person = services.person_upsert(email="marie@example.net", name="Marie Curie")
    services.invitation_create(person=person, touchpoint=touchpoint)  # eager: emailed now
    link = re.search(r"^3: (\S+)$", mail.outbox[0].body, re.M).group(1)
    phone.goto(link.replace("http://testserver", live_server.url))

    assert phone.locator("input#score-3").is_checked()
    assert Response.objects.count() == 0  # opening the link records nothing
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    phone.fill("#id_comment", "The line still drops every evening.")
    phone.get_by_role("button", name="Send my answer").tap()
    phone.wait_for_url(re.compile(r"/thanks/$"))
    assert "Thank you for your feedback" in phone.content()

    response = Response.objects.get()
    assert (response.score, response.comment) == (3, "The line still drops every evening.")
    assert response.case.is_open  # a detractor: the follow-up case is there


def test_a_kiosk_visitor_taps_10_on_the_public_link(phone, live_server, touchpoint):
    phone.goto(f"{live_server.url}/s/{touchpoint.slug}/")
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    phone.locator("label[for=score-10]").tap()
    phone.get_by_role("button", name="Send my answer").tap()
    phone.wait_for_url(re.compile(r"/thanks/$"))
    assert Response.objects.get().score == 10


def test_sending_without_a_score_says_what_is_missing(phone, live_server, touchpoint):
    phone.goto(f"{live_server.url}/s/{touchpoint.slug}/")
    phone.get_by_role("button", name="Send my answer").tap()
    assert phone.get_by_role("alert").inner_text() == "Please choose a score from 0 to 10."
    assert Response.objects.count() == 0
