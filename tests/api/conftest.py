"""API clients for every persona (staff sessions) and every API key scope."""

import base64

import pytest
from rest_framework.test import APIClient

from cxhub import services as cxhub_services
from cxhub.models import ApiKey


def key_client(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def basic_client(raw: str, *, colon: bool = True) -> APIClient:
    """HTTP Basic with the key as username: `key:` (Node, Ruby) or `key` (Python)."""
    client = APIClient()
    token = base64.b64encode(f"{raw}{':' if colon else ''}".encode()).decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {token}")
    return client


def session_client(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def anon():
    return APIClient()


@pytest.fixture
def make_key(cx_admin):
    def make(scope: str = ApiKey.Scope.READ, name: str = "Integration"):
        return cxhub_services.api_key_create(name=name, scope=scope, created_by=cx_admin)

    return make


@pytest.fixture
def read_key(make_key):
    return make_key(ApiKey.Scope.READ, "Read key")


@pytest.fixture
def write_key(make_key):
    return make_key(ApiKey.Scope.WRITE, "Write key")


@pytest.fixture
def admin_key(make_key):
    return make_key(ApiKey.Scope.ADMIN, "Admin key")


@pytest.fixture
def read_api(read_key):
    return key_client(read_key[1])


@pytest.fixture
def write_api(write_key):
    return key_client(write_key[1])


@pytest.fixture
def admin_api(admin_key):
    return key_client(admin_key[1])


@pytest.fixture
def clients(
    employee, manager_a, manager_b, lead_a, executive, cx_admin, read_key, write_key, admin_key
):
    """Every caller by name: the personas' sessions and the three key scopes."""
    return {
        "anonymous": APIClient(),
        "employee": session_client(employee),
        "manager_a": session_client(manager_a),
        "manager_b": session_client(manager_b),
        "lead_a": session_client(lead_a),
        "executive": session_client(executive),
        "cx_admin": session_client(cx_admin),
        "read_key": key_client(read_key[1]),
        "write_key": key_client(write_key[1]),
        "admin_key": key_client(admin_key[1]),
    }


@pytest.fixture
def delighted_client(live_server):
    """Delighted's official Python client pointed at the live test server: a factory
    taking a raw API key."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # "Delighted is being sunset"
        import delighted

    def make(raw: str):
        return delighted.Client(api_key=raw, api_base_url=f"{live_server.url}/v1/")

    return make


# Delighted's /v1/metrics over `metrics_history`, all time.
METRICS_ALL_TIME = {
    "nps": 0,
    "promoter_count": 2,
    "promoter_percent": 40.0,
    "passive_count": 1,
    "passive_percent": 20.0,
    "detractor_count": 2,
    "detractor_percent": 40.0,
    "response_count": 5,
}


@pytest.fixture
def metrics_history(touchpoint, touchpoint_b):
    """Four answers an hour ago on `touchpoint` (10, 9, 8, 3), one 40 days ago on
    `touchpoint_b` (0), rolled up; returns the time they are counted from (now)."""
    import datetime as dt

    from django.utils import timezone

    from surveys import services
    from tests.factories import ResponseFactory

    now = timezone.now()
    for score in (10, 9, 8, 3):
        ResponseFactory(touchpoint=touchpoint, score=score, created_at=now - dt.timedelta(hours=1))
    ResponseFactory(touchpoint=touchpoint_b, score=0, created_at=now - dt.timedelta(days=40))
    today = timezone.localdate()
    services.rollups_recompute_range(start=today - dt.timedelta(days=60), end=today)
    return now
