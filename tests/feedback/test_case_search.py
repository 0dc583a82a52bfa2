"""Finding a case from the queue: by number, or by the customer's name or email, among
the cases the user may open (design §6), with and without htmx."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from feedback import services
from feedback.models import FollowUpCase
from surveys import services as survey_services


@pytest.fixture
def case(record, touchpoint):
    response = record(touchpoint, 2, email="claire.fontaine@example.net", comment="Still down")
    return response.case


@pytest.fixture
def other_teams_case(record, touchpoint_b):
    person = survey_services.person_upsert(email="bruno@example.org", name="Bruno Marchal")
    with_case = record(touchpoint_b, 1)
    with_case.person = person
    with_case.save()
    return with_case.case


def _search(client, q, **headers):
    return client.get("/cases/", {"q": q}, headers=headers)


@pytest.mark.parametrize("q", ["#{pk}", "{pk}", " # {pk} ", "case {pk}"])
def test_a_manager_finds_a_case_by_its_number(client, case, manager_a, q):
    client.force_login(manager_a)
    page = _search(client, q.format(pk=case.pk))
    assert page.status_code == 200
    assert [row.pk for row in page.context["search"].rows] == [case.pk]
    assert f'href="/cases/{case.pk}/">#{case.pk}<' in page.content.decode()


@pytest.mark.parametrize(
    "q", ["Claire", "fontaine", "CLAIRE FONTAINE", "claire.fontaine@example.net", "@example.net"]
)
def test_a_manager_finds_a_case_by_the_customers_name_or_email(client, case, manager_a, q):
    client.force_login(manager_a)
    page = _search(client, q)
    assert [row.pk for row in page.context["search"].rows] == [case.pk]
    text = page.content.decode()
    assert "Claire Fontaine" in text and "claire.fontaine@example.net" in text


def test_a_whole_address_matches_exactly_not_as_a_part(client, case, manager_a, record, touchpoint):
    record(touchpoint, 3, email="xclaire.fontaine@example.net")
    client.force_login(manager_a)
    rows = _search(client, "Claire.Fontaine@example.net").context["search"].rows
    assert [row.pk for row in rows] == [case.pk]


def test_a_manager_of_another_team_finds_nothing_and_learns_nothing(
    client, case, manager_b, other_teams_case
):
    client.force_login(manager_b)
    for q in (f"#{case.pk}", "Claire", "claire.fontaine@example.net", "example.net"):
        page = _search(client, q)
        assert case.pk not in [r.pk for r in page.context["search"].rows], q
        text = page.content.decode()
        assert f'href="/cases/{case.pk}/"' not in text, q
        assert "Still down" not in text and "Claire Fontaine" not in text, q
        if q != "claire.fontaine@example.net":  # what they typed comes back, nothing else
            assert "claire.fontaine@example.net" not in text, q
    # Their own team's customer, yes.
    assert [r.pk for r in _search(client, "Bruno").context["search"].rows] == [other_teams_case.pk]
    assert [r.pk for r in _search(client, "example").context["search"].rows] == [
        other_teams_case.pk
    ]


def test_a_cx_admin_finds_every_teams_cases(client, case, other_teams_case, cx_admin):
    client.force_login(cx_admin)
    rows = _search(client, "example").context["search"].rows
    assert {r.pk for r in rows} == {case.pk, other_teams_case.pk}


@pytest.mark.parametrize("persona", ["employee", "executive"])
def test_employees_and_executives_cannot_search_cases(request, client, case, persona):
    client.force_login(request.getfixturevalue(persona))
    page = _search(client, "Claire")
    assert page.status_code == 403
    assert b"Claire" not in page.content and b"claire.fontaine" not in page.content


def test_closed_cases_are_found_too(client, case, manager_a, root_cause):
    services.contact_attempt_log(case=case, by=manager_a, outcome="reached")
    services.case_close(
        case=case, by=manager_a, outcome="resolved", root_causes=[root_cause], resolution="ok"
    )
    client.force_login(manager_a)
    page = _search(client, f"#{case.pk}")
    assert [r.pk for r in page.context["search"].rows] == [case.pk]
    assert "Closed" in page.content.decode()


def test_no_match_says_so_with_the_query_escaped(client, case, manager_a):
    client.force_login(manager_a)
    text = _search(client, "<b>Nobody</b>").content.decode()
    assert "No case matches “&lt;b&gt;Nobody&lt;/b&gt;”." in text
    assert "<b>Nobody</b>" not in text
    text = _search(client, "#999999").content.decode()
    assert "No case matches “#999999”." in text


@pytest.mark.parametrize("q", ["99999999999999999999999", "#9223372036854775808", "x" * 500])
def test_odd_queries_are_no_match_not_an_error(client, case, manager_a, q):
    client.force_login(manager_a)
    page = _search(client, q)
    assert page.status_code == 200
    assert page.context["search"].rows == []


def test_a_case_number_is_one_primary_key_lookup(client, case, manager_a):
    client.force_login(manager_a)
    with CaptureQueriesContext(connection) as ctx:
        _search(client, f"#{case.pk}")
    [sql] = [q["sql"] for q in ctx.captured_queries if 'FROM "feedback_followupcase"' in q["sql"]]
    assert f'"feedback_followupcase"."id" = {case.pk}' in sql
    assert "LIKE" not in sql.upper()
    assert "LIMIT 25" in sql


def test_a_name_search_is_bounded(client, record, touchpoint, manager_a):
    for _ in range(27):
        record(touchpoint, 4, email=None)
    assert FollowUpCase.objects.count() == 27
    person = survey_services.person_upsert(email="same@example.net", name="Same Customer")
    from surveys.models import Response

    Response.objects.update(person=person)
    client.force_login(manager_a)
    with CaptureQueriesContext(connection) as ctx:
        page = _search(client, "Same Cust")
    assert len(page.context["search"].rows) == 25
    assert "(the 25 newest)" in page.content.decode()
    [sql] = [q["sql"] for q in ctx.captured_queries if 'FROM "feedback_followupcase"' in q["sql"]]
    assert "LIMIT 25" in sql


def test_htmx_swaps_the_results_into_the_queue_and_a_history_restore_gets_the_page(
    client, case, manager_a
):
    client.force_login(manager_a)
    partial = _search(client, "Claire", HX_Request="true")
    text = partial.content.decode()
    assert "<html" not in text and 'id="case-q"' not in text
    assert f'data-case="{case.pk}"' in text
    assert "HX-Request" in partial["Vary"]
    full = _search(client, "Claire", HX_Request="true", HX_History_Restore_Request="true")
    assert "<html" in full.content.decode()
    # Without JS: a GET form to the same page, the query kept in the box.
    page = _search(client, "Claire").content.decode()
    assert 'method="get" action="/cases/"' in page and 'value="Claire"' in page
    assert 'hx-get="/cases/"' in page


def test_claiming_from_the_results_shows_the_results_again(client, case, manager_a):
    client.force_login(manager_a)
    text = _search(client, "Claire").content.decode()
    assert f'hx-post="/cases/{case.pk}/claim/?q=Claire"' in text
    answer = client.post(f"/cases/{case.pk}/claim/?q=Claire", headers={"HX-Request": "true"})
    assert answer.status_code == 200
    assert answer.context["search"].rows[0].assignee == "Mia Manager"
    assert "Cases matching “Claire”" in answer.content.decode()
    case.refresh_from_db()
    assert case.assignee == manager_a


def test_without_a_query_the_queue_is_as_before(client, case, manager_a):
    client.force_login(manager_a)
    page = _search(client, "   ")
    assert "search" not in page.context or not page.context["search"]
    assert "Unassigned in my teams" in page.content.decode()
