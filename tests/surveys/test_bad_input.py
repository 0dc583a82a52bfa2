"""Bad input gets a clear 4xx and writes nothing."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from surveys import services
from surveys.models import Invitation, NpsDaily, Response
from tests.factories import InvitationFactory


@pytest.fixture
def invitation(touchpoint):
    return InvitationFactory(touchpoint=touchpoint)


def assert_nothing_written():
    assert Response.objects.count() == 0
    assert NpsDaily.objects.count() == 0


@pytest.mark.parametrize(
    "score",
    ["11", "-1", "7.5", "seven", "", " ", "1e1", "100000", "٩", "²"],  # ASCII digits only
)
def test_score_that_is_not_an_integer_0_to_10_is_a_400(customer_client, invitation, score):
    page = customer_client.post(f"/r/{invitation.token}/", {"score": score, "comment": "x"})
    assert page.status_code == 400
    assert b"0 to 10" in page.content
    assert_nothing_written()


def test_missing_score_is_a_400(customer_client, touchpoint):
    page = customer_client.post(f"/s/{touchpoint.slug}/", {"comment": "no score"})
    assert page.status_code == 400
    assert b"Please choose a score" in page.content
    assert_nothing_written()


def test_comment_over_5000_characters_is_a_400_and_keeps_what_was_typed(
    customer_client, touchpoint
):
    page = customer_client.post(f"/s/{touchpoint.slug}/", {"score": "5", "comment": "a" * 5001})
    assert page.status_code == 400
    assert b"5001 characters" in page.content
    assert b'id="score-5" value="5" checked' in page.content
    assert_nothing_written()


def test_comment_of_exactly_5000_characters_is_accepted(customer_client, touchpoint):
    assert (
        customer_client.post(
            f"/s/{touchpoint.slug}/", {"score": "5", "comment": "a" * 5000}
        ).status_code
        == 302
    )
    assert len(Response.objects.get().comment) == 5000


def test_unknown_token_is_a_404(customer_client, db):
    for url in ("/r/not-a-token/", "/r/not-a-token/?score=3"):
        page = customer_client.get(url)
        assert page.status_code == 404
        assert b"not valid" in page.content
    assert customer_client.post("/r/not-a-token/", {"score": "3"}).status_code == 404
    assert_nothing_written()


def test_expired_token_is_a_410(customer_client, invitation):
    invitation.expires_at = timezone.now() - dt.timedelta(minutes=1)
    invitation.save()
    page = customer_client.post(f"/r/{invitation.token}/", {"score": "3"})
    assert page.status_code == 410
    assert b"expired" in page.content
    assert_nothing_written()


def test_skipped_invitation_link_is_a_410(customer_client, invitation):
    invitation.status = Invitation.Status.SKIPPED
    invitation.save()
    assert customer_client.get(f"/r/{invitation.token}/").status_code == 410


def test_missing_csrf_token_is_a_403(invitation, touchpoint):
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(f"/r/{invitation.token}/", {"score": "3"}).status_code == 403
    assert strict.post(f"/s/{touchpoint.slug}/", {"score": "3"}).status_code == 403
    assert_nothing_written()


def test_a_refused_csrf_check_tells_the_customer_what_to_do_in_their_language(touchpoint):
    strict = Client(enforce_csrf_checks=True)
    page = strict.post(f"/s/{touchpoint.slug}/", {"score": "3"}, HTTP_ACCEPT_LANGUAGE="fr")
    assert page.status_code == 403
    text = page.content.decode()
    assert '<html lang="fr">' in text
    assert "Ce formulaire n'a pas pu être envoyé" in text
    assert "Autorisez les cookies" in text  # no CSRF cookie was sent
    # Its way out is the survey it came from, not the staff login behind "/".
    assert f'href="/s/{touchpoint.slug}/">Rouvrir le formulaire</a>' in text
    # A cookie, but not the token of the page it came from (a stale form).
    strict.get(f"/s/{touchpoint.slug}/")
    page = strict.post(f"/s/{touchpoint.slug}/", {"score": "3", "csrfmiddlewaretoken": "x" * 64})
    assert page.status_code == 403
    assert "reload the page and send the form again" in page.content.decode()
    assert "cookie" not in page.content.decode().lower()
    assert_nothing_written()


def test_score_outside_0_10_is_refused_by_the_service_before_the_database(touchpoint):
    for bad in (11, -1, "x", True, 3.5):
        with pytest.raises(services.ValidationError):
            services.response_record(touchpoint=touchpoint, score=bad)
    assert_nothing_written()


def test_the_database_itself_refuses_a_score_of_11(touchpoint):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Response.objects.create(touchpoint=touchpoint, score=11, category="promoter", channel="web")


def test_answering_an_existing_response_with_bad_input_keeps_the_stored_answer(
    customer_client, invitation
):
    customer_client.post(f"/r/{invitation.token}/", {"score": "8", "comment": "good"})
    customer_client.post(f"/r/{invitation.token}/", {"score": "12", "comment": "changed"})
    response = Response.objects.get()
    assert (response.score, response.comment) == (8, "good")


@pytest.mark.parametrize(
    "path",
    ["/r/%00/", "/r/%00/thanks/", "/u/%00/", "/s/support-call/?score=%00", "/responses/?q=%00"],
)
def test_a_nul_character_in_the_address_is_a_400(customer_client, touchpoint, path):
    page = customer_client.get(path)
    assert page.status_code == 400
    assert "NUL character" in page.content.decode()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/v1/survey_responses.json?trend=%00"),
        ("get", "/v1/metrics.json?trend=%00"),
        ("delete", "/v1/people/email:%00.json"),
        ("get", "/api/responses/?touchpoint=%00"),
    ],
)
def test_a_nul_character_in_an_api_address_is_a_json_400(client, db, method, path):
    answer = getattr(client, method)(path)
    assert answer.status_code == 400
    assert answer.json()["status"] == 400 and "NUL" in answer.json()["message"]
