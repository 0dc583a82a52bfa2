"""The suppression list: what erasure keeps of an unsubscribe or a bounce, without the
address. A customer who unsubscribed and then asked to be erased is re-created by an
integration (POST /v1/people with Delighted's own client), a CSV import or the admin:
they come back unsubscribed and are not surveyed; a bounced address comes back bounced.
The database never holds the address again, only a digest keyed from SECRET_KEY, and a
key rotation with SECRET_KEY_FALLBACKS keeps matching."""

import datetime as dt
import hashlib
import logging
import warnings

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from cxhub import services as cxhub_services
from cxhub import webhooks
from cxhub.models import ApiKey, WebhookDelivery, WebhookEndpoint
from surveys import imports, services
from surveys.models import Invitation, Person, Suppression
from tests.api.test_erasure import where_found
from tests.factories import PersonFactory

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)  # "Delighted is being sunset"
    import delighted

live = pytest.mark.django_db(transaction=True)
db = pytest.mark.django_db

EMAIL = "zoe.quarantine@example.org"
PHONE = "+33699887766"


def _delighted(live_server, cx_admin, scope):
    """Delighted's official client pointed at the live server, with a key of `scope`
    (as tests/api/conftest.py's delighted_client)."""
    _, raw = cxhub_services.api_key_create(name=scope, scope=scope, created_by=cx_admin)
    return delighted.Client(api_key=raw, api_base_url=f"{live_server.url}/v1/")


@pytest.fixture
def admin_dl(live_server, cx_admin):
    return _delighted(live_server, cx_admin, ApiKey.Scope.ADMIN)


@pytest.fixture
def write_dl(live_server, cx_admin):
    return _delighted(live_server, cx_admin, ApiKey.Scope.WRITE)


def unsubscribed(**fields) -> Person:
    person = PersonFactory(**fields)
    return services.person_unsubscribe(person=person)


def digest(address: str) -> str:
    return services.suppression_digest(address)


# --- re-created over /v1/ by Delighted's own client ------------------------------------


@live
def test_an_unsubscribed_person_erased_and_re_created_by_email_is_not_surveyed(
    admin_dl, write_dl, touchpoint
):
    unsubscribed(email=EMAIL, phone=PHONE, name="Zoé Quarantine")
    assert delighted.Person.delete(client=admin_dl, email=EMAIL) == {"ok": True}
    assert not Person.objects.exists()
    assert delighted.Unsubscribe.all(client=admin_dl) == []  # no address left to list

    before = timezone.now()
    # The CRM pushes them again, spelt its own way.
    again = delighted.Person.create(client=write_dl, email="Zoe.Quarantine@Example.org")

    assert again.survey_scheduled_at is None
    assert again.survey_skipped_reason == "unsubscribed"
    person = Person.objects.get(email=EMAIL)
    assert person.unsubscribed_at >= before  # unsubscribed as of their re-creation
    invitation = person.invitations.get()
    assert (invitation.status, invitation.skip_reason) == (
        Invitation.Status.SKIPPED,
        Invitation.SkipReason.UNSUBSCRIBED,
    )
    assert mail.outbox == []
    assert [u.email for u in delighted.Unsubscribe.all(client=admin_dl)] == [EMAIL]


@live
def test_an_unsubscribed_person_erased_and_re_created_by_phone_is_not_texted(
    admin_dl, write_dl, touchpoint, caplog
):
    unsubscribed(email=EMAIL, phone=PHONE)
    assert delighted.Person.delete(client=admin_dl, phone_number=PHONE) == {"ok": True}

    with caplog.at_level(logging.INFO, logger="surveys.services"):
        again = delighted.Person.create(
            client=write_dl, phone_number="+33 6 99 88 77 66", channel="sms"
        )

    assert again.survey_skipped_reason == "unsubscribed"
    person = Person.objects.get(phone=PHONE)
    assert (person.email, person.unsubscribed_at is not None) == ("", True)
    assert person.invitations.get().skip_reason == Invitation.SkipReason.UNSUBSCRIBED
    assert "SMS to" not in caplog.text


@live
def test_a_bounced_address_erased_and_re_created_is_a_bounce_again(admin_dl, write_dl, touchpoint):
    PersonFactory(email=EMAIL, phone=PHONE, bounced_at=timezone.now() - dt.timedelta(days=3))
    assert delighted.Person.delete(client=admin_dl, email=EMAIL) == {"ok": True}
    assert delighted.Bounce.all(client=admin_dl) == []

    before = timezone.now()
    delighted.Person.create(client=write_dl, email=EMAIL, send=False)
    # A phone does not bounce: someone re-created by the same number alone is not one.
    by_phone = delighted.Person.create(
        client=write_dl, phone_number=PHONE, channel="sms", send=False
    )

    person = Person.objects.get(email=EMAIL)
    assert person.bounced_at >= before
    assert person.unsubscribed_at is None  # a bounce is not an unsubscribe
    assert Person.objects.get(pk=by_phone.id).bounced_at is None
    assert [(b.person_id, b.email) for b in delighted.Bounce.all(client=admin_dl)] == [
        (str(person.pk), EMAIL)
    ]


@live
def test_only_an_erased_persons_own_unsubscribe_comes_back(admin_dl, write_dl, touchpoint):
    unsubscribed(email=EMAIL)
    PersonFactory(email="never@example.net")  # never unsubscribed, never bounced
    for email in (EMAIL, "never@example.net"):
        assert delighted.Person.delete(client=admin_dl, email=email) == {"ok": True}
    assert Suppression.objects.count() == 1

    stays_away = delighted.Person.create(client=write_dl, email=EMAIL)
    comes_back = delighted.Person.create(client=write_dl, email="never@example.net")

    assert stays_away.survey_skipped_reason == "unsubscribed"
    assert comes_back.survey_scheduled_at is not None
    assert comes_back.survey_skipped_reason is None
    person = Person.objects.get(email="never@example.net")
    assert (person.unsubscribed_at, person.bounced_at) == (None, None)
    assert person.invitations.get().status == Invitation.Status.SENT
    assert [m.to for m in mail.outbox] == [["never@example.net"]]


# --- what is kept, and the key ---------------------------------------------------------


@db
def test_erasure_keeps_a_keyed_digest_of_each_address_and_never_the_address(touchpoint):
    person = unsubscribed(email=EMAIL, phone=PHONE, name="Zoé Quarantine")
    Person.objects.filter(pk=person.pk).update(bounced_at=timezone.now())

    services.person_erase(person=person)

    kept = set(Suppression.objects.values_list("kind", "digest"))
    assert kept == {
        (Suppression.Kind.UNSUBSCRIBED, digest(f"email:{EMAIL}")),
        (Suppression.Kind.UNSUBSCRIBED, digest(f"phone:{PHONE}")),
        (Suppression.Kind.BOUNCED, digest(f"email:{EMAIL}")),
    }
    # Not a plain hash, which anyone could compute from a guessed address.
    plain = {
        hashlib.sha256(value.encode()).hexdigest()
        for value in (EMAIL, PHONE, f"email:{EMAIL}", f"phone:{PHONE}")
    }
    assert not plain & {d for _, d in kept}
    for needle in (EMAIL, "zoe.quarantine", "99887766", "Quarantine"):
        assert where_found(needle) == []


@db
def test_a_key_rotation_keeps_matching_while_the_old_key_is_a_fallback(settings, touchpoint):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "old-key-" + "o" * 50, []
    services.person_erase(person=unsubscribed(email=EMAIL, phone=PHONE))
    services.person_erase(person=unsubscribed(email="retired@example.net"))

    settings.SECRET_KEY = "new-key-" + "n" * 50
    settings.SECRET_KEY_FALLBACKS = ["old-key-" + "o" * 50]
    assert services.person_upsert(email=EMAIL).unsubscribed_at is not None
    assert services.person_upsert(phone=PHONE).unsubscribed_at is not None
    # The CSV import matches in SQL: under every key too.
    Person.objects.filter(email=EMAIL).delete()
    _import(touchpoint, [["7", EMAIL, ""]])
    assert Person.objects.get(email=EMAIL).unsubscribed_at is not None

    # Once the old key is dropped from the fallbacks its suppressions match nothing.
    settings.SECRET_KEY_FALLBACKS = []
    assert services.person_upsert(email="retired@example.net").unsubscribed_at is None


@db
def test_re_creating_a_suppressed_person_sends_no_second_unsubscribe_webhook(touchpoint):
    WebhookEndpoint.objects.create(
        url="https://hooks.example.com/cx", events=[WebhookEndpoint.Event.UNSUBSCRIBE_CREATED]
    )
    webhooks.webhook_endpoints_forget()
    person = unsubscribed(email=EMAIL)
    announced = WebhookDelivery.objects.filter(event=WebhookEndpoint.Event.UNSUBSCRIBE_CREATED)
    assert announced.count() == 1
    services.person_erase(person=person)

    again = services.person_upsert(email=EMAIL)
    services.person_unsubscribe(person=again)  # an integration unsubscribing them again

    assert again.unsubscribed_at is not None
    assert announced.count() == 1  # announced when the customer unsubscribed, once


# --- CSV imports -----------------------------------------------------------------------


def _import(touchpoint, rows):
    """A Delighted CSV import of rows [score, email, phone], run to the end."""
    lines = ["Score,Response date,Email,Phone number"] + [
        f"{score},2024-04-18 05:34:20 +0000,{email},{phone}" for score, email, phone in rows
    ]
    created = imports.response_import_create(
        filename="crm.csv",
        content="\n".join(lines) + "\n",
        default_touchpoint=touchpoint,
        enqueue=False,
    )
    done = imports.response_import_run(import_id=created.pk)
    assert (done.status, done.skipped) == ("done", 0), done.report


@db
@pytest.mark.parametrize("copy", [True, False], ids=["COPY", "ORM"])
def test_a_csv_import_re_creates_suppressed_people_unsubscribed_or_bounced(
    touchpoint, monkeypatch, copy
):
    monkeypatch.setattr(imports, "USE_COPY", copy)
    services.person_erase(person=unsubscribed(email=EMAIL, phone=PHONE))
    services.person_erase(person=PersonFactory(email="dead@example.net", bounced_at=timezone.now()))
    PersonFactory(email="known@example.net")
    before = timezone.now()

    _import(
        touchpoint,
        [
            ["9", EMAIL, ""],
            ["3", "", "+33 6 99 88 77 66"],  # by phone alone: another person, the same number
            ["8", "dead@example.net", ""],
            ["7", "fresh@example.net", ""],
            ["6", "known@example.net", ""],
        ],
    )

    state = {
        p.email or p.phone: (p.unsubscribed_at is not None, p.bounced_at is not None)
        for p in Person.objects.all()
    }
    assert state == {
        EMAIL: (True, False),
        PHONE: (True, False),
        "dead@example.net": (False, True),
        "fresh@example.net": (False, False),
        "known@example.net": (False, False),
    }
    assert Person.objects.get(email=EMAIL).unsubscribed_at >= before


# --- the admin -------------------------------------------------------------------------


@pytest.fixture
def superuser_web(cx_admin):
    cx_admin.is_superuser = True
    cx_admin.save()
    web = Client()
    web.force_login(cx_admin)
    return web


@db
def test_the_admin_lists_suppressions_read_only_with_the_digest_cut_short(
    superuser_web, touchpoint
):
    services.person_erase(person=unsubscribed(email=EMAIL))
    row = Suppression.objects.get()

    page = superuser_web.get("/admin/surveys/suppression/")

    assert page.status_code == 200
    text = page.content.decode()
    assert "Unsubscribed" in text and f"{row.digest[:12]}…" in text
    assert row.digest not in text
    assert superuser_web.get("/admin/surveys/suppression/add/").status_code == 403
    detail = superuser_web.post(f"/admin/surveys/suppression/{row.pk}/change/", {"kind": "bounced"})
    assert detail.status_code == 403
    assert Suppression.objects.get().kind == Suppression.Kind.UNSUBSCRIBED


@db
def test_only_a_superuser_lifts_a_suppression_and_then_the_person_is_surveyed_again(
    superuser_web, employee, touchpoint
):
    from django.contrib.auth.models import Permission

    services.person_erase(person=unsubscribed(email=EMAIL))
    row = Suppression.objects.get()
    staff = employee
    staff.is_staff = True
    staff.save()
    staff.user_permissions.set(Permission.objects.filter(codename__endswith="_suppression"))
    staff_web = Client()
    staff_web.force_login(staff)
    assert staff_web.get("/admin/surveys/suppression/").status_code == 200
    assert (
        staff_web.post(f"/admin/surveys/suppression/{row.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )

    page = superuser_web.post(f"/admin/surveys/suppression/{row.pk}/delete/", {"post": "yes"})

    assert page.status_code == 302
    assert not Suppression.objects.exists()
    assert services.person_upsert(email=EMAIL).unsubscribed_at is None


@db
def test_a_person_added_in_the_admin_with_a_suppressed_address_starts_unsubscribed(
    superuser_web, touchpoint
):
    services.person_erase(person=unsubscribed(email=EMAIL))

    page = superuser_web.post(
        "/admin/surveys/person/add/",
        {
            "email": EMAIL,
            "phone": "",
            "name": "Zoé",
            "external_id": "",
            "locale": "",
            "properties": "{}",
            "created_at_0": "2030-01-01",
            "created_at_1": "00:00:00",
        },
        follow=True,
    )

    assert page.status_code == 200
    assert "suppression list" in page.content.decode()
    assert Person.objects.get(email=EMAIL).unsubscribed_at is not None


@db
def test_clearing_a_re_created_persons_unsubscribe_in_the_admin_lifts_the_suppression(
    superuser_web, touchpoint
):
    """The customer opted back in: an admin clears the unsubscribe the suppression list
    gave the re-created person. Erased and re-created once more, they must not come
    back unsubscribed."""
    services.person_erase(person=unsubscribed(email=EMAIL, phone=PHONE))
    again = services.person_upsert(email=EMAIL, phone=PHONE, name="Zoé")
    assert again.unsubscribed_at is not None
    page = superuser_web.post(
        f"/admin/surveys/person/{again.pk}/change/",
        {
            "email": EMAIL,
            "phone": PHONE,
            "name": "Zoé",
            "external_id": "",
            "locale": "",
            "properties": "{}",
            "unsubscribed_at_0": "",
            "unsubscribed_at_1": "",
            "created_at_0": "2030-01-01",
            "created_at_1": "00:00:00",
        },
    )
    assert page.status_code == 302, page.content.decode()[:2000]
    again.refresh_from_db()
    assert again.unsubscribed_at is None
    assert not Suppression.objects.filter(kind=Suppression.Kind.UNSUBSCRIBED).exists()
    services.person_erase(person=again)
    assert services.person_upsert(email=EMAIL, name="Zoé").unsubscribed_at is None
    assert services.person_upsert(phone=PHONE, name="Z").unsubscribed_at is None
