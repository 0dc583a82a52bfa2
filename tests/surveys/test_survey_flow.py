"""The survey loop through the HTTP interface: email → landing page → POST → rollup → dashboard."""

import re

import pytest
from django.core import mail
from django.utils import timezone

from surveys import services
from surveys.models import Invitation, NpsDaily, Response


def score_link(message, score):
    return (
        re.search(rf"^{score}: (\S+)$", message.body, re.M)
        .group(1)
        .replace("http://testserver", "")
    )


@pytest.fixture
def invited(touchpoint, django_capture_on_commit_callbacks):
    person = services.person_upsert(email="marie.dupont@example.net", name="Marie Dupont")
    with django_capture_on_commit_callbacks(execute=True):
        return services.invitation_create(person=person, touchpoint=touchpoint)


def test_invitation_email_has_the_question_eleven_score_links_and_unsubscribe(invited):
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["marie.dupont@example.net"]
    assert "recommend" in message.subject
    html = message.alternatives[0][0]
    for score in range(11):
        assert f"/r/{invited.token}/?score={score}" in message.body
        assert f"/r/{invited.token}/?score={score}" in html
    assert f"/u/{invited.token}/" in message.body
    assert message.extra_headers["List-Unsubscribe"].endswith(f"/u/{invited.token}/>")
    invited.refresh_from_db()
    assert invited.status == Invitation.Status.SENT
    assert invited.sent_at is not None


def test_survey_flow_end_to_end_updates_the_dashboard(
    customer_client, invited, employee, client, django_capture_on_commit_callbacks
):
    link = score_link(mail.outbox[0], 3)

    page = customer_client.get(link)
    assert page.status_code == 200
    assert b'id="score-3" value="3" checked' in page.content
    assert Response.objects.count() == 0

    with django_capture_on_commit_callbacks(execute=True):
        answer = customer_client.post(
            link.split("?")[0], {"score": "3", "comment": "Waited 40 minutes"}
        )
    assert answer.status_code == 302
    assert answer["Location"] == f"/r/{invited.token}/thanks/"
    assert "Change my answer" in customer_client.get(answer["Location"]).content.decode()

    response = Response.objects.get()
    assert (response.score, response.category, response.comment) == (
        3,
        "detractor",
        "Waited 40 minutes",
    )
    assert response.person.email == "marie.dupont@example.net"
    assert response.invitation == invited
    rollup = NpsDaily.objects.get(touchpoint=invited.touchpoint, date=timezone.localdate())
    assert (rollup.promoters, rollup.passives, rollup.detractors) == (0, 0, 1)
    assert rollup.score_counts[3] == 1

    client.force_login(employee)
    dashboard = client.get("/")
    card = dashboard.context["summaries"][0]
    assert card.current.nps == -100
    assert card.current.total == 1
    assert "−100" in dashboard.content.decode()


def test_get_on_a_score_link_records_nothing(customer_client, invited):
    for score in range(11):
        assert customer_client.get(score_link(mail.outbox[0], score)).status_code == 200
    assert Response.objects.count() == 0
    assert NpsDaily.objects.count() == 0
    invited.refresh_from_db()
    assert invited.responded_at is None


def test_answering_again_updates_the_same_response_and_keeps_its_first_time(
    customer_client, invited, time_machine, django_capture_on_commit_callbacks
):
    url = f"/r/{invited.token}/"
    time_machine.move_to("2026-11-02 10:00 +01:00")
    with django_capture_on_commit_callbacks(execute=True):
        customer_client.post(url, {"score": "4", "comment": "slow"})
    first = Response.objects.get()
    time_machine.move_to("2026-11-05 18:00 +01:00")
    with django_capture_on_commit_callbacks(execute=True):
        customer_client.post(url, {"score": "9", "comment": "they called me back, sorted"})

    response = Response.objects.get()
    assert response.pk == first.pk
    assert response.score == 9
    assert response.created_at == first.created_at
    assert response.updated_at > first.updated_at
    # The rollup of the first day now counts a promoter, not a detractor.
    rollup = NpsDaily.objects.get(touchpoint=invited.touchpoint, date="2026-11-02")
    assert (rollup.promoters, rollup.detractors) == (1, 0)
    assert not NpsDaily.objects.filter(date="2026-11-05").exists()


def test_landing_page_shows_the_previous_answer(customer_client, invited):
    customer_client.post(f"/r/{invited.token}/", {"score": "7", "comment": "fine"})
    page = customer_client.get(f"/r/{invited.token}/")
    assert b'id="score-7" value="7" checked' in page.content
    assert b"You answered before" in page.content


def test_the_landing_page_says_the_chosen_score_is_not_sent_yet(customer_client, invited):
    """A score tapped in the email only chooses it (mail scanners open every link):
    the page says the answer still needs its tap on Send, in the customer's language."""
    page = customer_client.get(f"/r/{invited.token}/?score=3").content.decode()
    assert "Your score is not sent yet" in page
    assert (
        "Your score is not sent yet"
        not in customer_client.get(f"/r/{invited.token}/").content.decode()
    )
    customer_client.post(f"/r/{invited.token}/", {"score": "3", "comment": ""})
    # Coming back from another score link of the email: the new score is not sent yet.
    again = customer_client.get(f"/r/{invited.token}/?score=9").content.decode()
    assert "Your score is not sent yet" in again
    assert "check that your comment still says what you mean" in again
    same = customer_client.get(f"/r/{invited.token}/?score=3").content.decode()
    assert "not sent yet" not in same  # the score recorded
    invited.locale = "fr"
    invited.save()
    assert "Vous avez déjà répondu" in customer_client.get(f"/r/{invited.token}/").content.decode()


def test_public_link_takes_anonymous_responses(
    customer_client, touchpoint, django_capture_on_commit_callbacks
):
    page = customer_client.get(f"/s/{touchpoint.slug}/")
    assert page.status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        answer = customer_client.post(f"/s/{touchpoint.slug}/", {"score": "10", "comment": ""})
    assert answer.status_code == 302
    response = Response.objects.get()
    assert (response.score, response.person, response.invitation) == (10, None, None)
    assert NpsDaily.objects.get(touchpoint=touchpoint).promoters == 1
    # A public link takes a new answer each time (the next customer at the kiosk): the
    # thanks page does not offer to "change" this one.
    thanks = customer_client.get(answer["Location"]).content.decode()
    assert f'<a href="/s/{touchpoint.slug}/">Give another answer</a>' in thanks
    assert "Change my answer" not in thanks


def test_inactive_or_unknown_touchpoint_public_link_is_404(customer_client, touchpoint):
    assert customer_client.get("/s/nope/").status_code == 404
    touchpoint.active = False
    touchpoint.save()
    assert customer_client.post(f"/s/{touchpoint.slug}/", {"score": "5"}).status_code == 404
    assert Response.objects.count() == 0


def test_survey_page_is_in_the_invitation_locale(
    customer_client, touchpoint, django_capture_on_commit_callbacks
):
    person = services.person_upsert(email="jean@example.fr", name="Jean Martin", locale="fr")
    with django_capture_on_commit_callbacks(execute=True):
        invitation = services.invitation_create(person=person, touchpoint=touchpoint)
    assert "recommandiez" in mail.outbox[0].subject
    page = customer_client.get(f"/r/{invitation.token}/?score=8")
    assert b'lang="fr"' in page.content
    assert "Envoyer" in page.content.decode()


def test_comments_are_escaped_on_staff_pages(customer_client, touchpoint, employee, client):
    customer_client.post(
        f"/s/{touchpoint.slug}/", {"score": "2", "comment": "<script>alert('x')</script> & more"}
    )
    client.force_login(employee)
    page = client.get(f"/touchpoints/{touchpoint.slug}/").content.decode()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in page
