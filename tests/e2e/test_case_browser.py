"""A manager works a case end to end in a real browser."""

import pytest

from feedback.models import FollowUpCase, RootCause
from surveys import services

pytestmark = pytest.mark.django_db(transaction=True)


def counter(page, name):
    return int(page.locator(f'[data-counter="{name}"]').inner_text())


def test_a_manager_claims_calls_and_resolves_a_case_and_the_counters_move(
    login, live_server, touchpoint, manager_a
):
    RootCause.objects.create(name="Long wait on the phone")
    person = services.person_upsert(
        email="claire@example.net", name="Claire Fontaine", phone="+33612345678"
    )
    response = services.response_record(
        touchpoint=touchpoint, score=2, comment="On hold for an hour", person=person
    )
    # Opened and auto-assigned; put it back in the team queue so it can be claimed.
    FollowUpCase.objects.filter(response=response).update(assignee=None, status="new")
    case = response.case

    page = login("mia")
    page.goto(f"{live_server.url}/cases/")
    assert (counter(page, "open"), counter(page, "unassigned")) == (1, 1)
    row = page.locator(f'tr[data-case="{case.pk}"]')
    assert "On hold for an hour" in row.inner_text()

    row.get_by_role("button", name="Claim").click()  # htmx: swapped in place
    page.wait_for_selector('[data-counter="unassigned"]:text-is("0")')
    assert page.url == f"{live_server.url}/cases/"
    assert "is yours" in page.locator(".messages").inner_text()

    page.locator(f'tr[data-case="{case.pk}"] a').first.click()
    assert page.locator('a[href="tel:+33612345678"]').is_visible()
    page.select_option("#id_outcome", "reached")
    page.fill("#id_notes", "Apologised; set up a call-back line.")
    page.get_by_role("button", name="Log attempt").click()
    assert "Contact attempt logged" in page.locator(".messages").inner_text()

    page.get_by_role("button", name="Close case").click()  # no root cause yet: refused
    assert "give a root cause and a resolution summary" in page.get_by_role("alert").inner_text()
    page.get_by_label("Long wait on the phone").check()
    page.fill("#id_resolution", "Call-back line set up; customer satisfied.")
    page.get_by_role("button", name="Close case").click()
    assert "closed" in page.locator(".messages").inner_text()
    assert "Resolved" in page.locator(".timeline").inner_text()

    page.goto(f"{live_server.url}/cases/")
    assert (counter(page, "open"), counter(page, "unassigned")) == (0, 0)
    case.refresh_from_db()
    assert (case.status, case.outcome, case.assignee_id) == ("closed", "resolved", manager_a.pk)


def test_claiming_a_case_someone_just_took_says_so_in_place(
    login, live_server, touchpoint, manager_a, lead_a
):
    """The queue was loaded before a colleague took the case: the server refuses the
    claim with a 409 and the re-rendered queue, which htmx must swap in (by default it
    swaps only 2xx answers, and the Claim button would seem to do nothing)."""
    response = services.response_record(touchpoint=touchpoint, score=1, comment="Cut off twice")
    FollowUpCase.objects.filter(response=response).update(assignee=None, status="new")
    case = response.case

    page = login("mia")
    page.goto(f"{live_server.url}/cases/")
    row = page.locator(f'tr[data-case="{case.pk}"]')
    assert row.get_by_role("button", name="Claim").is_visible()
    FollowUpCase.objects.filter(pk=case.pk).update(assignee=lead_a, status="assigned")

    row.get_by_role("button", name="Claim").click()
    page.wait_for_selector(".messages >> text=already assigned to Leo Lead")
    assert page.url == f"{live_server.url}/cases/"
    assert row.get_by_role("button", name="Claim").count() == 0  # the row names its owner now
    case.refresh_from_db()
    assert case.assignee == lead_a
