"""The praise wall and customer shout-outs."""

import pytest

from recognition import services
from recognition.models import Postcard, Profile, ShoutOut
from surveys import services as survey_services
from tests.factories import MembershipFactory, UserFactory


@pytest.fixture
def promoter(touchpoint, django_capture_on_commit_callbacks):
    def _promoter(comment, score=10, name="Marie-Claire Dubois", email="marie@example.net"):
        phone = "+33611223344" if email == "marie@example.net" else ""
        person = survey_services.person_upsert(email=email, name=name, phone=phone)
        with django_capture_on_commit_callbacks(execute=True):
            return survey_services.response_record(
                touchpoint=touchpoint, score=score, comment=comment, person=person
            )

    return _promoter


def test_praise_wall_shows_promoter_comments_without_contact_details(client, employee, promoter):
    promoter("Wonderful, quick and kind")
    promoter("Bad", score=3, email="angry@example.net")
    client.force_login(employee)
    html = client.get("/champions/praise/").content.decode()
    assert "Wonderful, quick and kind" in html
    assert "Marie-Claire D." in html
    for leak in ("Dubois", "marie@example.net", "+33611223344", "Bad<"):
        assert leak not in html


def test_praise_older_than_30_days_is_not_shown(client, employee, promoter, time_machine):
    time_machine.move_to("2026-10-01 10:00 +02:00")
    promoter("Old praise")
    time_machine.move_to("2026-11-05 10:00 +01:00")
    client.force_login(employee)
    assert b"Old praise" not in client.get("/champions/praise/").content


def test_only_cx_admins_take_a_comment_off_the_wall(client, employee, cx_admin, promoter):
    response = promoter("Please do not show this")
    client.force_login(employee)
    assert client.post(f"/champions/praise/{response.pk}/exclude/").status_code == 403
    client.force_login(cx_admin)
    assert (
        client.post(f"/champions/praise/{response.pk}/exclude/", HTTP_HX_REQUEST="true").status_code
        == 200
    )
    assert b"Please do not show this" not in client.get("/champions/praise/").content


def _staff(username, first, last, team, role="employee"):
    user = UserFactory(username=username, first_name=first, last_name=last)
    MembershipFactory(user=user, team=team, role=role)
    return user


def test_a_comment_naming_an_employee_proposes_a_postcard_to_their_lead(promoter, team_a, lead_a):
    sarah = _staff("sarah", "Sarah", "Lopez", team_a)
    response = promoter("Sarah Lopez on the phone was brilliant!")
    shoutout = ShoutOut.objects.get(response=response)
    assert list(shoutout.candidates.all()) == [sarah]
    assert shoutout.lead == lead_a


def test_accents_and_case_do_not_stop_a_match(promoter, team_a, lead_a):
    chloe = _staff("chloe", "Chloé", "Dupont", team_a)
    promoter("merci à chloe DUPONT !")
    assert list(ShoutOut.objects.get().candidates.all()) == [chloe]


def test_a_nickname_the_employee_set_matches(promoter, team_a, lead_a):
    ben = _staff("benjamin", "Benjamin", "Roux", team_a)
    Profile.objects.create(user=ben, nickname="Benji")
    promoter("Benji fixed everything in minutes")
    assert list(ShoutOut.objects.get().candidates.all()) == [ben]


def test_a_name_matching_several_people_is_not_guessed(promoter, team_a, team_b, lead_a):
    one = _staff("tom1", "Tom", "Martin", team_a)
    two = _staff("tom2", "Tom", "Martin", team_b)
    promoter("Tom Martin was great")
    shoutout = ShoutOut.objects.get()
    assert set(shoutout.candidates.all()) == {one, two}
    # The lead of the touchpoint's team chooses.
    assert shoutout.lead == lead_a
    with pytest.raises(services.RecognitionError, match="choose who the customer meant"):
        services.shoutout_publish(shoutout=shoutout, by=lead_a)
    postcard = services.shoutout_publish(shoutout=shoutout, by=lead_a, recipient=two)
    assert postcard.recipient == two


def test_no_match_and_first_names_alone_propose_nothing(promoter, team_a, lead_a):
    _staff("sarah", "Sarah", "Lopez", team_a)
    promoter("Sarah was nice")
    promoter("Great shop, nobody named")
    promoter("Sarah Lopez was rude", score=4)  # not a promoter
    assert ShoutOut.objects.count() == 0


def test_the_lead_publishes_in_one_click_and_only_once(client, promoter, team_a, lead_a, manager_a):
    sarah = _staff("sarah", "Sarah", "Lopez", team_a)
    promoter("Sarah Lopez was brilliant")
    shoutout = ShoutOut.objects.get()
    client.force_login(manager_a)
    assert client.post(f"/champions/shout-outs/{shoutout.pk}/publish/").status_code == 404
    client.force_login(lead_a)
    page = client.post(f"/champions/shout-outs/{shoutout.pk}/publish/", HTTP_HX_REQUEST="true")
    assert page.status_code == 200
    assert b"Published" in page.content
    postcard = Postcard.objects.get()
    assert (postcard.recipient, postcard.sender, postcard.from_customer) == (sarah, lead_a, True)
    assert "Marie-Claire D. wrote" in postcard.message
    assert (
        client.post(
            f"/champions/shout-outs/{shoutout.pk}/publish/", HTTP_HX_REQUEST="true"
        ).status_code
        == 400
    )
    assert Postcard.objects.count() == 1


def test_suggesting_twice_creates_nothing_new(promoter, team_a, lead_a):
    _staff("sarah", "Sarah", "Lopez", team_a)
    response = promoter("Sarah Lopez was brilliant")
    services.shoutouts_suggest(response_id=response.pk)
    assert ShoutOut.objects.count() == 1
