"""`manage.py seed_demo`: the demo a newcomer clicks through, and its printed logins."""

import datetime as dt
import io

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Sum
from django.utils import timezone

from cxhub import roles
from cxhub.models import Membership, Team
from surveys.models import NpsDaily, Response, Touchpoint

# The logins the README documents: changing one is a change to the README too.
DEMO_LOGINS = {
    "admin": ("admin", "CX admin"),
    "exec": ("demo-exec", "Executive"),
    "lead": ("demo-lead", "Team lead, Customer Support"),
    "manager": ("demo-manager", "Manager, Customer Support"),
    "manager2": ("demo-manager2", "Manager, Billing"),
    "employee": ("demo-employee", "Employee"),
}
TOUCHPOINTS = {
    "onboarding",
    "billing",
    "support-call",
    "network-coverage",
    "store-visit",
    "technician-visit",
}
SIZE = 600


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", "--responses", str(SIZE), "--force", stdout=out)  # DEBUG is off
    return out.getvalue()


def row_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


@pytest.mark.django_db
def test_every_printed_demo_login_can_sign_in(client):
    output = seed()

    assert "Demo logins" in output
    for username, (password, role) in DEMO_LOGINS.items():
        assert username in output and password in output and role in output
        # Through the login page, as a person would (and as django-axes needs: a request).
        page = client.post("/login/", {"username": username, "password": password})
        assert page.status_code == 302, username
        client.logout()


@pytest.mark.django_db
def test_demo_logins_hold_the_roles_they_are_printed_with():
    seed()
    users = {u.username: u for u in get_user_model().objects.filter(username__in=DEMO_LOGINS)}

    assert users["admin"].is_superuser and users["admin"].is_staff
    assert roles.is_cx_admin(users["admin"])
    assert roles.is_executive(users["exec"])
    assert Team.objects.get(name="Customer Support").lead == users["lead"]
    assert roles.role_label(users["manager"]) == "Manager"
    assert roles.role_label(users["manager2"]) == "Manager"
    assert roles.role_label(users["employee"]) == "Employee"
    assert not roles.managed_team_ids(users["employee"])


@pytest.mark.django_db
def test_every_team_has_a_lead_managers_and_employees():
    seed()

    for team in Team.objects.all():
        counts = {
            role: team.memberships.filter(role=role).count() for role in Membership.Role.values
        }
        assert team.lead is not None, team
        assert counts["lead"] == 1, team
        assert 2 <= counts["manager"] <= 3, team
        assert counts["employee"] >= 3, team


@pytest.mark.django_db
def test_touchpoints_are_owned_by_teams_with_their_own_targets():
    seed()
    touchpoints = list(Touchpoint.objects.select_related("owner_team"))

    assert {tp.slug for tp in touchpoints} == TOUCHPOINTS
    assert all(tp.owner_team is not None for tp in touchpoints)
    assert len({tp.nps_target for tp in touchpoints}) > 1
    assert {tp.followup_deadline_hours for tp in touchpoints} <= {24, 48}


@pytest.mark.django_db
def test_rollups_count_every_seeded_response():
    seed()
    totals = NpsDaily.objects.aggregate(
        promoters=Sum("promoters"), passives=Sum("passives"), detractors=Sum("detractors")
    )

    assert Response.objects.count() == SIZE
    assert sum(totals.values()) == SIZE
    assert totals["detractors"] == Response.objects.filter(category="detractor").count()


@pytest.mark.django_db
def test_every_open_case_past_its_deadline_is_escalated_as_beat_would_have():
    """`make run` has no beat: the queue's overdue and escalated counters must agree."""
    from feedback.models import FollowUpCase

    seed()
    overdue = FollowUpCase.objects.overdue(timezone.now() - dt.timedelta(minutes=5))
    assert overdue.exists()
    assert not overdue.filter(escalated_at__isnull=True).exists()
    assert not overdue.filter(escalation_notified_at__isnull=True).exists()


@pytest.mark.django_db
def test_each_demo_action_answers_the_root_causes_it_is_about():
    from feedback.models import ImprovementAction

    seed()
    causes = {
        a.title: sorted(rc.name for rc in a.root_causes.all())
        for a in ImprovementAction.objects.prefetch_related("root_causes")
    }
    assert causes["Call-back within 2 hours"] == ["Long wait on the phone"]
    assert causes["Three new masts in rural areas"] == ["Poor network coverage"]


@pytest.mark.django_db
def test_some_promoter_comments_praise_a_seeded_employee_by_full_name():
    seed()
    staff = {
        f"{m.user.first_name} {m.user.last_name}"
        for m in Membership.objects.exclude(role=Membership.Role.LEAD).select_related("user")
    }
    comments = Response.objects.filter(category="promoter").exclude(comment="")

    assert any(name in c for c in comments.values_list("comment", flat=True) for name in staff)


@pytest.mark.django_db
def test_seed_demo_is_idempotent():
    first_output = seed()
    before = row_counts()

    second_output = seed()

    assert row_counts() == before
    assert "no demo responses added" in second_output
    login_table = first_output[first_output.index("Demo logins") :]
    assert second_output.endswith(login_table)


@pytest.mark.django_db
def test_a_second_run_keeps_a_password_the_user_changed(client):
    seed()
    user = get_user_model().objects.get(username="manager")
    user.set_password("my-own-secret")
    user.save()

    seed()

    page = client.post("/login/", {"username": "manager", "password": "my-own-secret"})
    assert page.status_code == 302


@pytest.mark.django_db(transaction=True)
def test_responses_and_their_cases_commit_together(monkeypatch):
    """A run that dies after loading the responses leaves no detractor without a case:
    the responses are not kept either."""
    from feedback import demo

    def fail(**kwargs):
        raise RuntimeError("interrupted")

    monkeypatch.setattr(demo, "seed_cases", fail)
    with pytest.raises(RuntimeError, match="interrupted"):
        seed()
    assert not Response.objects.exists()


@pytest.mark.django_db
def test_with_debug_off_it_refuses_without_force_and_creates_nothing(settings):
    """A production database would otherwise get a superuser admin/admin."""
    from django.contrib.auth import get_user_model
    from django.core.management.base import CommandError

    settings.DEBUG = False
    with pytest.raises(CommandError, match="--force"):
        call_command("seed_demo", "--responses", "0", stdout=io.StringIO())
    assert not get_user_model().objects.exists()
    settings.DEBUG = True  # make run's embedded default
    call_command("seed_demo", "--responses", "0", stdout=io.StringIO())
    assert get_user_model().objects.filter(username="admin", is_superuser=True).exists()
