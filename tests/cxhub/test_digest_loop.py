"""The weekly digest's closed-loop news (design §2): recovered customers and the top
root causes of the week's closed cases, in both emails and the preview."""

import datetime as dt

import pytest

from cxhub import selectors, services
from feedback.models import FollowUpCase, RootCause
from surveys import services as survey_services
from tests.factories import PersonFactory

NOW = dt.datetime(2026, 11, 18, 12, 0, tzinfo=dt.UTC)  # a Wednesday
IN_WEEK = NOW - dt.timedelta(days=5)  # Friday 13 November: the digest covers 9–15 November
BEFORE_WEEK = NOW - dt.timedelta(days=12)  # Friday 6 November
AFTER_WEEK = NOW - dt.timedelta(hours=2)  # this week, not yet in a digest


@pytest.fixture(autouse=True)
def _now(time_machine):
    time_machine.move_to(NOW, tick=False)


def closed_case(touchpoint, *, closed_at, causes=(), recovered_at=None, person=None):
    """A detractor's case (opened by the survey, as in production), closed at closed_at."""
    response = survey_services.response_record(
        touchpoint=touchpoint,
        score=2,
        person=person or PersonFactory(),
        created_at=closed_at - dt.timedelta(days=1),
    )
    case = response.case
    FollowUpCase.objects.filter(pk=case.pk).update(
        status=FollowUpCase.Status.CLOSED,
        outcome=FollowUpCase.Outcome.RESOLVED,
        closed_at=closed_at,
        recovered_at=recovered_at,
    )
    for name in causes:
        case.root_causes.add(RootCause.objects.get_or_create(name=name)[0])
    return case


def digest(user):
    message = services.digest_render(user=user, week=selectors.digest_week())
    return message.body, message.alternatives[0][0]


@pytest.fixture
def closed_cases(touchpoint, touchpoint_b):
    for _ in range(3):
        closed_case(touchpoint, closed_at=IN_WEEK, causes=["Long wait"])
    closed_case(touchpoint, closed_at=IN_WEEK, causes=["Long wait", "Rude agent"])
    closed_case(touchpoint_b, closed_at=IN_WEEK, causes=["Wrong invoice"])
    closed_case(touchpoint_b, closed_at=IN_WEEK, causes=["Wrong invoice"])
    # Outside the week: never counted, however many.
    for at in (BEFORE_WEEK, AFTER_WEEK):
        for _ in range(5):
            closed_case(touchpoint_b, closed_at=at, causes=["Lost parcel"])


def test_the_digest_lists_the_top_root_causes_of_the_cases_closed_in_its_week(
    executive, closed_cases
):
    text, html = digest(executive)
    assert (
        "Top root causes: the most frequent on the 6 cases closed this week\n"
        "  1. Long wait: 4 cases\n"
        "  2. Wrong invoice: 2 cases\n"
        "  3. Rude agent: 1 case\n"
    ) in text
    assert "The most frequent on the 6 cases closed this week:" in html
    assert (
        "<li>Long wait — 4 cases</li><li>Wrong invoice — 2 cases</li><li>Rude agent — 1 case</li>"
    ) in html
    assert "Lost parcel" not in text and "Lost parcel" not in html


def test_the_digest_shows_at_most_five_root_causes(executive, touchpoint):
    for i, name in enumerate(["A", "B", "C", "D", "E", "F"]):
        for _ in range(6 - i):
            closed_case(touchpoint, closed_at=IN_WEEK, causes=[f"Cause {name}"])
    text, html = digest(executive)
    assert "5. Cause E: 2 cases" in text and "Cause F" not in text
    assert "Cause E — 2 cases" in html and "Cause F" not in html


def test_a_lead_digest_has_their_team_root_causes_and_the_organisations(lead_a, closed_cases):
    text, html = digest(lead_a)
    team = text.split("Your team, Support:")[1]
    assert (
        "- top root causes: the most frequent on the 4 cases closed this week\n"
        "  1. Long wait: 4 cases\n"
        "  2. Rude agent: 1 case\n"
    ) in team
    assert "Wrong invoice" not in team  # Billing's
    assert "2. Wrong invoice: 2 cases" in text.split("Your team")[0]
    team_html = html.split("Your team: Support")[1]
    assert "<li>Long wait — 4 cases</li><li>Rude agent — 1 case</li></ol>" in team_html


def test_the_digest_says_when_no_case_was_closed_in_its_week(executive, lead_a, touchpoint):
    closed_case(touchpoint, closed_at=BEFORE_WEEK, causes=["Long wait"])
    closed_case(touchpoint, closed_at=AFTER_WEEK, causes=["Long wait"])
    text, html = digest(lead_a)
    assert "Top root causes: No cases closed this week." in text
    assert "- top root causes: No cases closed this week." in text
    assert html.count("No cases closed this week.") == 2  # the organisation and the team
    assert "Long wait" not in text and "Long wait" not in html


def test_closed_cases_without_a_root_cause_are_said_so(executive, touchpoint):
    closed_case(touchpoint, closed_at=IN_WEEK)
    text, html = digest(executive)
    assert "Top root causes: 1 case closed this week, none with a root cause recorded." in text
    assert "1 case closed this week, none with a root cause recorded." in html


@pytest.fixture
def recoveries(touchpoint, touchpoint_b, manager_a):
    loyal = PersonFactory(name="Rita Recovered")
    # One customer, two cases, both recovered by the same later 9–10: one customer.
    for _ in range(2):
        case = closed_case(touchpoint, closed_at=BEFORE_WEEK, recovered_at=IN_WEEK, person=loyal)
    FollowUpCase.objects.filter(pk=case.pk).update(assignee=manager_a)
    closed_case(touchpoint_b, closed_at=BEFORE_WEEK, recovered_at=IN_WEEK)
    # Recovered before and after the week; closed in the week but not recovered.
    closed_case(touchpoint, closed_at=BEFORE_WEEK, recovered_at=BEFORE_WEEK)
    closed_case(touchpoint, closed_at=BEFORE_WEEK, recovered_at=AFTER_WEEK)
    closed_case(touchpoint, closed_at=IN_WEEK)
    return case


def test_the_digest_counts_the_customers_recovered_in_its_week(executive, recoveries):
    text, html = digest(executive)
    assert "Recovered customers: 2 customers with a follow-up case scored 9–10 this week.\n" in text
    assert "<strong>2</strong> customers with a follow-up case scored 9–10 this week." in html
    # Executives read aggregates only (design §6): no case, no customer.
    assert f"#{recoveries.pk}" not in text and f"#{recoveries.pk}" not in html
    assert "Rita" not in text and "Rita" not in html


def test_a_lead_digest_lists_their_team_recovered_cases(lead_a, recoveries):
    text, html = digest(lead_a)
    team = text.split("Your team, Support:")[1]
    assert "- recovered: 1 customer\n" in team
    assert (
        f"  * case #{recoveries.pk} (Support call, score 2), recovered 13 Nov, Mia Manager:"
        f" http://testserver/cases/{recoveries.pk}/\n"
    ) in team
    assert team.count("  * case #") == 2  # the two cases in the week, not the others
    team_html = html.split("Your team: Support")[1]
    assert "<strong>1 customer recovered</strong>" in team_html
    assert (
        f'<li><a href="http://testserver/cases/{recoveries.pk}/" style="color:#2454d6">'
        f"#{recoveries.pk}</a> Support call (score 2), recovered 13 Nov · Mia Manager</li>"
        in team_html
    )
    assert "Rita" not in text and "Rita" not in html  # case numbers, not customers


def test_the_digest_says_when_no_customer_was_recovered_in_its_week(lead_a, touchpoint):
    closed_case(touchpoint, closed_at=BEFORE_WEEK, recovered_at=BEFORE_WEEK)
    closed_case(touchpoint, closed_at=BEFORE_WEEK, recovered_at=AFTER_WEEK)
    text, html = digest(lead_a)
    assert "Recovered customers: No customer recovered this week." in text
    assert "- recovered: No customer recovered this week." in text
    assert html.count("No customer recovered this week.") == 2


def test_the_digest_preview_shows_recoveries_and_root_causes(
    client, lead_a, recoveries, closed_cases
):
    client.force_login(lead_a)
    html = client.get("/scorecard/digest-preview/").content.decode()
    assert "Recovered customers" in html and "<strong>2</strong> customers" in html
    assert "<li>Long wait — 4 cases</li>" in html
    text = client.get("/scorecard/digest-preview/?format=text").content.decode()
    assert "Recovered customers: 2 customers" in text
    assert "1. Long wait: 4 cases" in text


def test_a_lead_digest_lists_ten_recovered_cases_and_says_how_many_more(lead_a, touchpoint):
    for _ in range(12):
        closed_case(touchpoint, closed_at=BEFORE_WEEK, recovered_at=IN_WEEK)
    text, html = digest(lead_a)
    team = text.split("Your team, Support:")[1]
    assert "- recovered: 12 customers: the 10 most recent of their 12 cases\n" in team
    assert team.count("  * case #") == 10
    assert ": the 10 most recent of their 12 cases" in html


def test_a_recovered_customer_erased_since_still_counts(executive, touchpoint):
    person = PersonFactory()
    closed_case(
        touchpoint, closed_at=IN_WEEK, causes=["Long wait"], recovered_at=IN_WEEK, person=person
    )
    survey_services.person_erase(person=person)
    text, html = digest(executive)
    assert "1 customer with a follow-up case scored 9–10 this week" in text
    assert "No customer recovered this week" not in html


def test_cases_that_closed_themselves_or_arrived_closed_by_an_import_are_not_follow_up_work(
    executive, touchpoint
):
    from feedback import services as feedback_services

    closed_case(touchpoint, closed_at=IN_WEEK, causes=["Long wait"])
    itself = closed_case(touchpoint, closed_at=IN_WEEK, causes=["Long wait"])
    imported = closed_case(touchpoint, closed_at=IN_WEEK, causes=["Long wait"])
    FollowUpCase.objects.filter(pk=itself.pk).update(
        outcome=FollowUpCase.Outcome.NO_LONGER_DETRACTOR
    )
    FollowUpCase.objects.filter(pk=imported.pk).update(
        outcome=FollowUpCase.Outcome.UNREACHABLE, resolution=feedback_services.IMPORTED_HISTORY
    )
    found = selectors.top_root_causes_closed_in(selectors.digest_week())
    assert found["closed"] == 1
    assert found["rows"] == [{"name": "Long wait", "n": 1}]
