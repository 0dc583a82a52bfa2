"""Named personas (design §6) shared by every test, healthchecks-style.

Team A ("Support") owns the "support-call" touchpoint; team B ("Billing") owns
"billing". Each persona is a logged-in-able user with password "pw".
"""

import os
import socket
import threading
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.test import override_settings

from cxhub import outages, queue, roles
from cxhub.celery import app as celery_app
from cxhub.models import Membership
from surveys import selectors
from tests.factories import MembershipFactory, TeamFactory, TouchpointFactory, UserFactory

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """With CI set every service is there (tests/run.py requires them), so a skipped
    test is a failure: a test skipped for a missing service never passes CI silently."""
    report = yield
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI, where nothing may be: {report.longrepr}"
    return report


@pytest.fixture(autouse=True)
def _fresh_process_state():
    cache.clear()
    queue.reset()
    outages.reset()
    from cxhub import services as cxhub_services

    cxhub_services.team_alerts_forget()
    from cxhub import webhooks

    webhooks.webhook_endpoints_forget()
    selectors.public_touchpoints_forget()


@pytest.fixture(autouse=True)
def _outbound_to_local_receivers(settings, monkeypatch):
    """The suite's webhook and alert receivers listen on 127.0.0.1, which production
    refuses by default (cxhub/outbound.py): allowed here, and in a real worker's
    environment too. tests/cxhub/test_outbound.py turns it off again."""
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    monkeypatch.setenv("OUTBOUND_ALLOW_PRIVATE_NETWORKS", "true")


def _tcp_server(*, hang_up: bool):
    """A local TCP server that accepts connections and never says a word: it keeps them
    open (a broker or cache that hangs) or closes each at once (`hang_up`). Yields
    `.url` (as redis://) and `.connections()` (how many it accepted so far)."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted, stop = [], threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn = server.accept()[0]
            except OSError:
                continue
            accepted.append(conn)
            if hang_up:
                conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield SimpleNamespace(
        url=f"redis://127.0.0.1:{server.getsockname()[1]}/0", connections=lambda: len(accepted)
    )
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


@pytest.fixture
def silent_server():
    """A broker or cache that accepts connections and never answers."""
    yield from _tcp_server(hang_up=False)


@pytest.fixture
def hanging_up_server():
    """A server that accepts each connection and closes it at once."""
    yield from _tcp_server(hang_up=True)


CLOSED_PORT = "redis://127.0.0.1:1/0"  # nothing listens there: a Redis that is down


@pytest.fixture
def broker():
    """`broker(url)` switches Celery from eager mode to that broker for one test (a
    closed port by default: the broker is down); `broker.restore()` puts the suite's
    eager mode back (the broker is back), as the end of the test does."""
    saved = celery_app.conf.task_always_eager, celery_app.conf.broker_url

    def forget_connections():
        # Celery caches its connection and producer pools for the configured URL.
        celery_app._pool = None
        celery_app.amqp._producer_pool = None
        queue.reset()

    def use(url=CLOSED_PORT):
        celery_app.conf.task_always_eager = False
        celery_app.conf.broker_url = url
        forget_connections()

    def restore():
        celery_app.conf.task_always_eager, celery_app.conf.broker_url = saved
        forget_connections()

    use.restore = restore
    yield use
    restore()


@pytest.fixture
def cache_at():
    """`with cache_at(url):` puts Django's cache on a Redis at `url` (a closed port, or
    silent_server.url), with short timeouts."""

    def use(url):
        backend = "django.core.cache.backends.redis.RedisCache"
        options = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}
        return override_settings(
            CACHES={"default": {"BACKEND": backend, "LOCATION": url, "OPTIONS": options}}
        )

    return use


@pytest.fixture
def silent_redis(silent_server, cache_at, broker):
    """The cache and the broker on one Redis that accepts connections and never answers
    (as in production, where both come from REDIS_URL). Yields the server."""
    broker(silent_server.url)
    with cache_at(silent_server.url):
        yield silent_server


@pytest.fixture
def team_a(db):
    return TeamFactory(name="Support", slug="support")


@pytest.fixture
def team_b(db):
    return TeamFactory(name="Billing", slug="billing")


@pytest.fixture
def touchpoint(team_a):
    return TouchpointFactory(
        name="Support call", slug="support-call", owner_team=team_a, nps_target=30
    )


@pytest.fixture
def touchpoint_b(team_b):
    return TouchpointFactory(name="Billing", slug="billing", owner_team=team_b, nps_target=20)


def _member(username, team, role, first, last):
    user = UserFactory(username=username, first_name=first, last_name=last)
    MembershipFactory(user=user, team=team, role=role)
    return user


@pytest.fixture
def employee(team_a):
    return _member("emma", team_a, Membership.Role.EMPLOYEE, "Emma", "Employee")


@pytest.fixture
def manager_a(team_a):
    return _member("mia", team_a, Membership.Role.MANAGER, "Mia", "Manager")


@pytest.fixture
def manager_b(team_b):
    return _member("ben", team_b, Membership.Role.MANAGER, "Ben", "Billing")


@pytest.fixture
def lead_a(team_a):
    user = _member("leo", team_a, Membership.Role.LEAD, "Leo", "Lead")
    team_a.lead = user
    team_a.save()
    return user


@pytest.fixture
def executive(db):
    user = UserFactory(username="eve", first_name="Eve", last_name="Executive")
    user.groups.add(Group.objects.get_or_create(name=roles.EXECUTIVES)[0])
    return user


@pytest.fixture
def cx_admin(db):
    user = UserFactory(username="ada", first_name="Ada", last_name="Admin", is_staff=True)
    user.groups.add(Group.objects.get_or_create(name=roles.CX_ADMINS)[0])
    return user


@pytest.fixture
def customer_client(client):
    """An anonymous customer: no account, no session."""
    return client
