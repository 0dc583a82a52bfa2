"""An employee sends a postcard in a real browser and sees it in the feed and on the leaderboard."""

import pytest

from recognition.models import Value

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_employee_sends_a_postcard_and_sees_it_in_the_feed_and_leaderboard(
    login, live_server, employee, manager_a
):
    Value.objects.create(name="Listened to the customer")
    page = login("emma")
    page.goto(f"{live_server.url}/champions/send/")
    page.fill("#colleague-q", "Mia")
    page.wait_for_selector(f'input[name=recipient][value="{manager_a.pk}"]')
    page.check(f'input[name=recipient][value="{manager_a.pk}"]')
    page.fill("#id_message", "You calmed down an angry customer <b>and</b> fixed the bill.")
    page.get_by_role("button", name="Send postcard").click()

    page.wait_for_url(f"{live_server.url}/champions/")
    assert "Postcard sent to Mia Manager" in page.locator(".messages").inner_text()
    card = page.locator("article.postcard").first
    assert "Mia Manager" in card.inner_text()
    assert (
        "<b>and</b>" in card.locator(".postcard-message").inner_text()
    )  # shown as text, not markup

    page.goto(f"{live_server.url}/champions/leaderboard/")
    first = page.locator("table.leaderboard tbody tr").first
    assert first.get_attribute("data-rank") == "1"
    assert "Mia Manager" in first.inner_text()
