"""Design §6 through the HTTP interface: who may call what, and who sees personal data."""

import pytest

from tests.factories import PersonFactory, ResponseFactory

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
WRITERS = {"cx_admin", "write_key", "admin_key"}
PII = {"cx_admin", "admin_key"}


def _expected_read(who):
    return 401 if who == "anonymous" else 200


def _expected_write(who, ok):
    if who == "anonymous":
        return 401
    return ok if who in WRITERS else 403


@pytest.fixture
def data(touchpoint):
    person = PersonFactory(email="marie@example.net", name="Marie Dupont", phone="+33612345678")
    response = ResponseFactory(touchpoint=touchpoint, person=person, score=3, comment="Slow")
    return {"person": person, "response": response, "touchpoint": touchpoint}


@pytest.mark.parametrize("who", ALL)
def test_reads_need_any_staff_session_or_any_key(who, clients, data):
    client = clients[who]
    for url in (
        "/api/touchpoints/",
        "/api/touchpoints/support-call/",
        "/api/people/",
        f"/api/people/{data['person'].pk}/",
        "/api/invitations/",
        "/api/responses/",
        f"/api/responses/{data['response'].pk}/",
        "/api/metrics/",
    ):
        assert client.get(url).status_code == _expected_read(who), url


@pytest.mark.parametrize("who", ALL)
def test_writes_need_a_write_or_admin_key_or_a_cx_admin(who, clients, data):
    client = clients[who]
    creates = [
        ("/api/people/", {"email": f"{who}@example.net"}, 201),
        ("/api/responses/", {"touchpoint": "support-call", "score": 9}, 201),
        ("/api/responses/batch/", {"responses": [{"touchpoint": "support-call", "score": 8}]}, 201),
        (
            "/api/invitations/",
            {"touchpoint": "support-call", "email": f"inv-{who}@example.net"},
            202,
        ),
    ]
    for url, body, ok in creates:
        response = client.post(url, body, format="json")
        assert response.status_code == _expected_write(who, ok), (url, response.content)


@pytest.mark.parametrize("who", ALL[1:])
def test_customer_personal_data_only_for_cx_admins_and_admin_keys(who, clients, data):
    client = clients[who]
    person = client.get(f"/api/people/{data['person'].pk}/").json()
    listed = client.get("/api/people/").json()["results"][0]
    embedded = client.get(f"/api/responses/{data['response'].pk}/").json()["person"]
    if who not in PII:
        # A response names no person at all without personal data (not even the id a
        # write key gets back for an email it knows).
        assert embedded is None
    for body in (person, listed, embedded) if who in PII else (person, listed):
        assert body["id"] == data["person"].pk
        if who in PII:
            assert body["email"] == "marie@example.net"
            assert body["phone"] == "+33612345678"
            assert body["name"] == "Marie Dupont"
        else:
            assert body["email"] is None and body["phone"] is None and body["name"] is None
            assert "marie" not in str(body).lower()


@pytest.mark.parametrize("who", ["employee", "executive", "read_key", "write_key"])
def test_searching_people_by_email_needs_personal_data_access(who, clients, data):
    response = clients[who].get("/api/people/", {"email": "marie@example.net"})
    assert response.status_code == 400
    assert "email" in response.json()["errors"]


def test_a_cx_admin_finds_a_person_by_email(clients, data):
    response = clients["admin_key"].get("/api/people/", {"email": "MARIE@example.net"})
    assert [p["id"] for p in response.json()["results"]] == [data["person"].pk]


def test_a_write_key_creating_a_person_does_not_read_back_stored_personal_data(clients, data):
    # Upserting by email must not reveal the name and phone stored for that email.
    response = clients["write_key"].post(
        "/api/people/", {"email": "marie@example.net"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["id"] == data["person"].pk
    assert body["name"] is None and body["phone"] is None


def test_a_read_key_is_told_which_scope_it_lacks(clients, touchpoint):
    response = clients["read_key"].post(
        "/api/responses/", {"touchpoint": "support-call", "score": 9}, format="json"
    )
    assert response.status_code == 403
    assert "'read' scope" in response.json()["message"]


def test_the_schema_and_docs_are_public(anon):
    assert anon.get("/api/schema/").status_code == 200
    docs = anon.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
    assert b"cdn" not in docs.content.lower()
