"""The queue, the case page and improvement actions through HTTP, with the permission matrix."""

import pytest
from django.core import mail

from feedback.models import FollowUpCase, ImprovementAction


@pytest.fixture
def case(record, touchpoint):
    response = record(touchpoint, 2, email="claire@example.net", comment="Still no internet")
    person = response.person
    person.phone = "+33612345678"
    person.save()
    case = response.case
    case.refresh_from_db()
    return case


# --- the permission matrix (design §6) --------------------------------------------------

CASE_URLS = ["/cases/{pk}/"]


@pytest.mark.parametrize("persona", ["manager_a", "lead_a", "cx_admin"])
def test_the_teams_managers_its_lead_and_cx_admins_see_the_case_and_contact_details(
    request, client, case, persona
):
    client.force_login(request.getfixturevalue(persona))
    page = client.get(f"/cases/{case.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'href="tel:+33612345678"' in html
    assert "claire@example.net" in html
    assert "Still no internet" in html


@pytest.mark.parametrize("persona", ["employee", "executive", "manager_b"])
def test_everyone_else_gets_404_and_no_data(request, client, case, persona):
    client.force_login(request.getfixturevalue(persona))
    for url in (
        f"/cases/{case.pk}/",
        f"/cases/{case.pk}/claim/",
        f"/cases/{case.pk}/attempts/",
        f"/cases/{case.pk}/close/",
        f"/cases/{case.pk}/notes/",
        f"/cases/{case.pk}/assign/",
    ):
        page = client.post(url, {"outcome": "reached"}) if url.count("/") > 3 else client.get(url)
        assert page.status_code == 404, url
        assert b"claire@example.net" not in page.content
        assert b"+33612345678" not in page.content
    case.refresh_from_db()
    assert case.attempts.count() == 0


@pytest.mark.parametrize("persona", ["employee", "executive"])
def test_employees_and_executives_have_no_queue(request, client, case, persona):
    client.force_login(request.getfixturevalue(persona))
    page = client.get("/cases/")
    assert page.status_code == 403
    assert b"Still no internet" not in page.content
    assert b">Cases<" not in client.get("/").content


def test_anonymous_users_are_sent_to_login(client, case):
    for url in ("/cases/", f"/cases/{case.pk}/", "/cases/actions/"):
        assert client.get(url)["Location"].startswith("/login/")


def test_a_manager_of_another_team_sees_none_of_team_as_cases_in_the_queue(client, case, manager_b):
    client.force_login(manager_b)
    page = client.get("/cases/")
    assert page.status_code == 200
    assert b"Still no internet" not in page.content
    assert page.context["counters"].open == 0


def test_a_manager_who_left_the_team_no_longer_sees_its_case_assigned_to_them(
    client, case, manager_a, lead_a, team_a, team_b
):
    from cxhub.models import Membership
    from feedback import services as case_services

    case_services.case_claim(case_id=case.pk, user=manager_a)
    Membership.objects.filter(user=manager_a, team=team_a).update(team=team_b)
    client.force_login(manager_a)
    page = client.get("/cases/")
    assert page.status_code == 200
    assert "Still no internet" not in page.content.decode()
    assert client.get(f"/cases/{case.pk}/").status_code == 404
    client.force_login(lead_a)  # the team's lead sees it, to reassign it
    assert "Still no internet" in client.get("/cases/").content.decode()


def test_priorities_are_named_in_words_the_angriest_customers_urgent(
    client, case, record, touchpoint, manager_a
):
    """Priority 3 (scores 0-2) is the most urgent: shown as "Urgent", not "P3", which
    most ticketing tools would read as the least urgent."""
    record(touchpoint, 5, email="five@example.net")
    client.force_login(manager_a)
    rows = {
        row.split('data-case="')[1].split('"')[0]: row
        for row in client.get("/cases/").content.decode().split("<tr")[1:]
        if 'data-case="' in row
    }
    normal = next(pk for pk in rows if pk != str(case.pk))
    assert 'data-label="Priority">Urgent<' in rows[str(case.pk)]
    assert 'data-label="Priority">Normal<' in rows[normal]
    assert "Priority urgent · due" in client.get(f"/cases/{case.pk}/").content.decode()


def test_non_numeric_case_id_is_404(client, manager_a, db):
    client.force_login(manager_a)
    assert client.get("/cases/abc/").status_code == 404


# --- the manager's day ---------------------------------------------------------------------


def test_a_lead_reads_every_overdue_and_escalated_case_page_by_page(
    client, record, touchpoint, touchpoint_b, lead_a, manager_a, manager_b, time_machine
):
    """The queue shows the 25 most urgent of each list; its counters open the lists in
    full (50 a page), within the cases the viewer may open."""
    from django.utils import timezone

    time_machine.move_to("2026-11-01 09:00 +01:00", tick=False)
    cases = [record(touchpoint, 2, comment=f"late {i}").case for i in range(60)]
    record(touchpoint_b, 2, comment="team B's")  # not lead A's to see
    FollowUpCase.objects.filter(pk__in=[c.pk for c in cases[:3]]).update(
        escalated_at=timezone.now() + timezone.timedelta(days=3)
    )
    time_machine.move_to("2026-11-10 09:00 +01:00", tick=False)
    client.force_login(lead_a)
    queue = client.get("/cases/")
    assert queue.context["counters"].escalated == 3
    html = queue.content.decode()
    assert 'href="?show=overdue#list"' in html and 'href="?show=escalated#list"' in html
    assert "see all</a>" in html  # "Assigned to others": 60, 25 shown

    first = client.get("/cases/?show=overdue")
    assert first.status_code == 200
    listing = first.context["listing"]
    assert (listing.paginator.count, len(listing.object_list)) == (60, 50)
    assert "Overdue" in first.content.decode() and "Page 1 of 2" in first.content.decode()
    second = client.get("/cases/?show=overdue&page=2").context["listing"]
    shown = {r.pk for r in listing.object_list} | {r.pk for r in second.object_list}
    assert shown == {c.pk for c in cases}
    assert "team B's" not in first.content.decode()

    escalated = client.get("/cases/?show=escalated").context["listing"]
    assert sorted(r.pk for r in escalated.object_list) == sorted(c.pk for c in cases[:3])
    # A manager of another team sees none of them; a bad page is the last one.
    client.force_login(manager_b)
    assert client.get("/cases/?show=overdue").context["listing"].paginator.count == 1
    client.force_login(lead_a)
    assert client.get("/cases/?show=overdue&page=99").context["listing"].number == 2
    # An empty list says so (and is not the queue's sections instead).
    FollowUpCase.objects.update(escalated_at=None)
    empty = client.get("/cases/?show=escalated").content.decode()
    assert "No escalated cases." in empty and "My cases" not in empty


def test_the_due_today_counter_opens_the_cases_due_before_midnight(
    client, record, touchpoint, lead_a, time_machine
):
    from django.utils import timezone

    time_machine.move_to("2026-11-10 09:00 +01:00", tick=False)
    today, tomorrow, late = (record(touchpoint, 2, comment=c).case for c in ("a", "b", "c"))
    now = timezone.now()
    FollowUpCase.objects.filter(pk=today.pk).update(due_at=now + timezone.timedelta(hours=5))
    FollowUpCase.objects.filter(pk=tomorrow.pk).update(due_at=now + timezone.timedelta(hours=20))
    FollowUpCase.objects.filter(pk=late.pk).update(due_at=now - timezone.timedelta(hours=1))
    client.force_login(lead_a)
    queue = client.get("/cases/")
    assert queue.context["counters"].due_today == 1
    assert 'href="?show=due_today#list"' in queue.content.decode()
    listing = client.get("/cases/?show=due_today").context["listing"]
    assert [r.pk for r in listing.object_list] == [today.pk]


def test_queue_lists_my_cases_overdue_first_and_counts(
    client, record, touchpoint, manager_a, time_machine
):
    time_machine.move_to("2026-11-10 09:00 +01:00")
    old = record(touchpoint, 3).case
    time_machine.move_to("2026-11-12 08:00 +01:00")
    new = record(touchpoint, 4).case
    FollowUpCase.objects.update(assignee=manager_a, status="assigned")
    time_machine.move_to("2026-11-12 10:00 +01:00")
    client.force_login(manager_a)
    page = client.get("/cases/")
    assert [c.pk for c in page.context["mine"]] == [old.pk, new.pk]
    counters = page.context["counters"]
    assert (counters.open, counters.overdue, counters.unassigned) == (2, 1, 0)
    assert b"overdue" in page.content
    # The count is of the teams' cases, not the manager's own (listed below it).
    assert "open in your teams" in page.content.decode()
    team = page.context["teams"][0]
    assert "open in this team" in client.get(f"/cases/?team={team.pk}").content.decode()


def test_queue_rows_offer_claim_when_unassigned_and_name_the_owner_otherwise(
    client, record, touchpoint, manager_a, lead_a
):
    waiting = record(touchpoint, 2, comment="Nobody called").case
    owned = record(touchpoint, 3, email="bob@example.net", comment="Still waiting").case
    FollowUpCase.objects.filter(pk=waiting.pk).update(assignee=None, status="new")
    FollowUpCase.objects.filter(pk=owned.pk).update(assignee=lead_a, status="assigned")
    client.force_login(lead_a)
    html = client.get("/cases/").content.decode()
    waiting_row = html[html.index(f'data-case="{waiting.pk}"') :].split("</tr>")[0]
    owned_row = html[html.index(f'data-case="{owned.pk}"') :].split("</tr>")[0]
    assert f'href="/cases/{waiting.pk}/"' in waiting_row
    assert ">Claim</button>" in waiting_row and 'data-label="Owner">—<' in waiting_row
    assert ">Claim</button>" not in owned_row and 'data-label="Owner">Leo Lead<' in owned_row


def test_claiming_in_place_with_htmx_returns_the_updated_queue(client, case, manager_a):
    FollowUpCase.objects.filter(pk=case.pk).update(assignee=None, status="new")
    client.force_login(manager_a)
    before = client.get("/cases/").context["counters"]
    assert before.unassigned == 1
    page = client.post(f"/cases/{case.pk}/claim/", HTTP_HX_REQUEST="true")
    assert page.status_code == 200
    assert b'data-counter="unassigned">0<' in page.content
    assert b"<html" not in page.content  # a fragment, swapped into #queue
    case.refresh_from_db()
    assert case.assignee == manager_a


def test_claiming_a_case_already_assigned_says_so_and_changes_nothing(
    client, case, manager_a, lead_a
):
    FollowUpCase.objects.filter(pk=case.pk).update(assignee=lead_a, status="assigned")
    client.force_login(manager_a)
    page = client.post(f"/cases/{case.pk}/claim/", HTTP_HX_REQUEST="true")
    assert page.status_code == 409
    assert b"already assigned to Leo Lead" in page.content
    case.refresh_from_db()
    assert case.assignee == lead_a


def test_a_manager_logs_a_call_and_resolves_with_a_root_cause(client, case, manager_a, root_cause):
    client.force_login(manager_a)
    page = client.post(
        f"/cases/{case.pk}/attempts/",
        {"channel": "phone", "outcome": "reached", "notes": "Offered a technician visit"},
    )
    assert page.status_code == 302
    refused = client.post(f"/cases/{case.pk}/close/", {"outcome": "resolved", "resolution": ""})
    assert refused.status_code == 400
    assert b"give a root cause and a resolution summary" in refused.content
    case.refresh_from_db()
    assert case.is_open
    done = client.post(
        f"/cases/{case.pk}/close/",
        {
            "outcome": "resolved",
            "root_causes": [root_cause.pk],
            "resolution": "Technician fixed the line",
        },
    )
    assert done.status_code == 302
    case.refresh_from_db()
    assert (case.status, case.outcome, case.first_contact_at is not None) == (
        "closed",
        "resolved",
        True,
    )
    timeline = client.get(f"/cases/{case.pk}/").content.decode()
    for text in (
        "Opened",
        "Contact attempt",
        "Offered a technician visit",
        "Closed",
        "Long wait on the phone",
    ):
        assert text in timeline


def test_bad_attempt_input_is_a_400_and_writes_nothing(client, case, manager_a):
    client.force_login(manager_a)
    page = client.post(f"/cases/{case.pk}/attempts/", {"channel": "pigeon", "outcome": "reached"})
    assert page.status_code == 400
    assert case.attempts.count() == 0


def test_an_attempt_logged_without_choosing_its_outcome_is_refused(client, case, manager_a):
    """The outcome has no default: a tap on Log with "no answer" typed in the notes
    must not record that the customer was reached."""
    client.force_login(manager_a)
    form = client.get(f"/cases/{case.pk}/").content.decode()
    select = form[form.index('<select name="outcome" required id="id_outcome"') :]
    select = select[: select.index("</select>")]
    assert '<option value="" selected>Choose what happened</option>' in select
    page = client.post(f"/cases/{case.pk}/attempts/", {"channel": "phone", "notes": "no answer"})
    assert page.status_code == 400
    assert "Choose what happened on this attempt." in page.content.decode()
    case.refresh_from_db()
    assert case.attempts.count() == 0 and case.first_contact_at is None


def test_a_refused_close_says_why_in_the_closing_form_the_page_returns_to(client, case, manager_a):
    """On a phone the case page is long: the error is also said in the form it is
    about, which the browser scrolls back to (the form's action ends in #close)."""
    client.force_login(manager_a)
    page = client.post(
        f"/cases/{case.pk}/close/", {"outcome": "resolved", "resolution": "Refund sent"}
    )
    assert page.status_code == 400
    html = page.content.decode()
    form = html[html.index('<article class="card" id="close">') :]
    assert f'action="/cases/{case.pk}/close/#close"' in form
    form = form[: form.index("</form>")]
    assert "give a root cause" in form
    assert "Refund sent</textarea>" in form  # what was typed is kept
    attempt = html[html.index('id="attempt"') :]
    assert "give a root cause" not in attempt[: attempt.index("</form>")]
    # Refreshed or bookmarked later, the URL the refused form left goes back to the case.
    for action in ("close", "attempts", "notes", "assign"):
        again = client.get(f"/cases/{case.pk}/{action}/")
        assert (again.status_code, again["Location"]) == (302, f"/cases/{case.pk}/")
    assert client.put(f"/cases/{case.pk}/close/").status_code == 405


def test_an_attempt_on_a_customer_who_left_no_phone_starts_on_email(
    client, record, touchpoint, manager_a, case
):
    client.force_login(manager_a)
    with_phone = client.get(f"/cases/{case.pk}/").context["attempt_form"]
    assert with_phone["channel"].value() == "phone"
    no_phone = record(touchpoint, 1, email="nophone@example.net").case
    form = client.get(f"/cases/{no_phone.pk}/").context["attempt_form"]
    assert form["channel"].value() == "email"


def test_notes_are_escaped_on_the_timeline(client, case, manager_a):
    client.force_login(manager_a)
    client.post(f"/cases/{case.pk}/notes/", {"text": "<img src=x onerror=alert(1)>"})
    html = client.get(f"/cases/{case.pk}/").content.decode()
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_a_lead_reassigns_from_the_case_page(client, case, lead_a, manager_a, team_a, mailoutbox):
    from tests.factories import MembershipFactory, UserFactory

    other = UserFactory(username="otto", email="otto@staff.example.com")
    MembershipFactory(user=other, team=team_a, role="manager")
    client.force_login(lead_a)
    page = client.post(f"/cases/{case.pk}/assign/", {"assignee": other.pk})
    assert page.status_code == 302
    case.refresh_from_db()
    assert case.assignee == other


def test_a_manager_cannot_reassign(client, case, manager_a, lead_a):
    client.force_login(manager_a)
    assert client.post(f"/cases/{case.pk}/assign/", {"assignee": lead_a.pk}).status_code == 403


def test_queue_query_count_is_pinned(
    client, record, touchpoint, manager_a, lead_a, django_assert_max_num_queries
):
    for score in range(7):
        record(touchpoint, score)
    client.force_login(lead_a)
    with django_assert_max_num_queries(12):
        assert client.get("/cases/").status_code == 200
    for score in range(7):
        record(touchpoint, score)
    with django_assert_max_num_queries(12):
        assert client.get("/cases/").status_code == 200


# --- improvement actions ------------------------------------------------------------------


def test_a_lead_publishes_an_action_every_employee_sees_on_the_dashboard(
    client, lead_a, employee, team_a, touchpoint, root_cause
):
    client.force_login(lead_a)
    page = client.post(
        "/cases/actions/new/",
        {
            "title": "Call-back within 2 hours",
            "summary": "Customers told us they waited too long.",
            "touchpoint": touchpoint.pk,
            "root_causes": [root_cause.pk],
            "owner_team": team_a.pk,
            "status": "in_progress",
            "publish": "on",
        },
    )
    assert page.status_code == 302
    assert ImprovementAction.objects.get().published_at is not None
    client.force_login(employee)
    home = client.get("/").content.decode()
    assert "Call-back within 2 hours" in home
    assert (
        f"Owner: {team_a.name} · Touchpoint: {touchpoint.name} · Root cause: {root_cause.name}"
        in home
    )
    actions = client.get("/cases/actions/").content.decode()
    assert "Call-back within 2 hours" in actions
    # Team, touchpoint and root causes are each labelled, not run together.
    assert f"Owner: {team_a.name} · Touchpoint: {touchpoint.name} · Root cause: " in actions
    assert f'<span class="badge">{root_cause.name}</span>' in actions


def test_drafts_are_hidden_from_employees(client, lead_a, employee, team_a):
    ImprovementAction.objects.create(title="Secret draft", summary="x", owner_team=team_a)
    client.force_login(employee)
    assert b"Secret draft" not in client.get("/cases/actions/").content
    assert client.get("/cases/actions/new/").status_code == 403


def test_a_lead_cannot_create_actions_for_another_team(client, lead_a, team_b):
    client.force_login(lead_a)
    page = client.post(
        "/cases/actions/new/",
        {"title": "x", "summary": "y", "owner_team": team_b.pk, "status": "planned"},
    )
    assert page.status_code == 400
    assert ImprovementAction.objects.count() == 0


def test_a_lead_is_offered_edit_links_only_for_their_teams_actions(
    client, lead_a, cx_admin, team_a, team_b
):
    from django.utils import timezone

    now = timezone.now()
    ours = ImprovementAction.objects.create(
        title="Ours", summary="a", owner_team=team_a, published_at=now
    )
    theirs = ImprovementAction.objects.create(
        title="Theirs", summary="b", owner_team=team_b, published_at=now
    )
    client.force_login(lead_a)
    text = client.get("/cases/actions/").content.decode()
    assert "Theirs" in text  # published: everyone reads it
    assert f"/cases/actions/{ours.pk}/edit/" in text
    assert f"/cases/actions/{theirs.pk}/edit/" not in text
    assert client.get(f"/cases/actions/{theirs.pk}/edit/").status_code == 404
    client.force_login(cx_admin)
    assert f"/cases/actions/{theirs.pk}/edit/" in client.get("/cases/actions/").content.decode()


def test_assignment_email_is_sent_once(record, touchpoint, manager_a):
    mail.outbox.clear()
    record(touchpoint, 3)
    assert len([m for m in mail.outbox if "waiting for your call" in m.body]) == 1


@pytest.mark.parametrize("path", ["/cases/actions/", "/cases/actions/new/"])
def test_the_action_pages_light_you_said_we_did_in_the_nav_not_cases(client, lead_a, path):
    client.force_login(lead_a)
    html = client.get(path).content.decode()
    nav = html[html.index('<nav class="nav"') : html.index("</nav>")]
    assert 'href="/cases/actions/" class="active">You said, we did<' in nav
    assert 'href="/cases/" class="active"' not in nav


def test_the_action_edit_page_lights_you_said_we_did_in_the_nav(client, lead_a, team_a):
    action = ImprovementAction.objects.create(title="Ours", summary="a", owner_team=team_a)
    client.force_login(lead_a)
    html = client.get(f"/cases/actions/{action.pk}/edit/").content.decode()
    nav = html[html.index('<nav class="nav"') : html.index("</nav>")]
    assert 'href="/cases/actions/" class="active">You said, we did<' in nav
    assert 'href="/cases/" class="active"' not in nav


def test_the_case_pages_light_cases_in_the_nav(client, case, manager_a):
    client.force_login(manager_a)
    for path in ("/cases/", f"/cases/{case.pk}/"):
        html = client.get(path).content.decode()
        nav = html[html.index('<nav class="nav"') : html.index("</nav>")]
        assert 'href="/cases/" class="active">Cases<' in nav, path
        assert 'class="active">You said, we did<' not in nav, path


def test_assigned_to_others_says_when_it_shows_only_the_first_cases(
    client, record, touchpoint, manager_a, lead_a
):
    """A lead looking for a case among 26 must not think the 25 shown are all."""
    for _ in range(26):
        record(touchpoint, 3)
    FollowUpCase.objects.update(assignee=manager_a, status="assigned")
    client.force_login(lead_a)
    page = client.get("/cases/")
    assert len(page.context["others"]) == 25
    assert b'(the 25 due soonest of 26: <a href="?show=others#list">see all</a>)' in page.content
    FollowUpCase.objects.filter(pk=FollowUpCase.objects.first().pk).delete()
    assert b"due soonest" not in client.get("/cases/").content  # 25: all of them shown


def test_a_lead_of_one_team_finds_it_chosen_as_the_owner_of_a_new_action(
    client, lead_a, team_a, team_b, cx_admin
):
    client.force_login(lead_a)
    form = client.get("/cases/actions/new/").context["form"]
    assert form["owner_team"].value() == team_a.pk
    assert [label for _, label in form.fields["owner_team"].choices] == [team_a.name]
    client.force_login(cx_admin)  # every team: the admin chooses
    form = client.get("/cases/actions/new/").context["form"]
    assert form["owner_team"].value() is None
    assert len(form.fields["owner_team"].choices) == 3  # "---------" and the two teams


def test_the_customers_other_answers_link_to_their_cases_when_the_viewer_may_open_them(
    client, record, touchpoint, touchpoint_b, manager_a, django_capture_on_commit_callbacks
):
    from feedback import services

    email = "claire@example.net"
    first = FollowUpCase.objects.get(response=record(touchpoint, 2, email=email, comment="Slow"))
    services.contact_attempt_log(case=first, by=manager_a, outcome="no_answer")
    services.case_close(case=first, by=manager_a, outcome="unreachable")
    elsewhere = FollowUpCase.objects.get(response=record(touchpoint_b, 1, email=email))
    latest = FollowUpCase.objects.get(response=record(touchpoint, 3, email=email, comment="Again"))
    client.force_login(manager_a)
    html = client.get(f"/cases/{latest.pk}/").content.decode()
    assert "This customer&#x27;s other answers" in html or "This customer's other answers" in html
    assert f'<a href="/cases/{first.pk}/">case #{first.pk}</a> (closed: unreachable)' in html
    assert f"case #{elsewhere.pk} (open)" in html  # another team's: named, not linked
    assert f'href="/cases/{elsewhere.pk}/"' not in html


def test_an_unassigned_case_is_claimed_from_its_own_page(client, case, manager_a, manager_b):
    client.force_login(manager_a)
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert "Claim this case" in page
    claimed = client.post(f"/cases/{case.pk}/claim/", {"from": "case"})
    assert claimed.status_code == 302 and claimed["Location"] == f"/cases/{case.pk}/"
    case.refresh_from_db()
    assert case.assignee == manager_a
    after = client.get(claimed["Location"]).content.decode()
    assert f"Case #{case.pk} is yours." in after and "Claim this case" not in after


def test_the_case_page_warns_after_a_wrong_number_and_wraps_the_email_at_the_at(
    client, case, manager_a
):
    from feedback import services

    client.force_login(manager_a)
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert "claire@<wbr>example<wbr>.net" in page and "wrong number" not in page
    services.contact_attempt_log(case=case, by=manager_a, outcome="wrong_number")
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert "A call reached a wrong number: check it, or write to the customer." in page


def test_the_email_wrap_filter_escapes_every_part():
    from cxhub.templatetags.cx import email_wrap

    assert email_wrap("a<b>&c@ex<a.mple.org") == "a&lt;b&gt;&amp;c@<wbr>ex&lt;a<wbr>.mple<wbr>.org"
    assert email_wrap("no-at-sign") == "no-at-sign"
