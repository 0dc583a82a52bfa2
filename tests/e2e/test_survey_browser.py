"""A customer answers on a phone, in a real browser."""

import re

import pytest
from django.core import mail

from surveys import services
from surveys.models import Response

pytestmark = pytest.mark.django_db(transaction=True)

NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


def test_a_customer_answers_an_emailed_survey_on_a_phone(
    phone, page_problems, live_server, touchpoint
):
    person = services.person_upsert(email="marie@example.net", name="Marie Curie")
    services.invitation_create(person=person, touchpoint=touchpoint)  # eager: emailed now
    assert len(mail.outbox) == 1
    link = re.search(r"^3: (\S+)$", mail.outbox[0].body, re.M).group(1)
    problems = page_problems(phone)

    phone.goto(link.replace("http://testserver", live_server.url))
    assert phone.locator("input#score-3").is_checked()
    assert Response.objects.count() == 0  # opening the link (as mail scanners do) records nothing
    assert phone.evaluate(NO_SIDEWAYS_SCROLL)

    phone.fill("#id_comment", "The line still drops every evening.")
    phone.get_by_role("button", name="Send my answer").tap()
    phone.wait_for_url(re.compile(r"/r/[^/]+/thanks/$"))
    assert phone.get_by_role("heading", level=1).inner_text() == "Thank you for your feedback!"
    assert phone.evaluate(NO_SIDEWAYS_SCROLL)
    assert problems == []

    response = Response.objects.get()
    assert (response.score, response.comment) == (3, "The line still drops every evening.")
    assert response.invitation.person == person
    assert response.case.is_open  # a detractor: the follow-up case is there


def test_a_kiosk_visitor_taps_10_on_the_public_link(phone, page_problems, live_server, touchpoint):
    problems = page_problems(phone)
    phone.goto(f"{live_server.url}/s/{touchpoint.slug}/")
    assert phone.evaluate(NO_SIDEWAYS_SCROLL)

    phone.locator("label[for=score-10]").tap()
    assert phone.locator("input#score-10").is_checked()
    phone.get_by_role("button", name="Send my answer").tap()
    phone.wait_for_url(f"{live_server.url}/s/{touchpoint.slug}/thanks/")
    assert phone.get_by_role("heading", level=1).inner_text() == "Thank you for your feedback!"
    assert problems == []

    response = Response.objects.get()
    assert (response.score, response.comment, response.invitation) == (10, "", None)


SCALE_BOXES = """() => [...document.querySelectorAll('.scale label')].map(label => {
    const box = label.getBoundingClientRect();
    return [Math.round(box.top), Math.round(box.left), Math.round(box.right)];
})"""


def test_the_score_buttons_fill_two_full_rows_on_a_phone_and_one_on_a_desktop(
    phone, page, live_server, touchpoint
):
    """0–5 then 6–10, each row the full width: 10 sits under "Extremely likely"."""
    phone.goto(f"{live_server.url}/s/{touchpoint.slug}/")
    boxes = phone.evaluate(SCALE_BOXES)
    first, second = boxes[:6], boxes[6:]
    assert len({top for top, _, _ in first}) == 1 and len({top for top, _, _ in second}) == 1
    assert first[0][0] < second[0][0]
    assert first[0][1] == second[0][1] and abs(first[-1][2] - second[-1][2]) <= 1
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/s/{touchpoint.slug}/")
    assert len({top for top, _, _ in page.evaluate(SCALE_BOXES)}) == 1


def test_sending_without_a_score_says_what_is_missing(phone, live_server, touchpoint):
    phone.goto(f"{live_server.url}/s/{touchpoint.slug}/")
    phone.get_by_role("button", name="Send my answer").tap()
    assert phone.get_by_role("alert").inner_text() == "Please choose a score from 0 to 10."
    assert Response.objects.count() == 0
