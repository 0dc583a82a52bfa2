"""The Delighted-compatible /v1/ API at its edges, through Django's test client: paths
with and without .json, form-encoded bodies, unknown parameters, scopes and
outsiders, Delighted's statuses and error bodies, and what CX Hub does behind each
call (invitations, quiet period, pending cancellations, rollup-backed metrics, bounces,
erasure)."""

import datetime as dt
import socketserver
import threading
from urllib.parse import urlencode

import pytest
import time_machine
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from cxhub import services as cxhub_services
from feedback import services as feedback_services
from feedback.models import CaseEvent, ContactAttempt, FollowUpCase
from surveys import services
from surveys.models import Invitation, Person, Response
from tests.api.conftest import METRICS_ALL_TIME, basic_client, key_client
from tests.factories import InvitationFactory, PersonFactory, ResponseFactory, TouchpointFactory

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def admin_v1(admin_key):
    return basic_client(admin_key[1], colon=False)


@pytest.fixture
def write_v1(write_key):
    return basic_client(write_key[1])


@pytest.fixture
def read_v1(read_key):
    return basic_client(read_key[1])


def ts(moment):
    return int(moment.timestamp())


# --- paths, bodies, parameters ------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".json"])
def test_every_endpoint_answers_with_and_without_the_json_suffix(admin_v1, touchpoint, suffix):
    person = PersonFactory(email="ann@example.net")
    response = ResponseFactory(touchpoint=touchpoint, person=person, score=9)
    for path in ["people", "survey_responses", "metrics", "unsubscribes", "bounces"]:
        got = admin_v1.get(f"/v1/{path}{suffix}")
        assert got.status_code == 200, path
        assert got["Content-Type"] == "application/json"
    assert admin_v1.get(f"/v1/survey_responses/{response.pk}{suffix}").json()["id"] == str(
        response.pk
    )
    assert (
        admin_v1.delete(f"/v1/people/ann%40example.net/survey_requests/pending{suffix}").status_code
        == 200
    )
    assert admin_v1.delete(f"/v1/people/email%3Aann%40example.net{suffix}").status_code == 202
    assert not Person.objects.filter(pk=person.pk).exists()


def test_a_form_encoded_person_with_bracketed_properties_is_surveyed_at_the_named_touchpoint(
    write_v1, touchpoint, touchpoint_b
):
    body = urlencode(
        {
            "email": "Jony@Appleseed.com",
            "name": "Jony Appleseed",
            "properties[touchpoint]": "billing",
            "properties[plan]": "pro",
            "delay": "3600",
        }
    )
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False):
        got = write_v1.post("/v1/people.json", body, content_type=FORM)
    assert got.status_code == 200
    data = got.json()
    person = Person.objects.get(email="jony@appleseed.com")
    assert data["id"] == str(person.pk)
    assert data["email"] == "jony@appleseed.com" and data["name"] == "Jony Appleseed"
    assert data["survey_scheduled_at"] == ts(dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC))
    assert data["properties"] == {"touchpoint": "billing", "plan": "pro"}
    invitation = person.invitations.get()
    assert invitation.touchpoint == touchpoint_b
    assert invitation.status == Invitation.Status.SCHEDULED
    assert invitation.properties["plan"] == "pro"


def test_a_form_encoded_survey_response_is_recorded(write_v1, touchpoint):
    person = PersonFactory()
    body = urlencode({"person": str(person.pk), "score": "3", "comment": "Slow <b>refund</b>"})
    got = write_v1.post("/v1/survey_responses", body, content_type=FORM)
    assert got.status_code == 200
    response = Response.objects.get(pk=int(got.json()["id"]))
    assert response.score == 3 and response.person == person
    assert response.comment == "Slow <b>refund</b>"  # stored as given, escaped where shown
    assert FollowUpCase.objects.filter(response=response).exists()  # a detractor's case


def test_unknown_query_parameters_are_ignored(read_v1, touchpoint):
    ResponseFactory(touchpoint=touchpoint, score=10)
    got = read_v1.get("/v1/survey_responses.json", {"utm_source": "x", "groups[]": "core"})
    assert got.status_code == 200 and len(got.json()) == 1
    assert read_v1.get("/v1/metrics", {"groups[]": "email", "foo": "1"}).json()["nps"] == 100


def test_expand_works_in_the_node_clients_form_too(admin_v1, touchpoint):
    person = PersonFactory(email="node@example.net")
    ResponseFactory(touchpoint=touchpoint, person=person, score=9)
    bracket = admin_v1.get("/v1/survey_responses", {"expand[]": "person"}).json()
    plain = admin_v1.get("/v1/survey_responses", {"expand": "person"}).json()
    assert bracket[0]["person"]["email"] == plain[0]["person"]["email"] == "node@example.net"


def test_an_unknown_path_and_an_unknown_id_are_json_404s(read_v1, touchpoint):
    for path in ["/v1/nothing", "/v1/survey_responses/999999"]:
        got = read_v1.get(path)
        assert got.status_code == 404
        assert got.json()["status"] == 404


# --- authentication and scopes --------------------------------------------------------------


def test_without_a_key_the_answer_is_401_with_a_basic_challenge(anon, touchpoint):
    for method, path in [("get", "/v1/metrics"), ("post", "/v1/people"), ("get", "/v1/people")]:
        got = getattr(anon, method)(path)
        assert got.status_code == 401
        assert got["WWW-Authenticate"].startswith("Basic")
        assert got.json()["status"] == 401


def test_outsiders_get_401_bad_key_revoked_key_bearer_header_or_staff_session(
    client, read_key, cx_admin, touchpoint
):
    assert basic_client("cxh_not-a-key").get("/v1/metrics").status_code == 401
    key, raw = read_key
    cxhub_services.api_key_revoke(api_key=key)
    assert basic_client(raw).get("/v1/metrics").status_code == 401
    # /v1/ speaks HTTP Basic only, like Delighted: no Bearer, no staff session.
    _, other = cxhub_services.api_key_create(name="x", scope="admin", created_by=cx_admin)
    assert key_client(other).get("/v1/metrics").status_code == 401
    client.force_login(cx_admin)
    assert client.get("/v1/metrics").status_code == 401


def test_both_basic_forms_authenticate(read_key, touchpoint):
    raw = read_key[1]
    assert basic_client(raw, colon=True).get("/v1/metrics").status_code == 200
    assert basic_client(raw, colon=False).get("/v1/metrics").status_code == 200


@pytest.mark.parametrize(
    "method, path, data, needs",
    [
        ("get", "/v1/metrics", None, "read"),
        ("get", "/v1/survey_responses", None, "read"),
        ("get", "/v1/survey_responses?expand[]=person", None, "admin"),
        ("get", "/v1/survey_responses?expand[]=notes", None, "admin"),
        ("get", "/v1/survey_responses?person_email=a@example.net", None, "admin"),
        ("get", "/v1/people", None, "admin"),
        ("get", "/v1/unsubscribes", None, "admin"),
        ("get", "/v1/bounces", None, "admin"),
        ("post", "/v1/people", {"email": "new@example.net", "send": False}, "write"),
        ("post", "/v1/unsubscribes", {"person_email": "u@example.net"}, "write"),
        ("delete", "/v1/people/a%40example.net/survey_requests/pending", None, "write"),
        ("delete", "/v1/people/email%3Aa%40example.net", None, "admin"),
    ],
)
def test_each_endpoint_needs_its_scope(make_key, touchpoint, method, path, data, needs):
    PersonFactory(email="a@example.net")
    order = ["read", "write", "admin"]
    for scope in order:
        client = basic_client(make_key(scope, f"{scope} key")[1])
        kwargs = {"data": data, "format": "json"} if data is not None else {}
        got = getattr(client, method)(path, **kwargs)
        if order.index(scope) < order.index(needs):
            assert got.status_code == 403, (scope, got.content)
            assert f"'{needs}'" in got.json()["message"] or "admin" in got.json()["message"]
        else:
            assert got.status_code in (200, 202), (scope, got.content)


def test_creating_a_response_needs_write_and_updating_it_too(make_key, touchpoint):
    person = PersonFactory()
    response = ResponseFactory(touchpoint=touchpoint, person=person, score=8)
    read = basic_client(make_key("read")[1])
    write = basic_client(make_key("write", "w")[1])
    body = {"person": str(person.pk), "score": 9}
    assert read.post("/v1/survey_responses", body, format="json").status_code == 403
    assert read.put(f"/v1/survey_responses/{response.pk}", body, format="json").status_code == 403
    assert Response.objects.count() == 1
    assert write.post("/v1/survey_responses", body, format="json").status_code == 200
    assert write.put(f"/v1/survey_responses/{response.pk}", body, format="json").status_code == 200


def test_a_write_key_sees_back_only_what_it_sent_about_a_known_person(write_v1, touchpoint):
    PersonFactory(email="known@example.net", name="Private Name", phone="+33612345678")
    got = write_v1.post("/v1/people", {"email": "known@example.net", "send": False}, format="json")
    data = got.json()
    assert data["email"] == "known@example.net"
    assert data["name"] is None and data["phone_number"] is None


# --- content negotiation and errors -----------------------------------------------------


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "text/csv"])
def test_asking_for_anything_but_json_is_406(read_v1, touchpoint, accept):
    got = read_v1.get("/v1/metrics", HTTP_ACCEPT=accept)
    assert got.status_code == 406
    assert got.json()["status"] == 406


@pytest.mark.parametrize("accept", ["*/*", "application/json", "application/*", None])
def test_json_any_type_or_no_accept_header_are_fine(read_v1, touchpoint, accept):
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    assert read_v1.get("/v1/metrics", **headers).status_code == 200


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "No address"}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@example.net", "channel": "pigeon"}, "channel"),
        ({"email": "a@example.net", "channel": "sms"}, "phone_number"),
        ({"phone_number": "12"}, "phone_number"),
        ({"email": "a@example.net", "delay": -5}, "delay"),
        ({"email": "a@example.net", "delay": "soon"}, "delay"),
        ({"email": "a@example.net", "send": "maybe"}, "send"),
        # Not a string or a boolean: refused, not read as its truthiness.
        ({"email": "a@example.net", "channel": []}, "channel"),
        ({"email": "a@example.net", "channel": {}}, "channel"),
        ({"email": "a@example.net", "channel": 0}, "channel"),
        ({"email": "a@example.net", "channel": False}, "channel"),
        ({"email": "a@example.net", "channel": ["sms"]}, "channel"),
        ({"email": "a@example.net", "send": -0.0}, "send"),
        ({"email": "a@example.net", "send": 1.0}, "send"),
        ({"email": "a@example.net", "send": []}, "send"),
        ({"email": "a@example.net", "properties": ["x"]}, "properties"),
        (
            {"email": "a@example.net", "properties": {"touchpoint": "nope"}},
            "properties[touchpoint]",
        ),
        ({"email": "a@example.net", "last_sent_at": "yesterday"}, "last_sent_at"),
        ({"email": "a@example.net", "last_sent_at": 4_000_000_000}, "last_sent_at"),
    ],
)
def test_bad_people_get_422_naming_the_field_and_nothing_is_written(
    write_v1, touchpoint, body, field
):
    got = write_v1.post("/v1/people", body, format="json")
    assert got.status_code == 422
    data = got.json()
    assert data["status"] == 422 and data["message"] == "Unprocessable Entity"
    assert field in data["errors"] and all(isinstance(m, str) for m in data["errors"][field])
    assert not Person.objects.exists() and not Invitation.objects.exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"score": 9}, "person"),
        ({"person": "999999", "score": 9}, "person"),
        ({"person": "PERSON", "score": 9}, "person"),
        ({"person": "{p}"}, "score"),
        ({"person": "{p}", "score": 11}, "score"),
        ({"person": "{p}", "score": "nine"}, "score"),
        ({"person": "{p}", "score": 9, "comment": "x" * 5001}, "comment"),
        ({"person": "{p}", "score": 9, "created_at": 4_000_000_000}, "created_at"),
        ({"person": "{p}", "score": 9, "created_at": 0}, "created_at"),  # 1970: before 2000
        ({"person": "{p}", "score": 9, "created_at": 946684799}, "created_at"),  # 1999-12-31
        (
            {"person": "{p}", "score": 9, "person_properties": {"touchpoint": "x"}},
            "person_properties[touchpoint]",
        ),
    ],
)
def test_bad_survey_responses_get_422_and_nothing_is_recorded(write_v1, touchpoint, body, field):
    person = PersonFactory()
    body = {k: (str(person.pk) if v == "{p}" else v) for k, v in body.items()}
    got = write_v1.post("/v1/survey_responses", body, format="json")
    assert got.status_code == 422, got.content
    assert field in got.json()["errors"]
    assert not Response.objects.exists()


@pytest.mark.parametrize(
    "params, field",
    [
        ({"since": "last week"}, "since"),
        ({"until": "-1"}, "until"),
        ({"order": "random"}, "order"),
        ({"trend": "no-such-touchpoint"}, "trend"),
        ({"per_page": "0"}, "per_page"),
        ({"page": "x"}, "page"),
    ],
)
def test_bad_list_parameters_get_422(read_v1, touchpoint, params, field):
    got = read_v1.get("/v1/survey_responses", params)
    assert got.status_code == 422 and field in got.json()["errors"]


def test_a_malformed_json_body_is_a_400_that_says_so(write_v1, touchpoint):
    got = write_v1.post("/v1/people", "{not json", content_type="application/json")
    assert got.status_code == 400 and "JSON" in got.json()["message"]


# --- people: what happens behind the call ---------------------------------------------


def test_send_false_saves_the_person_without_a_survey(write_v1, touchpoint):
    got = write_v1.post(
        "/v1/people", {"email": "quiet@example.net", "send": "false"}, format="json"
    )
    assert got.json()["survey_scheduled_at"] is None
    assert Person.objects.filter(email="quiet@example.net").exists()
    assert not Invitation.objects.exists()


def test_the_quiet_period_is_honoured_and_the_answer_says_so(write_v1, touchpoint):
    body = {"email": "often@example.net"}
    first = write_v1.post("/v1/people", body, format="json").json()
    assert first["survey_scheduled_at"] is not None and first["survey_skipped_reason"] is None
    second = write_v1.post("/v1/people", body, format="json").json()
    assert second["survey_scheduled_at"] is None
    assert second["survey_skipped_reason"] == "quiet_period"
    assert list(Invitation.objects.order_by("pk").values_list("status", flat=True)) == [
        Invitation.Status.SCHEDULED,  # sent after commit
        Invitation.Status.SKIPPED,
    ]


def test_last_sent_at_inside_the_quiet_period_skips_the_survey(write_v1, touchpoint):
    recently = ts(timezone.now() - dt.timedelta(days=3))
    long_ago = ts(timezone.now() - dt.timedelta(days=90))
    got = write_v1.post(
        "/v1/people", {"email": "a@example.net", "last_sent_at": recently}, format="json"
    ).json()
    assert got["survey_skipped_reason"] == "quiet_period"
    got = write_v1.post(
        "/v1/people", {"email": "b@example.net", "last_sent_at": long_ago}, format="json"
    ).json()
    assert got["survey_skipped_reason"] is None and got["survey_scheduled_at"] is not None


def test_an_unsubscribed_person_is_not_surveyed(write_v1, touchpoint):
    services.person_unsubscribe(person=PersonFactory(email="gone@example.net"))
    got = write_v1.post("/v1/people", {"email": "gone@example.net"}, format="json").json()
    assert got["survey_scheduled_at"] is None and got["survey_skipped_reason"] == "unsubscribed"


def test_an_sms_survey_goes_to_the_phone_number(write_v1, touchpoint):
    got = write_v1.post(
        "/v1/people", {"phone_number": "+33 6 12 34 56 78", "channel": "sms"}, format="json"
    )
    assert got.status_code == 200
    invitation = Invitation.objects.get()
    assert invitation.channel == "sms" and invitation.person.phone == "+33612345678"


def test_the_default_touchpoint_setting_then_the_oldest_active_one_is_used(write_v1, team_a):
    with time_machine.travel(dt.datetime(2026, 1, 1, tzinfo=dt.UTC)):
        old = TouchpointFactory(slug="onboarding", owner_team=team_a)
    TouchpointFactory(slug="renewal", owner_team=team_a)
    write_v1.post("/v1/people", {"email": "a@example.net"}, format="json")
    with override_settings(DELIGHTED_DEFAULT_TOUCHPOINT="renewal"):
        write_v1.post("/v1/people", {"email": "b@example.net"}, format="json")
    by_email = {i.person.email: i.touchpoint.slug for i in Invitation.objects.all()}
    assert by_email == {"a@example.net": old.slug, "b@example.net": "renewal"}


def test_without_an_active_touchpoint_creating_a_person_with_a_survey_is_422(write_v1, db):
    TouchpointFactory(slug="closed", active=False)
    got = write_v1.post("/v1/people", {"email": "a@example.net"}, format="json")
    assert got.status_code == 422 and "touchpoint" in got.json()["errors"]
    assert not Person.objects.exists()


def test_a_phone_number_that_belongs_to_someone_else_is_422(write_v1, touchpoint):
    PersonFactory(email="first@example.net", phone="+33612345678")
    got = write_v1.post(
        "/v1/people",
        {"email": "second@example.net", "phone_number": "+33612345678", "send": False},
        format="json",
    )
    assert got.status_code == 422 and "phone_number" in got.json()["errors"]
    assert not Person.objects.filter(email="second@example.net").exists()


def test_people_are_filtered_by_email_phone_and_creation_time(admin_v1, touchpoint):
    with time_machine.travel(dt.datetime(2026, 2, 1, 12, 0, tzinfo=dt.UTC)):
        PersonFactory(email="feb@example.net", phone="+33612345678")
    with time_machine.travel(dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)):
        PersonFactory(email="mar@example.net")
    march = ts(dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC))

    def emails(params):
        return [p["email"] for p in admin_v1.get("/v1/people", params).json()]

    assert emails({}) == ["feb@example.net", "mar@example.net"]  # oldest first
    assert emails({"email": "MAR@example.net"}) == ["mar@example.net"]
    assert emails({"phone_number": "+33612345678"}) == ["feb@example.net"]
    assert emails({"since": march}) == ["mar@example.net"]
    assert emails({"until": march - 1}) == ["feb@example.net"]
    assert emails({"until": march}) == ["feb@example.net", "mar@example.net"]  # inclusive


def test_a_person_shows_when_they_were_last_surveyed_answered_and_are_next_scheduled(
    admin_v1, touchpoint
):
    person = PersonFactory()
    sent = timezone.now() - dt.timedelta(days=40)
    InvitationFactory(person=person, touchpoint=touchpoint, sent_at=sent)
    later = timezone.now() + dt.timedelta(days=2)
    InvitationFactory(
        person=person, touchpoint=touchpoint, status="scheduled", sent_at=None, scheduled_for=later
    )
    answered = timezone.now() - dt.timedelta(days=39)
    ResponseFactory(touchpoint=touchpoint, person=person, created_at=answered)
    data = admin_v1.get("/v1/people").json()[0]
    assert data["last_sent_at"] == ts(sent)
    assert data["last_responded_at"] == ts(answered)
    assert data["next_survey_scheduled_at"] == ts(later)
    assert isinstance(data["id"], str) and isinstance(data["created_at"], int)


def test_per_page_is_20_by_default_and_at_most_100(admin_v1, touchpoint):
    Person.objects.bulk_create(
        [Person(email=f"p{i}@example.net", created_at=timezone.now()) for i in range(120)]
    )
    first = admin_v1.get("/v1/people")
    assert len(first.json()) == 20 and 'rel="next"' in first["Link"]
    assert first["Link"].startswith("<http://testserver/v1/people?")
    assert len(admin_v1.get("/v1/people", {"per_page": 500}).json()) == 100


def test_a_forged_cursor_is_422(admin_v1, touchpoint):
    import base64

    for forged in (
        "garbage",
        base64.b64encode(b"p=garbage").decode(),
        base64.b64encode(b"p=2026-01-01T00:00:00+23:59|1").decode(),  # the database errs
        base64.b64encode(b"o=5&p=2026-01-01T00:00:00+00:00|1").decode(),
    ):
        got = admin_v1.get("/v1/people", {"page_info": forged})
        assert got.status_code == 422 and "page_info" in got.json()["errors"], forged


def test_walking_the_link_headers_gives_every_person_once_however_many_share_a_created_at(
    admin_v1, touchpoint
):
    """An import creates its people with one created_at: past 1,000 of them, DRF's
    offset cursor served the same page for ever (the Delighted client never stopped)."""
    same = timezone.now()
    Person.objects.bulk_create(
        [Person(email=f"p{i}@example.net", created_at=same) for i in range(1250)]
    )
    seen, url, pages = [], "/v1/people.json?per_page=100", 0
    while url and pages < 20:
        answer = admin_v1.get(url)
        seen += [p["id"] for p in answer.json()]
        link = answer.get("Link")
        url = link[1 : link.index(">")] if link else None
        pages += 1
    assert url is None and pages == 13
    assert len(seen) == len(set(seen)) == 1250


def test_cancelling_pending_surveys_cancels_only_the_scheduled_ones(write_v1, touchpoint):
    person = PersonFactory(email="p@example.net")
    sent = InvitationFactory(person=person, touchpoint=touchpoint)
    later = InvitationFactory(
        person=person,
        touchpoint=touchpoint,
        status="scheduled",
        sent_at=None,
        scheduled_for=timezone.now() + dt.timedelta(days=1),
    )
    got = write_v1.delete("/v1/people/p%40example.net/survey_requests/pending")
    assert got.status_code == 200 and got.json() == {"ok": True}
    sent.refresh_from_db()
    later.refresh_from_db()
    assert sent.status == "sent" and later.status == "cancelled"
    services.invitations_send_due(now=timezone.now() + dt.timedelta(days=2))
    later.refresh_from_db()
    assert later.status == "cancelled" and later.sent_at is None


def test_cancelling_for_an_unknown_email_answers_as_for_a_customer(write_v1, touchpoint):
    # A 404 would tell a write key who is a customer and who is not.
    got = write_v1.delete("/v1/people/nobody%40example.net/survey_requests/pending")
    assert got.status_code == 200 and got.json() == {"ok": True}


# --- survey responses ------------------------------------------------------------------


def test_survey_responses_filter_order_and_page(read_v1, touchpoint, touchpoint_b):
    person = PersonFactory()
    base = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    rows = [
        ResponseFactory(
            touchpoint=touchpoint if i % 2 == 0 else touchpoint_b,
            person=person if i < 2 else None,
            score=i,
            created_at=base + dt.timedelta(hours=i),
            updated_at=base + dt.timedelta(hours=10 - i),
        )
        for i in range(6)
    ]

    def ids(params):
        got = read_v1.get("/v1/survey_responses", params)
        assert got.status_code == 200, got.content
        return [int(r["id"]) for r in got.json()]

    pks = [r.pk for r in rows]
    assert ids({}) == pks  # asc by default
    assert ids({"order": "desc"}) == pks[::-1]
    assert ids({"order": "asc:updated_at"}) == pks[::-1]
    assert ids({"order": "desc:updated_at"}) == pks
    assert ids({"since": ts(base + dt.timedelta(hours=4))}) == pks[4:]
    assert ids({"until": ts(base + dt.timedelta(hours=1))}) == pks[:2]
    assert ids({"updated_since": ts(base + dt.timedelta(hours=9))}) == pks[:2]
    assert ids({"updated_until": ts(base + dt.timedelta(hours=5))}) == pks[5:]
    assert ids({"trend": "billing"}) == pks[1::2]
    assert ids({"per_page": 2, "page": 2}) == pks[2:4]
    assert ids({"per_page": 2, "page": 9}) == []


def test_person_id_filters_for_admin_keys_only(read_v1, write_v1, admin_v1, touchpoint):
    person = PersonFactory()
    mine = ResponseFactory(touchpoint=touchpoint, person=person, score=2)
    ResponseFactory(touchpoint=touchpoint, score=9)
    got = admin_v1.get("/v1/survey_responses", {"person_id": str(person.pk)})
    assert [r["id"] for r in got.json()] == [str(mine.pk)]
    assert admin_v1.get("/v1/survey_responses", {"person_id": "abc"}).status_code == 422
    # A write key gets a person's id back for an email it knows: no answers by it.
    for client in (read_v1, write_v1):
        refused = client.get("/v1/survey_responses", {"person_id": str(person.pk)})
        assert refused.status_code == 403 and "admin" in refused.json()["message"]
        assert {r["person"] for r in client.get("/v1/survey_responses").json()} == {None}


def test_a_response_has_delighteds_shape(admin_v1, touchpoint):
    person = PersonFactory()
    moment = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    response = ResponseFactory(
        touchpoint=touchpoint,
        person=person,
        score=10,
        comment="",
        properties={"plan": "pro"},
        created_at=moment,
        updated_at=moment,
    )
    data = admin_v1.get(f"/v1/survey_responses/{response.pk}.json").json()
    assert data == {
        "id": str(response.pk),
        "person": str(person.pk),
        "survey_type": "nps",
        "score": 10,
        "comment": None,
        "permalink": f"http://testserver/touchpoints/support-call/#response-{response.pk}",
        "created_at": ts(moment),
        "updated_at": ts(moment),
        "person_properties": {"plan": "pro"},
        "notes": [],
        "tags": [],
        "additional_answers": [],
    }


def test_without_personal_data_a_response_has_its_comment_scrubbed_and_no_properties(
    read_v1, admin_v1, touchpoint
):
    person = PersonFactory(name="Jean Dupont")
    comment = "Dupont here: call me on +33 6 12 34 56 78 or jean.dupont@example.com"
    response = ResponseFactory(
        touchpoint=touchpoint, person=person, score=2, comment=comment, properties={"vip": "yes"}
    )
    url = f"/v1/survey_responses/{response.pk}.json"
    data = read_v1.get(url).json()
    assert data["comment"] == "D. here: call me on [hidden] or [hidden]"
    assert data["person_properties"] is None
    [listed] = read_v1.get("/v1/survey_responses.json").json()
    assert listed == data
    full = admin_v1.get(url).json()
    assert (full["comment"], full["person_properties"]) == (comment, {"vip": "yes"})


def test_updating_a_score_reopens_the_follow_up_and_recounts_the_day(write_v1, touchpoint):
    person = PersonFactory()
    response = services.response_record(touchpoint=touchpoint, score=9, person=person)
    got = write_v1.put(
        f"/v1/survey_responses/{response.pk}",
        {"score": 2, "comment": "Actually, awful", "person_properties": {"plan": "pro"}},
        format="json",
    )
    assert got.status_code == 200
    data = got.json()
    assert data["score"] == 2 and data["comment"] == "Actually, awful"
    assert data["person_properties"] is None  # a write key reads no personal data
    response.refresh_from_db()
    assert response.properties == {"plan": "pro"}
    assert response.category == "detractor"
    assert FollowUpCase.objects.filter(response=response).exists()
    assert read_metrics(write_v1)["detractor_count"] == 1


def test_a_write_key_saving_back_the_scrubbed_comment_keeps_the_customers_own(
    write_v1, admin_v1, touchpoint
):
    """A write key reads the comment with contact details masked; a client saves back
    what it read. The phone number the customer left must not become "[hidden]"."""
    person = PersonFactory(name="Jean Dupont")
    comment = "Dupont here: call me back on +33 6 12 34 56 78 please"
    response = ResponseFactory(touchpoint=touchpoint, person=person, score=2, comment=comment)
    url = f"/v1/survey_responses/{response.pk}.json"
    read = write_v1.get(url).json()
    assert read["comment"] == "D. here: call me back on [hidden] please"
    saved = write_v1.put(url, {**read, "score": 6}, format="json")
    assert saved.status_code == 200
    response.refresh_from_db()
    assert (response.score, response.comment) == (6, comment)
    # Editing the scrubbed text would store the mask in place of the number: refused.
    edited = write_v1.put(url, {"comment": read["comment"] + "!"}, format="json")
    assert edited.status_code == 422
    assert "cannot see" in edited.json()["errors"]["comment"][0]
    response.refresh_from_db()
    assert response.comment == comment
    # A new comment replaces it; an admin key sees and saves the whole text.
    assert write_v1.put(url, {"comment": "Sorted, thanks"}, format="json").status_code == 200
    response.refresh_from_db()
    assert response.comment == "Sorted, thanks"
    assert admin_v1.put(url, {"comment": "[hidden] on purpose"}, format="json").status_code == 200
    response.refresh_from_db()
    assert response.comment == "[hidden] on purpose"


def test_a_response_is_also_changed_by_a_put_on_the_list_with_its_id(
    write_v1, make_key, touchpoint
):
    """Delighted's Node client saves a response with PUT /v1/survey_responses and the
    response (id included) as the body."""
    response = services.response_record(touchpoint=touchpoint, score=9, comment="Fine")
    read = basic_client(make_key("read", "r")[1])
    body = {"id": str(response.pk), "score": 3}
    assert read.put("/v1/survey_responses", body, format="json").status_code == 403
    missing = write_v1.put("/v1/survey_responses.json", {"score": 3}, format="json")
    assert missing.status_code == 422 and list(missing.json()["errors"]) == ["id"]
    bad = write_v1.put("/v1/survey_responses", {"id": "x", "score": 3}, format="json")
    assert bad.status_code == 422 and list(bad.json()["errors"]) == ["id"]
    unknown = write_v1.put("/v1/survey_responses", {"id": "999999", "score": 3}, format="json")
    assert unknown.status_code == 404
    response.refresh_from_db()
    assert response.score == 9
    got = write_v1.put("/v1/survey_responses", body, format="json")
    assert got.status_code == 200 and got.json()["score"] == 3
    response.refresh_from_db()
    assert (response.score, response.category, response.comment) == (3, "detractor", "Fine")
    assert FollowUpCase.objects.filter(response=response).exists()


def read_metrics(client, **params):
    got = client.get("/v1/metrics", params)
    assert got.status_code == 200, got.content
    return got.json()


def test_notes_are_the_case_notes_and_need_an_admin_key(admin_v1, touchpoint, manager_a):
    response = services.response_record(
        touchpoint=touchpoint, score=2, person=PersonFactory(), channel="email"
    )
    case = FollowUpCase.objects.get(response=response)
    feedback_services.contact_attempt_log(
        case=case, by=manager_a, outcome="reached", notes="Refund promised"
    )
    feedback_services.case_note_add(case=case, by=manager_a, text="Call back Friday")
    data = admin_v1.get(f"/v1/survey_responses/{response.pk}", {"expand[]": "notes"}).json()
    assert [n["text"] for n in data["notes"]] == [
        "Phone: Reached the customer. Refund promised",
        "Call back Friday",
    ]
    assert {n["user_email"] for n in data["notes"]} == {manager_a.email}
    assert all(isinstance(n["id"], str) and isinstance(n["created_at"], int) for n in data["notes"])


# --- metrics ----------------------------------------------------------------------------


def test_metrics_are_exact_between_any_two_seconds(read_v1, touchpoint, touchpoint_b):
    """Whole days come from the rollups, the partial days at the edges from the rows."""
    paris_noon = dt.datetime(2026, 3, 10, 11, 0, tzinfo=dt.UTC)  # 12:00 in Europe/Paris
    for day, score, tp in [(0, 10, touchpoint), (0, 0, touchpoint), (1, 9, touchpoint)]:
        ResponseFactory(touchpoint=tp, score=score, created_at=paris_noon + dt.timedelta(days=day))
    ResponseFactory(touchpoint=touchpoint_b, score=7, created_at=paris_noon + dt.timedelta(days=2))
    ResponseFactory(touchpoint=touchpoint, score=3, created_at=paris_noon + dt.timedelta(days=5))
    services.rollups_recompute_range(start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31))

    everything = read_metrics(read_v1)
    assert everything == METRICS_ALL_TIME
    # From 12:00 on the 10th (included) to 12:00 on the 12th (included): 4 responses.
    window = read_metrics(
        read_v1, since=ts(paris_noon), until=ts(paris_noon + dt.timedelta(days=2))
    )
    assert window["response_count"] == 4 and window["nps"] == 25
    # One second later at the start and earlier at the end: the edge rows drop out.
    inner = read_metrics(
        read_v1,
        since=ts(paris_noon) + 1,
        until=ts(paris_noon + dt.timedelta(days=2)) - 1,
    )
    assert inner["response_count"] == 1 and inner["promoter_count"] == 1
    only_billing = read_metrics(read_v1, trend="billing")
    assert only_billing["response_count"] == 1 and only_billing["passive_count"] == 1
    nothing = read_metrics(read_v1, since=ts(paris_noon + dt.timedelta(days=30)))
    assert nothing["nps"] is None and nothing["response_count"] == 0


def test_metrics_since_after_until_is_422(read_v1, touchpoint):
    got = read_v1.get("/v1/metrics", {"since": 2000, "until": 1000})
    assert got.status_code == 422 and "since" in got.json()["errors"]


# --- unsubscribes and bounces -----------------------------------------------------------


def test_unsubscribing_an_unknown_email_keeps_them_from_ever_being_surveyed(
    write_v1, admin_v1, touchpoint
):
    got = write_v1.post("/v1/unsubscribes", {"person_email": "No@Example.net"}, format="json")
    assert got.status_code == 200 and got.json() == {"ok": True}
    later = write_v1.post("/v1/people", {"email": "no@example.net"}, format="json").json()
    assert later["survey_skipped_reason"] == "unsubscribed"
    listed = admin_v1.get("/v1/unsubscribes").json()
    assert [u["email"] for u in listed] == ["no@example.net"]
    assert isinstance(listed[0]["unsubscribed_at"], int) and isinstance(listed[0]["person_id"], str)


def test_unsubscribing_needs_an_email(write_v1, touchpoint):
    got = write_v1.post("/v1/unsubscribes", {}, format="json")
    assert got.status_code == 422 and "person_email" in got.json()["errors"]


class _RefusingSmtp(socketserver.StreamRequestHandler):
    """A real SMTP server that refuses every recipient (550), as for a dead mailbox."""

    def handle(self):
        self.wfile.write(b"220 test ESMTP\r\n")
        for line in self.rfile:
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                self.wfile.write(b"250 test\r\n")
            elif verb == b"MAIL":
                self.wfile.write(b"250 OK\r\n")
            elif verb == b"RCPT":
                self.wfile.write(b"550 5.1.1 No such user\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 Bye\r\n")
                return
            else:
                self.wfile.write(b"250 OK\r\n")


@pytest.fixture
def refusing_smtp(settings):
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _RefusingSmtp)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.server_address[1]
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield server
    server.shutdown()
    server.server_close()


def test_a_refused_recipient_is_a_bounce_listed_by_v1_bounces(admin_v1, touchpoint, refusing_smtp):
    person = PersonFactory(email="dead@example.net")
    invitation = services.invitation_create(person=person, touchpoint=touchpoint)
    # Sent by hand (no after-commit callbacks in this test): no exception, no retry.
    result = services.invitation_send(invitation_id=invitation.pk)
    assert result.status == Invitation.Status.FAILED and "Recipient refused" in result.last_error
    person.refresh_from_db()
    assert person.bounced_at is not None
    listed = admin_v1.get("/v1/bounces.json").json()
    assert listed == [
        {
            "person_id": str(person.pk),
            "email": "dead@example.net",
            "name": person.name,
            "bounced_at": ts(person.bounced_at),
        }
    ]


# --- erasure ------------------------------------------------------------------------------


def test_erasing_a_person_keeps_scores_and_scrubs_their_cases_notes(
    admin_v1, touchpoint, manager_a
):
    person = PersonFactory(email="erase@example.net", phone="+33612345678")
    services.invitation_create(person=person, touchpoint=touchpoint)
    detractor = services.response_record(
        touchpoint=touchpoint,
        score=1,
        comment="I am Jane, call me",
        person=person,
        properties={"order": "A-1"},
    )
    case = FollowUpCase.objects.get(response=detractor)
    feedback_services.contact_attempt_log(
        case=case, by=manager_a, outcome="reached", notes="Jane's husband answered"
    )
    feedback_services.case_note_add(case=case, by=manager_a, text="Lives at 3 rue X")
    before = read_metrics(admin_v1)

    got = admin_v1.delete("/v1/people/phone_number%3A%2B33612345678")
    assert got.status_code == 202 and got.json() == {"ok": True}

    assert not Person.objects.filter(pk=person.pk).exists()
    assert not Invitation.objects.filter(person_id=person.pk).exists()
    detractor.refresh_from_db()
    assert (detractor.score, detractor.touchpoint, detractor.comment) == (1, touchpoint, "")
    assert detractor.person is None and detractor.properties == {}
    assert read_metrics(admin_v1) == before
    assert ContactAttempt.objects.get(case=case).notes == ""
    texts = " ".join(CaseEvent.objects.filter(case=case).values_list("message", flat=True))
    assert "Jane" not in texts and "rue X" not in texts
    case.refresh_from_db()
    assert case.status == "in_progress" and case.first_contact_at is not None


def test_erasing_by_id_and_unknown_people(admin_v1, touchpoint):
    person = PersonFactory()
    assert admin_v1.delete(f"/v1/people/{person.pk}").status_code == 202
    assert not Person.objects.filter(pk=person.pk).exists()
    for ident in [str(person.pk), "email%3Anobody%40example.net", "phone_number%3A%2B1", "x%3Ay"]:
        assert admin_v1.delete(f"/v1/people/{ident}").status_code == 404


def test_a_phone_identifier_is_normalised_as_stored_phone_numbers_are(admin_v1, touchpoint):
    person = PersonFactory(phone="+33612345678")
    # "phone_number:+33 6-12 34 56 78", URL-encoded as Delighted's clients do.
    got = admin_v1.delete("/v1/people/phone_number%3A%2B33%206-12%2034%2056%2078")
    assert got.status_code == 202
    assert not Person.objects.filter(pk=person.pk).exists()


def test_the_erase_person_command_erases_by_email(touchpoint, capsys):
    person = PersonFactory(email="cmd@example.net")
    response = ResponseFactory(touchpoint=touchpoint, person=person, comment="Mine", score=4)
    call_command("erase_person", "--email", "CMD@example.net")
    assert "1 response(s)" in capsys.readouterr().out
    response.refresh_from_db()
    assert response.person is None and response.comment == "" and response.score == 4
    assert not Person.objects.filter(email="cmd@example.net").exists()


def test_the_erase_person_command_fails_loudly_for_nobody(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="nothing was erased"):
        call_command("erase_person", "--email", "nobody@example.net")


def test_head_needs_the_same_scope_as_get(read_v1, admin_v1, touchpoint):
    assert read_v1.head("/v1/people").status_code == 403
    assert admin_v1.head("/v1/people").status_code == 200


def test_a_default_touchpoint_setting_naming_nothing_is_a_422_that_says_so(write_v1, touchpoint):
    with override_settings(DELIGHTED_DEFAULT_TOUCHPOINT="renamed"):
        got = write_v1.post("/v1/people", {"email": "a@example.net"}, format="json")
    assert got.status_code == 422
    assert "DELIGHTED_DEFAULT_TOUCHPOINT" in got.json()["errors"]["touchpoint"][0]


def test_listing_costs_the_same_queries_for_2_or_20_rows(admin_v1, touchpoint):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            a = admin_v1.get("/v1/survey_responses?expand[]=person&expand[]=notes&per_page=100")
            b = admin_v1.get("/v1/people", {"per_page": 100})
        assert a.status_code == b.status_code == 200
        return len(ctx)

    def add(n):
        for _ in range(n):
            person = PersonFactory()
            InvitationFactory(person=person, touchpoint=touchpoint)
            ResponseFactory(touchpoint=touchpoint, person=person, score=9)

    add(2)
    queries()  # the key's first use records last_used_at (then once a minute)
    few = queries()
    add(18)
    assert queries() == few


def test_listing_responses_without_expansion_does_not_load_the_people(read_v1, touchpoint):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(5):
        ResponseFactory(touchpoint=touchpoint, person=PersonFactory(), score=9)
    read_v1.get("/v1/survey_responses")
    with CaptureQueriesContext(connection) as ctx:
        assert len(read_v1.get("/v1/survey_responses").json()) == 5
    assert not [q for q in ctx.captured_queries if 'FROM "surveys_person"' in q["sql"]]


@pytest.mark.parametrize("identifier", ["%C2%B2", "%D9%A1%D9%A2", "99999999999999999999"])
def test_a_person_id_that_is_not_ascii_digits_finds_nobody(admin_v1, identifier, db):
    """str.isdigit() takes "²" and Arabic-Indic digits: such an id was a 500, or erased
    the person whose id the digits meant."""
    from tests.factories import PersonFactory

    person = PersonFactory()
    answer = admin_v1.delete(f"/v1/people/{identifier}.json")
    assert answer.status_code == 404
    assert Person.objects.filter(pk=person.pk).exists()


def test_json_with_a_lone_surrogate_or_infinity_is_refused_and_nothing_is_written(
    write_v1, touchpoint
):
    person = write_v1.post(
        "/v1/people.json", {"email": "p@example.com", "send": False}, format="json"
    )
    assert person.status_code == 200, person.content
    for raw in (
        '{"person": "%s", "score": 9, "comment": "\\ud800"}',
        '{"person": "%s", "score": 9, "person_properties": {"a": 1e400}}',
    ):
        answer = write_v1.post(
            "/v1/survey_responses.json", raw % person.json()["id"], content_type="application/json"
        )
        assert answer.status_code == 400, answer.content
    assert not Response.objects.exists()


def test_format_is_an_ignored_query_parameter_and_timestamps_take_ascii_digits_only(
    read_v1, touchpoint
):
    assert read_v1.get("/v1/survey_responses.json", {"format": "xml"}).status_code == 200
    assert read_v1.get("/v1/metrics.json", {"format": "csv"}).status_code == 200
    got = read_v1.get("/v1/survey_responses.json", {"since": "١٢"})  # Arabic-Indic 12
    assert got.status_code == 422 and "since" in got.json()["errors"]
