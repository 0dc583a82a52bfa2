import base64
import hashlib

import pytest
from django.urls import reverse

from cxhub import roles
from cxhub import services as cxhub_services
from cxhub.authentication import ApiKeyUser, key_from_basic_header
from cxhub.models import ApiKey
from tests.api.conftest import key_client

pytestmark = pytest.mark.django_db

TOUCHPOINTS = "/api/touchpoints/"


def test_a_key_is_stored_hashed_and_its_secret_is_returned_once(cx_admin):
    key, raw = cxhub_services.api_key_create(name="CRM", scope="write", created_by=cx_admin)
    key.refresh_from_db()
    assert raw.startswith("cxh_") and len(raw) > 40
    assert key.hashed_key == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in {key.hashed_key, key.prefix, key.name}
    assert raw.startswith(key.prefix)
    assert key.created_by == cx_admin and key.scope == "write" and key.revoked_at is None


def test_an_unknown_scope_is_refused(cx_admin):
    with pytest.raises(ValueError):
        cxhub_services.api_key_create(name="x", scope="root", created_by=cx_admin)


def test_a_valid_bearer_key_authenticates_and_marks_the_key_used(touchpoint, read_key):
    key, raw = read_key
    response = key_client(raw).get(TOUCHPOINTS)
    assert response.status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_a_revoked_key_gets_401(touchpoint, read_key):
    key, raw = read_key
    client = key_client(raw)
    assert client.get(TOUCHPOINTS).status_code == 200
    cxhub_services.api_key_revoke(api_key=key)
    response = client.get(TOUCHPOINTS)
    assert response.status_code == 401
    assert response.json() == {
        "status": 401,
        "message": "Invalid or revoked API key.",
        "errors": {},
    }


def test_revoking_twice_keeps_the_first_time(read_key):
    key, _ = read_key
    first = cxhub_services.api_key_revoke(api_key=key).revoked_at
    assert cxhub_services.api_key_revoke(api_key=key).revoked_at == first


@pytest.mark.parametrize("raw", ["cxh_wrong", "nonsense", "cxh_" + "a" * 43])
def test_a_wrong_key_gets_401(touchpoint, raw):
    assert key_client(raw).get(TOUCHPOINTS).status_code == 401


def test_no_credentials_get_401_saying_how_to_authenticate(anon):
    response = anon.get(TOUCHPOINTS)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["status"] == 401


def test_an_empty_bearer_gets_401(anon):
    anon.credentials(HTTP_AUTHORIZATION="Bearer ")
    assert anon.get(TOUCHPOINTS).status_code == 401


def test_basic_credentials_carry_the_key_as_username_with_or_without_a_colon():
    def header(text):
        return "Basic " + base64.b64encode(text.encode()).decode()

    assert key_from_basic_header(header("cxh_abc:")) == "cxh_abc"
    assert key_from_basic_header(header("cxh_abc")) == "cxh_abc"
    assert key_from_basic_header(header("cxh_abc:ignored")) == "cxh_abc"
    assert key_from_basic_header(header(":")) is None
    assert key_from_basic_header("Basic !!!") is None
    assert key_from_basic_header("Bearer cxh_abc") is None
    assert key_from_basic_header(None) is None


def test_api_key_basic_authentication_accepts_both_forms(read_key, rf):
    from cxhub.authentication import ApiKeyBasicAuthentication

    key, raw = read_key
    for username in (raw, raw + ":"):
        request = rf.get(
            "/", HTTP_AUTHORIZATION="Basic " + base64.b64encode(username.encode()).decode()
        )
        user, auth = ApiKeyBasicAuthentication().authenticate(request)
        assert auth == key and isinstance(user, ApiKeyUser)


def test_an_admin_key_is_a_cx_admin_and_other_keys_are_plain_employees(
    read_key, write_key, admin_key
):
    assert roles.is_cx_admin(ApiKeyUser(admin_key[0]))
    for key, _ in (read_key, write_key):
        user = ApiKeyUser(key)
        assert not roles.is_cx_admin(user)
        assert not roles.is_executive(user)
        assert roles.managed_team_ids(user) == set()
    assert ApiKeyUser(read_key[0]).acting_user == read_key[0].created_by


def test_scopes_include_the_ones_below(read_key, write_key, admin_key):
    assert read_key[0].allows("read") and not read_key[0].allows("write")
    assert write_key[0].allows("read") and write_key[0].allows("write")
    assert not write_key[0].allows("admin")
    assert admin_key[0].allows("admin")


# --- admin ---------------------------------------------------------------------------------


def test_the_admin_add_page_shows_the_full_key_once(client, cx_admin):
    client.force_login(cx_admin)
    response = client.post(
        reverse("admin:cxhub_apikey_add"), {"name": "Zapier", "scope": "read"}, follow=True
    )
    assert response.status_code == 200
    key = ApiKey.objects.get(name="Zapier")
    shown = [str(m) for m in response.context["messages"]]
    raw = next(m.split(": ")[-1] for m in shown if "will not be shown again" in m)
    assert hashlib.sha256(raw.encode()).hexdigest() == key.hashed_key
    assert key.created_by == cx_admin
    page = client.get(reverse("admin:cxhub_apikey_change", args=[key.pk]))
    assert raw not in page.content.decode()


def test_the_admin_revoke_action_revokes(client, cx_admin, read_key):
    client.force_login(cx_admin)
    key, _ = read_key
    client.post(
        reverse("admin:cxhub_apikey_changelist"),
        {"action": "revoke", "_selected_action": [key.pk]},
    )
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_staff_who_are_not_cx_admins_cannot_see_api_keys(client, employee):
    employee.is_staff = True
    employee.save()
    client.force_login(employee)
    response = client.get(reverse("admin:cxhub_apikey_changelist"))
    assert response.status_code == 403


def test_http_basic_on_the_native_api_says_to_use_bearer(anon, read_key, touchpoint):
    """What a Delighted client pointed at /api/ instead of /v1/ sends."""
    import base64

    raw = read_key[1]
    anon.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{raw}:".encode()).decode())
    got = anon.get("/api/metrics/")
    assert got.status_code == 401
    assert "takes 'Authorization: Bearer <API key>'" in got.json()["message"]
    assert "/v1/" in got.json()["message"]
