"""Delighted's official Node client (delighted 2.2.0 from npm), unchanged, against a live
CX Hub: what the README promises Node integrations (`host`, `port`, `base`, `scheme`
are all they change). The client is installed with `npm ci` from
tests/delighted_node/package-lock.json; tests/delighted_node/run.js makes its calls."""

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from surveys.models import Invitation, Person, Response
from tests.api.conftest import METRICS_ALL_TIME
from tests.factories import InvitationFactory, PersonFactory, ResponseFactory

pytestmark = pytest.mark.django_db(transaction=True)

HERE = Path(__file__).resolve().parent.parent / "delighted_node"


@pytest.fixture(scope="session")
def node():
    """The node binary, with the pinned client installed next to run.js."""
    binary, npm = shutil.which("node"), shutil.which("npm")
    if not binary or not npm:
        pytest.fail("Node.js and npm are missing: apt-get install nodejs npm (.ci/run does it)")
    if not (HERE / "node_modules" / "delighted" / "package.json").exists():
        installed = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--silent"],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if installed.returncode:
            pytest.fail(f"npm ci in {HERE} failed:\n{installed.stdout}\n{installed.stderr}")
    return binary


@pytest.fixture
def node_calls(node, live_server):
    """Run Delighted Node client calls against the live server; their results."""

    def run(*steps):
        done = subprocess.run(
            [node, str(HERE / "run.js"), live_server.url],
            input=json.dumps(list(steps)),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    return run


def call(key, name, *args, **extra):
    return {"key": key[1], "call": name, "args": list(args), **extra}


def ts(moment) -> int:
    return int(moment.timestamp())


def test_people_are_created_and_listed_to_the_end_through_link_headers(
    node_calls, write_key, admin_key, touchpoint
):
    base = timezone.now() - dt.timedelta(days=1)
    Person.objects.bulk_create(
        [
            Person(email=f"p{i:02}@example.net", created_at=base + dt.timedelta(seconds=i))
            for i in range(44)
        ]
    )
    created, listing, one = node_calls(
        call(
            write_key,
            "person.create",
            {
                "email": "node@example.net",
                "name": "Node Person",
                "delay": 3600,
                "properties": {"touchpoint": "support-call", "plan": "pro"},
            },
        ),
        call(admin_key, "person.list", {"per_page": 20}, walk=True),
        call(admin_key, "person.list", {"email": "p07@example.net"}, walk=True),
    )
    assert created["ok"], created
    stored = Person.objects.get(email="node@example.net")
    assert created["value"]["id"] == str(stored.pk)
    assert created["value"]["properties"] == {"touchpoint": "support-call", "plan": "pro"}
    assert created["value"]["survey_scheduled_at"] >= ts(timezone.now()) + 3500
    invitation = stored.invitations.get()
    assert invitation.status == Invitation.Status.SCHEDULED and invitation.touchpoint == touchpoint
    assert listing["ok"], listing
    assert [p["email"] for p in listing["value"]["items"]] == [
        *(f"p{i:02}@example.net" for i in range(44)),
        "node@example.net",
    ]
    assert listing["value"]["pages"] == 3  # 20 + 20 + 5, the last without a next link
    assert [p["email"] for p in one["value"]["items"]] == ["p07@example.net"]


def test_survey_responses_are_created_listed_retrieved_and_saved(
    node_calls, write_key, admin_key, touchpoint
):
    person = PersonFactory(email="resp@example.net", name="Res Pondent")
    old = ResponseFactory(
        touchpoint=touchpoint, score=9, created_at=timezone.now() - dt.timedelta(days=10)
    )
    (created,) = node_calls(
        call(
            write_key,
            "surveyResponse.create",
            {"person": str(person.pk), "score": 6, "comment": "Slow <b>reply</b>"},
        )
    )
    assert created["ok"], created
    new_id = created["value"]["id"]
    assert (created["value"]["score"], created["value"]["comment"]) == (6, "Slow <b>reply</b>")
    assert Response.objects.get(pk=int(new_id)).case is not None  # a detractor has its case

    since = ts(timezone.now() - dt.timedelta(days=1))
    everything, recent, page_3, one, saved = node_calls(
        call(admin_key, "surveyResponse.all"),
        # The Node client sends an array as `expand=person` (no brackets).
        call(
            admin_key,
            "surveyResponse.all",
            {"since": since, "order": "desc", "expand": ["person"], "per_page": 5, "page": 1},
        ),
        call(admin_key, "surveyResponse.all", {"per_page": 1, "page": 3}),
        call(admin_key, "surveyResponse.retrieve", new_id, {"expand": ["person"]}),
        call(
            write_key,
            "surveyResponse.save",
            object={"id": new_id, "score": 10, "comment": "Much better after the call"},
        ),
    )
    assert [r["id"] for r in everything["value"]] == [str(old.pk), new_id]  # oldest first
    assert [r["id"] for r in recent["value"]] == [new_id]
    assert recent["value"][0]["person"]["email"] == "resp@example.net"
    assert page_3 == {"ok": True, "value": []}
    assert one["value"]["person"]["name"] == "Res Pondent"
    assert saved["ok"], saved
    assert (saved["value"]["score"], saved["value"]["comment"]) == (
        10,
        "Much better after the call",
    )
    response = Response.objects.get(pk=int(new_id))
    assert (response.score, response.category) == (10, "promoter")


def test_metrics_over_since_until_and_a_trend(node_calls, read_key, metrics_history):
    now = metrics_history
    everything, recent, billing = node_calls(
        call(read_key, "metrics.retrieve"),
        call(read_key, "metrics.retrieve", {"since": ts(now - dt.timedelta(days=30))}),
        call(read_key, "metrics.retrieve", {"trend": "billing", "until": ts(now)}),
    )
    assert everything["value"] == METRICS_ALL_TIME
    assert (recent["value"]["nps"], recent["value"]["response_count"]) == (25, 4)
    assert (billing["value"]["nps"], billing["value"]["detractor_count"]) == (-100, 1)


def test_unsubscribes_bounces_and_pending_survey_requests(
    node_calls, write_key, admin_key, touchpoint
):
    moment = timezone.now().replace(microsecond=0) - dt.timedelta(days=1)
    bounced = PersonFactory(email="dead@example.net", bounced_at=moment)
    later = PersonFactory(email="later@example.net")
    pending = InvitationFactory(
        person=later,
        touchpoint=touchpoint,
        status=Invitation.Status.SCHEDULED,
        sent_at=None,
        scheduled_for=timezone.now() + dt.timedelta(days=3),
    )
    unsubscribed, unsubscribes, bounces, cancelled = node_calls(
        call(write_key, "unsubscribe.create", {"person_email": "stop@example.net"}),
        call(admin_key, "unsubscribe.all"),
        call(admin_key, "bounce.all", {"page": 1}),
        call(write_key, "surveyRequest.deletePending", {"person_email": "later@example.net"}),
    )
    assert unsubscribed == {"ok": True, "value": {"ok": True}}
    assert [u["email"] for u in unsubscribes["value"]] == ["stop@example.net"]
    assert Person.objects.get(email="stop@example.net").unsubscribed_at is not None
    assert [(b["person_id"], b["email"], b["bounced_at"]) for b in bounces["value"]] == [
        (str(bounced.pk), "dead@example.net", ts(moment))
    ]
    assert cancelled == {"ok": True, "value": {"ok": True}}
    pending.refresh_from_db()
    assert pending.status == Invitation.Status.CANCELLED


def test_people_are_deleted_by_email_id_and_phone_number(
    node_calls, write_key, admin_key, touchpoint
):
    ann = PersonFactory(email="ann@example.net")
    bob = PersonFactory(email="bob@example.net")
    PersonFactory(email="", phone="+33612345678")
    (answered,) = node_calls(
        call(
            write_key,
            "surveyResponse.create",
            {"person": str(ann.pk), "score": 2, "comment": "ann@example.net says hi"},
        )
    )
    assert answered["ok"], answered
    by_email, by_id, by_phone, again = node_calls(
        call(admin_key, "person.delete", {"email": "ann@example.net"}),
        call(admin_key, "person.delete", {"id": bob.pk}),
        call(admin_key, "person.delete", {"phone_number": "+33612345678"}),
        call(admin_key, "person.delete", {"email": "ann@example.net"}),
    )
    assert by_email == by_id == by_phone == {"ok": True, "value": {"ok": True}}
    assert not again["ok"]  # gone: 404, which the client reports as a GeneralAPIError
    assert not Person.objects.exists()
    kept = Response.objects.get()
    assert (kept.score, kept.person, kept.comment) == (2, None, "")  # erased, NPS kept


def test_errors_are_the_clients_own_error_types(node_calls, read_key, write_key, touchpoint):
    person = PersonFactory()
    bad_key = ("", "cxh_wrong")
    denied, invalid, no_address = node_calls(
        call(bad_key, "metrics.retrieve"),
        call(write_key, "surveyResponse.create", {"person": str(person.pk), "score": 11}),
        call(write_key, "person.create", {"name": "Nobody"}),
    )
    assert denied["type"] == "AuthenticationError"
    assert invalid["type"] == "ResourceValidationError"
    body = json.loads(invalid["message"])
    assert body["status"] == 422 and list(body["errors"]) == ["score"]
    assert no_address["type"] == "ResourceValidationError"
    assert not Response.objects.exists()

    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "v1": "2/min"}
    with override_settings(
        REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    ):
        *allowed, throttled = node_calls(*[call(read_key, "metrics.retrieve")] * 3)
    assert all(r["ok"] for r in allowed)
    assert throttled["type"] == "TooManyRequestsError"
    assert 1 <= throttled["retryAfter"] <= 60 and throttled["retryAfter"] == int(
        throttled["retryAfter"]
    )
