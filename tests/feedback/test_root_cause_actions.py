"""From a root cause on the touchpoint page to an improvement action (the outer loop)."""

import html

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cxhub.models import Membership
from feedback import services
from feedback.models import ImprovementAction, RootCause
from tests.factories import MembershipFactory, UserFactory


@pytest.fixture
def lead_b(team_b):
    user = UserFactory(username="bea", first_name="Bea", last_name="Lead")
    MembershipFactory(user=user, team=team_b, role=Membership.Role.LEAD)
    return user


@pytest.fixture
def resolved_case(record, touchpoint, manager_a, root_cause):
    """A detractor's case at the support call, resolved with `root_cause`."""
    case = record(touchpoint, 2, email="claire@example.net").case
    services.contact_attempt_log(case=case, by=manager_a, outcome="reached")
    services.case_close(
        case=case, by=manager_a, outcome="resolved", root_causes=[root_cause], resolution="ok"
    )
    return case


def _page(client, touchpoint) -> str:
    return html.unescape(client.get(f"/touchpoints/{touchpoint.slug}/").content.decode())


def _plan_url(root_cause, touchpoint, team=None) -> str:
    url = f"/cases/actions/new/?root_cause={root_cause.pk}&touchpoint={touchpoint.pk}"
    return f"{url}&team={team.pk}" if team else url


def test_the_touchpoints_lead_plans_an_action_from_a_root_cause_with_it_chosen(
    client, lead_a, team_a, touchpoint, root_cause, resolved_case
):
    client.force_login(lead_a)
    plan = _plan_url(root_cause, touchpoint, team_a)
    assert f'href="{plan}">Plan an action<' in _page(client, touchpoint)
    page = client.get(plan)
    form = page.context["form"]
    assert form["root_causes"].value() == [root_cause.pk]
    assert form["touchpoint"].value() == touchpoint.pk
    assert form["owner_team"].value() == team_a.pk
    assert f'value="{root_cause.pk}" id="id_root_causes_0" checked' in page.content.decode()


def test_a_cx_admin_finds_the_touchpoints_team_chosen_as_the_owner(
    client, cx_admin, team_a, team_b, touchpoint, root_cause, resolved_case
):
    client.force_login(cx_admin)
    plan = _plan_url(root_cause, touchpoint, team_a)
    assert f'href="{plan}">Plan an action<' in _page(client, touchpoint)
    form = client.get(plan).context["form"]
    assert form["owner_team"].value() == team_a.pk  # not left to choose among every team
    assert form["root_causes"].value() == [root_cause.pk]


@pytest.mark.parametrize("persona", ["employee", "executive", "manager_a", "manager_b", "lead_b"])
def test_who_may_not_create_an_action_for_the_touchpoints_team_sees_no_plan_link(
    request, client, persona, touchpoint, root_cause, resolved_case
):
    client.force_login(request.getfixturevalue(persona))
    text = _page(client, touchpoint)
    assert root_cause.name in text  # the Pareto itself is for everyone
    assert "Plan an action" not in text
    assert "/cases/actions/new/" not in text


def test_ids_the_user_may_not_choose_are_ignored_not_an_error(
    client, lead_a, team_a, team_b, touchpoint, root_cause
):
    retired = RootCause.objects.create(name="Retired cause", active=False)
    client.force_login(lead_a)
    for query in (
        f"root_cause={retired.pk}&team={team_b.pk}&touchpoint=999999",
        "root_cause=abc&team=&touchpoint=x",
        "root_cause=99999999999999999999&team=99999999999999999999&touchpoint=-1",
        f"root_cause={root_cause.pk}&root_cause=999999&team={team_b.pk}",
    ):
        page = client.get(f"/cases/actions/new/?{query}")
        assert page.status_code == 200, query
        form = page.context["form"]
        assert form["owner_team"].value() == team_a.pk, query  # another team's: ignored
        assert form["touchpoint"].value() is None, query
        given = QueryDict(query).getlist("root_cause")
        expected = [root_cause.pk] if str(root_cause.pk) in given else []
        assert list(form["root_causes"].value() or []) == expected, query


def test_a_preselected_form_still_refuses_another_teams_owner_on_save(
    client, lead_a, team_b, touchpoint, root_cause
):
    client.force_login(lead_a)
    page = client.post(
        f"/cases/actions/new/?team={team_b.pk}",
        {"title": "x", "summary": "y", "owner_team": team_b.pk, "status": "planned"},
    )
    assert page.status_code == 400
    assert not ImprovementAction.objects.exists()


def test_an_open_action_on_the_root_cause_is_linked_instead_of_planning_another(
    client, lead_a, cx_admin, employee, team_a, team_b, touchpoint, root_cause, resolved_case
):
    action = ImprovementAction.objects.create(
        title="Call back within 2 hours",
        summary="x",
        owner_team=team_a,
        touchpoint=touchpoint,
        status=ImprovementAction.Status.IN_PROGRESS,
    )
    action.root_causes.add(root_cause)
    client.force_login(lead_a)
    text = _page(client, touchpoint)
    edit = f"/cases/actions/{action.pk}/edit/"
    assert f'Action: <a href="{edit}">Call back within 2 hours</a> (in progress)' in text
    assert "Plan an action" not in text
    # A draft is for those who edit actions; published, everyone follows it.
    client.force_login(employee)
    assert "Call back within 2 hours" not in _page(client, touchpoint)
    action.published_at = timezone.now()
    action.save()
    text = _page(client, touchpoint)
    assert f'<a href="/cases/actions/#action-{action.pk}">Call back within 2 hours<' in text
    assert f'id="action-{action.pk}"' in client.get("/cases/actions/").content.decode()
    # Done: the root cause is open to a new action again.
    action.status = ImprovementAction.Status.DONE
    action.save()
    client.force_login(lead_a)
    text = _page(client, touchpoint)
    assert (
        "Call back within 2 hours"
        not in text.split("What drives detractors")[1].split("</table>")[0]
    )
    assert "Plan an action" in text


def test_an_open_action_at_another_touchpoint_does_not_count(
    client, lead_a, team_a, touchpoint, touchpoint_b, root_cause, resolved_case
):
    elsewhere = ImprovementAction.objects.create(
        title="Billing fix", summary="x", owner_team=team_a, touchpoint=touchpoint_b
    )
    elsewhere.root_causes.add(root_cause)
    client.force_login(lead_a)
    text = _page(client, touchpoint)
    assert "Billing fix" not in text
    assert "Plan an action" in text


def test_the_pareto_links_cost_the_same_queries_for_one_root_cause_or_many(
    client, record, lead_a, team_a, touchpoint, manager_a
):
    def add_cause(name, with_action):
        cause = RootCause.objects.create(name=name)
        case = record(touchpoint, 1).case
        case.root_causes.add(cause)
        if with_action:
            action = ImprovementAction.objects.create(
                title=f"Fix {name}", summary="x", owner_team=team_a, touchpoint=touchpoint
            )
            action.root_causes.add(cause)

    add_cause("Cause 0", True)
    client.force_login(lead_a)
    url = f"/touchpoints/{touchpoint.slug}/"
    client.get(url)  # warm the shared figures
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    for i in range(1, 6):
        add_cause(f"Cause {i}", i % 2 == 0)
    from django.core.cache import cache

    cache.clear()
    client.get(url)
    with CaptureQueriesContext(connection) as many:
        text = html.unescape(client.get(url).content.decode())
    assert text.count("Plan an action") == 3 and text.count("Action: <a") == 3
    assert len(many.captured_queries) == len(one.captured_queries)


def test_the_admin_publishes_an_action_with_a_tick_and_records_who_created_it(
    client, cx_admin, team_a, touchpoint
):
    from django.utils import timezone

    from feedback.models import ImprovementAction

    cx_admin.is_superuser = True
    cx_admin.save()
    client.force_login(cx_admin)
    form = client.get("/admin/feedback/improvementaction/add/").content.decode()
    assert 'name="publish"' in form and 'name="created_by"' not in form
    assert 'name="published_at_0"' not in form
    data = {
        "title": "Weekend support hours",
        "summary": "Open on Saturdays.",
        "owner_team": team_a.pk,
        "touchpoint": touchpoint.pk,
        "status": "planned",
    }
    assert client.post("/admin/feedback/improvementaction/add/", data).status_code == 302
    action = ImprovementAction.objects.get()
    assert (action.created_by, action.published_at) == (cx_admin, None)
    before = timezone.now()
    url = f"/admin/feedback/improvementaction/{action.pk}/change/"
    assert client.post(url, {**data, "publish": "on"}).status_code == 302
    action.refresh_from_db()
    assert action.published_at >= before and action.created_by == cx_admin
    first = action.published_at
    client.post(url, {**data, "publish": "on", "summary": "Open on Saturdays, 9 to 5."})
    action.refresh_from_db()
    assert action.published_at == first  # kept on a later edit
    client.post(url, data)
    action.refresh_from_db()
    assert action.published_at is None
