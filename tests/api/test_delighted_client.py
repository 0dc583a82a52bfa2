"""The acceptance test of the /v1/ API: Delighted's own Python client (delighted 4.2.0
from PyPI), unchanged, against a live CX Hub, for every endpoint it calls."""

import datetime as dt
import json

import pytest
from django.test import override_settings
from django.utils import timezone

from surveys.models import Invitation, Person, Response
from tests.api.conftest import METRICS_ALL_TIME
from tests.factories import InvitationFactory, PersonFactory, ResponseFactory

pytestmark = pytest.mark.django_db(transaction=True)

with __import__("warnings").catch_warnings():
    __import__("warnings").simplefilter("ignore", FutureWarning)  # "being sunset"
    import delighted
    from delighted import errors
    from delighted.http_adapter import HTTPAdapter


@pytest.fixture
def admin_dl(delighted_client, admin_key):
    return delighted_client(admin_key[1])


@pytest.fixture
def write_dl(delighted_client, write_key):
    return delighted_client(write_key[1])


@pytest.fixture
def read_dl(delighted_client, read_key):
    return delighted_client(read_key[1])


def ts(moment):
    return int(moment.timestamp())


@pytest.mark.parametrize("colon", [False, True], ids=["key (Python)", "key: (Node, Ruby)"])
def test_creating_a_person_schedules_their_survey_with_either_basic_form(
    delighted_client, write_key, touchpoint, colon
):
    client = delighted_client(write_key[1] + (":" if colon else ""))
    before = timezone.now()
    person = delighted.Person.create(
        client=client,
        email="jony@appleseed.com",
        name="Jony Appleseed",
        delay=86400,
        properties={"touchpoint": "support-call", "plan": "pro"},
    )
    assert isinstance(person, delighted.Person)
    stored = Person.objects.get(email="jony@appleseed.com")
    assert person.id == str(stored.pk) and person.email == "jony@appleseed.com"
    assert person.survey_scheduled_at >= ts(before + dt.timedelta(seconds=86400))
    assert person.properties == {"touchpoint": "support-call", "plan": "pro"}
    invitation = stored.invitations.get()
    assert invitation.status == Invitation.Status.SCHEDULED and invitation.touchpoint == touchpoint


def test_the_people_list_is_walked_to_the_end_through_link_headers(admin_dl, touchpoint):
    base = timezone.now() - dt.timedelta(days=1)
    Person.objects.bulk_create(
        [
            Person(email=f"p{i:02}@example.net", created_at=base + dt.timedelta(seconds=i))
            for i in range(45)
        ]
    )
    listing = delighted.Person.list(client=admin_dl, per_page=20)
    emails = [p.email for p in listing.auto_paging_iter()]
    assert emails == [f"p{i:02}@example.net" for i in range(45)]
    assert listing.iteration_count == 3  # 20 + 20 + 5, the last page without a next link
    assert all(
        isinstance(p, delighted.Person)
        for p in delighted.Person.list(client=admin_dl, since=ts(base) + 40).auto_paging_iter()
    )
    assert [
        p.email
        for p in delighted.Person.list(client=admin_dl, email="p07@example.net").auto_paging_iter()
    ] == ["p07@example.net"]


def test_deleting_a_person_erases_their_personal_data_and_keeps_the_nps(
    admin_dl, write_dl, touchpoint
):
    ann = PersonFactory(email="ann@example.net", phone="+33612345678")
    bob = PersonFactory(email="bob@example.net")
    cyd = PersonFactory(email="cyd@example.net")
    for person, score in [(ann, 2), (bob, 10), (cyd, 9)]:
        delighted.SurveyResponse.create(
            client=write_dl,
            person=str(person.pk),
            score=score,
            comment=f"{person.email} says hi",
            person_properties={"customer_id": person.email},
        )
    metrics = delighted.Metrics.retrieve(client=admin_dl)
    assert (metrics.nps, metrics.response_count) == (33, 3)

    assert delighted.Person.delete(client=admin_dl, email="ann@example.net") == {"ok": True}
    assert delighted.Person.delete(client=admin_dl, id=bob.pk) == {"ok": True}
    with pytest.raises(errors.GeneralAPIError) as missing:
        delighted.Person.delete(client=admin_dl, email="ann@example.net")
    assert missing.value.response.status_code == 404

    assert dict(delighted.Metrics.retrieve(client=admin_dl)) == dict(metrics)
    assert Response.objects.count() == 3
    kept = {r.score: r for r in Response.objects.all()}
    for score in (2, 10):
        assert kept[score].person is None and kept[score].comment == ""
        assert kept[score].properties == {}
    assert kept[9].comment == "cyd@example.net says hi"
    assert not Person.objects.filter(email__in=["ann@example.net", "bob@example.net"]).exists()
    answers = {a.score: a for a in delighted.SurveyResponse.all(client=admin_dl, expand=["person"])}
    for score in (2, 10):
        assert answers[score].person is None and answers[score].comment is None
        assert answers[score].person_properties == {}
    assert answers[9].person.email == "cyd@example.net"


def test_deleting_by_phone_number_erases_the_person(admin_dl, touchpoint):
    person = PersonFactory(email="", phone="+33612345678")
    assert delighted.Person.delete(client=admin_dl, phone_number="+33612345678") == {"ok": True}
    assert not Person.objects.filter(pk=person.pk).exists()


def test_pending_survey_requests_are_cancelled(write_dl, touchpoint):
    person = PersonFactory(email="later@example.net")
    pending = InvitationFactory(
        person=person,
        touchpoint=touchpoint,
        status=Invitation.Status.SCHEDULED,
        sent_at=None,
        scheduled_for=timezone.now() + dt.timedelta(days=3),
    )
    got = delighted.SurveyRequest.delete_pending(client=write_dl, person_email="later@example.net")
    assert got == {"ok": True}
    pending.refresh_from_db()
    assert pending.status == Invitation.Status.CANCELLED


def test_survey_responses_are_created_listed_retrieved_and_saved(admin_dl, write_dl, touchpoint):
    person = PersonFactory(email="resp@example.net", name="Res Pondent")
    created = delighted.SurveyResponse.create(
        client=write_dl,
        person=str(person.pk),
        score=6,
        comment="Meh",
        person_properties={"plan": "pro"},
    )
    assert isinstance(created, delighted.SurveyResponse)
    # A write key reads no personal data back, not even the person's id.
    assert (created.score, created.comment, created.person, created.survey_type) == (
        6,
        "Meh",
        None,
        "nps",
    )
    assert Response.objects.get(pk=created.id).person == person
    assert created.person_properties is None  # a write key reads no personal data
    assert Response.objects.get(pk=created.id).properties == {"plan": "pro"}
    old = ResponseFactory(
        touchpoint=touchpoint, score=9, created_at=timezone.now() - dt.timedelta(days=10)
    )

    everything = delighted.SurveyResponse.all(client=admin_dl)
    assert [r.id for r in everything] == [str(old.pk), created.id]  # oldest first
    recent = delighted.SurveyResponse.all(
        client=admin_dl,
        since=timezone.now() - dt.timedelta(days=1),  # the client encodes it as Unix seconds
        order="desc",
        expand=["person"],
        per_page=5,
        page=1,
    )
    assert [r.id for r in recent] == [created.id]
    assert isinstance(recent[0].person, delighted.Person)
    assert recent[0].person.email == "resp@example.net"
    assert delighted.SurveyResponse.all(client=admin_dl, per_page=1, page=3) == []

    one = delighted.SurveyResponse.retrieve(created.id, client=admin_dl, expand=["person"])
    assert one.person.name == "Res Pondent"
    one.score = 10
    one.comment = "Much better after the call"
    saved = one.save(client=write_dl)
    assert (saved.score, saved.comment) == (10, "Much better after the call")
    response = Response.objects.get(pk=int(created.id))
    assert (response.score, response.category) == (10, "promoter")
    assert saved.updated_at >= saved.created_at


def test_the_client_saving_a_response_with_a_write_key_keeps_its_contact_details(
    write_dl, touchpoint
):
    comment = "Call me back on +33 6 12 34 56 78 please"
    stored = ResponseFactory(
        touchpoint=touchpoint, person=PersonFactory(), score=2, comment=comment
    )
    one = delighted.SurveyResponse.retrieve(str(stored.pk), client=write_dl)
    assert one.comment == "Call me back on [hidden] please"
    one.score = 6
    saved = one.save(client=write_dl)
    assert saved.score == 6
    stored.refresh_from_db()
    assert (stored.score, stored.comment) == (6, comment)


def test_metrics_are_computed_over_since_until_and_a_trend(read_dl, metrics_history):
    now = metrics_history
    metrics = delighted.Metrics.retrieve(client=read_dl)
    assert dict(metrics) == METRICS_ALL_TIME
    recent = delighted.Metrics.retrieve(client=read_dl, since=now - dt.timedelta(days=30))
    assert (recent.nps, recent.response_count) == (25, 4)
    billing = delighted.Metrics.retrieve(client=read_dl, trend="billing", until=now)
    assert (billing.nps, billing.detractor_count) == (-100, 1)


def test_unsubscribes_are_created_and_listed(admin_dl, write_dl, touchpoint):
    assert delighted.Unsubscribe.create(client=write_dl, person_email="stop@example.net") == {
        "ok": True
    }
    listed = delighted.Unsubscribe.all(client=admin_dl)
    assert [u.email for u in listed] == ["stop@example.net"]
    assert Person.objects.get(email="stop@example.net").unsubscribed_at is not None
    again = delighted.Person.create(client=write_dl, email="stop@example.net")
    assert again.survey_scheduled_at is None  # never surveyed once unsubscribed


def test_bounces_are_listed(admin_dl, touchpoint):
    moment = timezone.now().replace(microsecond=0) - dt.timedelta(days=1)
    PersonFactory(email="ok@example.net")
    bounced = PersonFactory(email="dead@example.net", bounced_at=moment)
    listed = delighted.Bounce.all(client=admin_dl)
    assert [(b.person_id, b.email, b.bounced_at) for b in listed] == [
        (str(bounced.pk), "dead@example.net", ts(moment))
    ]
    assert delighted.Bounce.all(client=admin_dl, since=ts(moment) + 1) == []


def test_a_throttled_client_gets_too_many_requests_with_an_integer_retry_after(read_dl, touchpoint):
    from django.conf import settings

    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "v1": "2/min"}
    with override_settings(
        REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    ):
        delighted.Metrics.retrieve(client=read_dl)
        delighted.Metrics.retrieve(client=read_dl)
        with pytest.raises(errors.TooManyRequestsError) as throttled:
            delighted.Metrics.retrieve(client=read_dl)
    assert isinstance(throttled.value.retry_after, int)
    assert 1 <= throttled.value.retry_after <= 60
    assert json.loads(throttled.value.response.body)["status"] == 429


def test_validation_errors_are_resource_validation_errors_with_delighteds_body(
    write_dl, touchpoint
):
    person = PersonFactory()
    with pytest.raises(errors.ResourceValidationError) as invalid:
        delighted.SurveyResponse.create(client=write_dl, person=str(person.pk), score=11)
    body = json.loads(invalid.value.response.body)
    assert body["status"] == 422 and body["message"] == "Unprocessable Entity"
    assert list(body["errors"]) == ["score"]
    with pytest.raises(errors.ResourceValidationError) as no_address:
        delighted.Person.create(client=write_dl, name="Nobody")
    assert "email" in json.loads(no_address.value.response.body)["errors"]
    assert not Response.objects.exists()


def test_a_bad_key_is_an_authentication_error(delighted_client, touchpoint):
    with pytest.raises(errors.AuthenticationError) as denied:
        delighted.Metrics.retrieve(client=delighted_client("cxh_wrong"))
    assert denied.value.response.status_code == 401


class _HtmlAcceptingAdapter(HTTPAdapter):
    """The client's own adapter, asking for HTML instead of JSON."""

    def request(self, method, uri, headers={}, data=None, params=None):  # noqa: B006 (the client's signature)
        return super().request(method, uri, {**headers, "Accept": "text/html"}, data, params)


def test_asking_for_html_is_an_unsupported_format_error(live_server, read_key, touchpoint):
    client = delighted.Client(
        api_key=read_key[1],
        api_base_url=f"{live_server.url}/v1/",
        http_adapter=_HtmlAcceptingAdapter(),
    )
    with pytest.raises(errors.UnsupportedFormatRequestedError) as refused:
        delighted.Metrics.retrieve(client=client)
    assert refused.value.response.status_code == 406
