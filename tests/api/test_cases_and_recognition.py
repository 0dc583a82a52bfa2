import pytest

from feedback.models import CaseEvent, ContactAttempt, FollowUpCase, RootCause
from recognition.models import Postcard, Value
from surveys import services
from tests.api.conftest import session_client
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db

ALL = [
    "anonymous",
    "employee",
    "manager_a",
    "manager_b",
    "lead_a",
    "executive",
    "cx_admin",
    "read_key",
    "write_key",
    "admin_key",
]


@pytest.fixture
def case(touchpoint):
    person = PersonFactory(email="angry@example.net", name="Paul Angry", phone="+33611111111")
    response = services.response_record(
        touchpoint=touchpoint, score=1, comment="Awful", person=person
    )
    return FollowUpCase.objects.get(response=response)


@pytest.mark.parametrize("who", ALL)
def test_cases_follow_design_6(who, clients, case):
    expected_list = {
        "anonymous": 401,
        "employee": 403,
        "executive": 403,
        "read_key": 403,
        "write_key": 403,
    }.get(who, 200)
    client = clients[who]
    listed = client.get("/api/cases/")
    assert listed.status_code == expected_list
    detail = client.get(f"/api/cases/{case.pk}/")
    if expected_list != 200:
        assert detail.status_code == expected_list
        return
    ids = [c["id"] for c in listed.json()["results"]]
    if who == "manager_b":  # another team's case: invisible
        assert ids == [] and detail.status_code == 404
        return
    assert ids == [case.pk]
    body = detail.json()
    assert body["customer"] == {
        "id": case.response.person_id,
        "name": "Paul Angry",
        "email": "angry@example.net",
        "phone": "+33611111111",
    }
    assert body["score"] == 1 and body["status"] == "new" and body["team"] == "support"


def test_a_manager_claims_a_case_by_assigning_it_to_themselves(manager_a, case):
    client = session_client(manager_a)
    response = client.patch(f"/api/cases/{case.pk}/", {"assignee": manager_a.pk}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["assignee"]["id"] == manager_a.pk
    assert response.json()["status"] == "assigned"


def test_a_manager_cannot_reassign_but_the_lead_can(manager_a, lead_a, case):
    other = manager_a
    as_manager = session_client(manager_a).patch(
        f"/api/cases/{case.pk}/", {"assignee": lead_a.pk}, format="json"
    )
    assert as_manager.status_code == 400
    assert "lead" in as_manager.json()["errors"]["non_field_errors"][0]
    as_lead = session_client(lead_a).patch(
        f"/api/cases/{case.pk}/", {"assignee": other.pk}, format="json"
    )
    assert as_lead.status_code == 200
    assert as_lead.json()["assignee"]["username"] == "mia"


def test_closing_needs_what_the_service_needs(manager_a, case):
    client = session_client(manager_a)
    url = f"/api/cases/{case.pk}/"
    no_outcome = client.patch(url, {"status": "closed"}, format="json")
    assert no_outcome.status_code == 400 and "outcome" in no_outcome.json()["errors"]
    no_cause = client.patch(url, {"status": "closed", "outcome": "resolved"}, format="json")
    assert no_cause.status_code == 400
    assert "root cause" in no_cause.json()["message"] + str(no_cause.json()["errors"])
    cause = RootCause.objects.create(name="Slow delivery")
    done = client.patch(
        url,
        {
            "status": "closed",
            "outcome": "resolved",
            "root_causes": [cause.pk],
            "resolution": "Refunded",
        },
        format="json",
    )
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "closed" and done.json()["outcome"] == "resolved"
    assert CaseEvent.objects.filter(case=case, kind="closed", actor=manager_a).exists()


def test_an_admin_key_acts_as_the_admin_who_created_it(admin_api, admin_key, manager_a, case):
    response = admin_api.patch(f"/api/cases/{case.pk}/", {"assignee": manager_a.pk}, format="json")
    assert response.status_code == 200, response.content
    event = CaseEvent.objects.filter(case=case).latest("at")
    assert event.actor == admin_key[0].created_by


def test_another_teams_manager_cannot_touch_a_case(manager_b, case):
    client = session_client(manager_b)
    assert (
        client.patch(
            f"/api/cases/{case.pk}/", {"assignee": manager_b.pk}, format="json"
        ).status_code
        == 404
    )


def test_case_filters(manager_a, case):
    client = session_client(manager_a)
    assert [c["id"] for c in client.get("/api/cases/", {"status": "new"}).json()["results"]] == [
        case.pk
    ]
    assert client.get("/api/cases/", {"status": "closed"}).json()["results"] == []
    assert client.get("/api/cases/", {"assignee": "me"}).json()["results"] == []
    assert client.get("/api/cases/", {"status": "bogus"}).status_code == 400
    assert ContactAttempt.objects.count() == 0


def test_assignee_me_with_a_key_means_the_cx_admin_who_created_it(admin_api, cx_admin, touchpoint):
    """An API key has no user id of its own: "me" used to match the unassigned cases."""
    unassigned = FollowUpCase.objects.get(
        response=services.response_record(touchpoint=touchpoint, score=1)
    )
    mine = FollowUpCase.objects.get(
        response=services.response_record(touchpoint=touchpoint, score=2)
    )
    FollowUpCase.objects.filter(pk=mine.pk).update(assignee=cx_admin, status="assigned")
    got = admin_api.get("/api/cases/", {"assignee": "me"}).json()["results"]
    assert [c["id"] for c in got] == [mine.pk] and unassigned.pk != mine.pk


def test_the_case_list_costs_the_same_queries_for_1_or_6_cases(admin_api, touchpoint):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            assert admin_api.get("/api/cases/").status_code == 200
        return len(ctx)

    services.response_record(touchpoint=touchpoint, score=1)
    queries()  # the first request also reads what later ones find cached
    one = queries()
    for _ in range(5):
        services.response_record(touchpoint=touchpoint, score=1)
    assert queries() == one


def test_the_schema_lists_the_case_filters(admin_api):
    schema = admin_api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    names = {p["name"] for p in schema["paths"]["/api/cases/"]["get"]["parameters"]}
    assert {"status", "team", "touchpoint", "assignee"} <= names


# --- recognition --------------------------------------------------------------------------


@pytest.fixture
def value(db):
    return Value.objects.create(name="Went the extra mile")


@pytest.mark.parametrize("who", ALL)
def test_everyone_reads_postcards_and_the_leaderboard(who, clients, value):
    expected = 401 if who == "anonymous" else 200
    assert clients[who].get("/api/postcards/").status_code == expected
    assert clients[who].get("/api/leaderboard/").status_code == expected


def test_an_employee_sends_a_postcard_once_per_key(employee, manager_a, value):
    client = session_client(employee)
    body = {
        "recipient": "mia",
        "value": value.pk,
        "message": "Saved the day",
        "idempotency_key": "k1",
    }
    first = client.post("/api/postcards/", body, format="json")
    assert first.status_code == 201, first.content
    assert first.json()["recipient"] == {"username": "mia", "name": "Mia Manager"}
    again = client.post("/api/postcards/", body, format="json")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert Postcard.objects.count() == 1
    feed = client.get("/api/postcards/").json()
    assert [p["id"] for p in feed["results"]] == [first.json()["id"]] and feed["next"] is None
    board = client.get("/api/leaderboard/").json()
    assert board == [{"rank": 1, "count": 1, "username": "mia", "name": "Mia Manager"}]
    teams = client.get("/api/leaderboard/", {"by": "team", "period": "all"}).json()
    assert teams == [{"rank": 1, "count": 1, "name": "Support"}]


def test_the_postcard_feed_costs_the_same_queries_for_3_or_25_postcards(
    employee, manager_a, touchpoint, value, settings
):
    """Each postcard inspired by praise names its touchpoint without a query of its own."""
    settings.POSTCARD_DAILY_CAP = 100
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from recognition import services as recognition

    def feed_queries():
        with CaptureQueriesContext(connection) as queries:
            page = session_client(employee).get("/api/postcards/")
        assert page.status_code == 200
        return len(queries), page.json()["results"]

    def send(n):
        for i in range(n):
            response = services.response_record(
                touchpoint=touchpoint, score=10, comment=f"Great {i}"
            )
            recognition.postcard_send(
                sender=employee if i % 2 else manager_a,
                recipient=manager_a if i % 2 else employee,
                value=value,
                message=f"Thanks {i}",
                response=response,
                idempotency_key=f"k{n}-{i}",
            )

    send(3)
    few, results = feed_queries()
    assert {p["touchpoint"] for p in results} == {touchpoint.name}
    send(22)
    many, results = feed_queries()
    assert len(results) == 25 and {p["touchpoint"] for p in results} == {touchpoint.name}
    assert many == few


def test_no_postcard_to_oneself_and_none_from_a_key(employee, admin_api, value):
    own = session_client(employee).post(
        "/api/postcards/", {"recipient": "emma", "value": value.pk, "message": "Me!"}, format="json"
    )
    assert own.status_code == 400 and "yourself" in own.json()["message"] + str(
        own.json()["errors"]
    )
    by_key = admin_api.post(
        "/api/postcards/", {"recipient": "emma", "value": value.pk, "message": "Hi"}, format="json"
    )
    assert by_key.status_code == 403


def test_bad_leaderboard_queries_are_a_400(read_api):
    assert read_api.get("/api/leaderboard/", {"period": "decade"}).status_code == 400
    assert read_api.get("/api/leaderboard/", {"by": "planet"}).status_code == 400


@pytest.mark.parametrize(
    ("path", "field"),
    [("/api/cases/?assignee=%C2%B2", "assignee"), ("/api/postcards/?before=%C2%B2", "before")],
)
def test_unicode_digits_in_a_numeric_filter_are_a_400(admin_api, db, path, field):
    answer = admin_api.get(path)
    assert answer.status_code == 400, answer.content
    assert answer.json()["status"] == 400


def test_an_update_refused_for_its_close_writes_nothing_not_even_its_reassignment(
    lead_a, manager_a, case, mailoutbox, django_capture_on_commit_callbacks
):
    client = session_client(lead_a)
    events = CaseEvent.objects.filter(case=case).count()
    cause = RootCause.objects.create(name="Slow delivery")
    with django_capture_on_commit_callbacks(execute=True):
        unreachable = client.patch(
            f"/api/cases/{case.pk}/",
            {"assignee": manager_a.pk, "status": "closed", "outcome": "unreachable"},
            format="json",
        )
        no_summary = client.patch(
            f"/api/cases/{case.pk}/",
            {
                "assignee": manager_a.pk,
                "status": "closed",
                "outcome": "resolved",
                "root_causes": [cause.pk],
            },
            format="json",
        )
    assert unreachable.status_code == 400 and no_summary.status_code == 400
    assert "contact attempt" in unreachable.json()["errors"]["non_field_errors"][0]
    assert "resolution summary" in no_summary.json()["errors"]["non_field_errors"][0]
    case.refresh_from_db()
    assert (case.assignee, case.status) == (None, FollowUpCase.Status.NEW)
    assert CaseEvent.objects.filter(case=case).count() == events
    assert mailoutbox == []  # no "assigned to you" email for an assignment that did not happen


def test_a_case_closes_only_with_a_root_cause_its_touchpoint_offers(manager_a, case, touchpoint_b):
    client = session_client(manager_a)
    url = f"/api/cases/{case.pk}/"
    body = {"status": "closed", "outcome": "resolved", "resolution": "Refunded"}
    elsewhere = RootCause.objects.create(name="Billing error", touchpoint=touchpoint_b)
    retired = RootCause.objects.create(name="Old cause", active=False)
    for cause in (elsewhere, retired):
        refused = client.patch(url, {**body, "root_causes": [cause.pk]}, format="json")
        assert refused.status_code == 400
        assert refused.json()["errors"]["non_field_errors"] == [
            f"Not a root cause of Support call: {cause.name}."
        ]
    case.refresh_from_db()
    assert case.is_open and not case.root_causes.exists()
    own = RootCause.objects.create(name="Slow reply", touchpoint=case.response.touchpoint)
    shared = RootCause.objects.create(name="Slow delivery")
    done = client.patch(url, {**body, "root_causes": [own.pk, shared.pk]}, format="json")
    assert done.status_code == 200, done.content
