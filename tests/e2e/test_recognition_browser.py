"""Customer Champions in a real browser (Debian's headless Chromium, see conftest.py)."""

import pytest

from recognition import services
from recognition.models import Value

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_employee_sends_a_postcard_and_sees_it_in_the_feed_and_leaderboard(
    login, live_server, employee, manager_a
):
    Value.objects.create(name="Listened to the customer")
    page = login("emma")
    page.get_by_role("link", name="Champions").click()
    page.get_by_role("link", name="Send a postcard").click()
    page.fill("#colleague-q", "Mia")  # htmx asks the server for matching colleagues
    page.wait_for_selector(f'input[name=recipient][value="{manager_a.pk}"]')
    page.check(f'input[name=recipient][value="{manager_a.pk}"]')
    page.fill("#id_message", "You calmed down an angry customer <b>and</b> fixed the bill.")
    page.get_by_role("button", name="Send postcard").click()

    page.wait_for_url(f"{live_server.url}/champions/")
    assert "Postcard sent to Mia Manager" in page.locator(".messages").inner_text()
    card = page.locator("article.postcard").first
    assert "Mia Manager" in card.inner_text()
    assert "Listened to the customer" in card.inner_text()
    assert "<b>and</b>" in card.locator(".postcard-message").inner_text()  # text, not markup

    page.get_by_role("link", name="Leaderboard").first.click()
    first = page.locator("table.leaderboard tbody tr").first
    assert first.get_attribute("data-rank") == "1"
    assert "Mia Manager" in first.inner_text()


def test_a_colleague_chosen_from_a_link_stays_chosen_through_a_search(
    login, live_server, employee, manager_a, lead_a
):
    """ "Thank Mia" chose her: typing another name, then clearing the box, must not
    lose her (the search results are replaced at every keystroke)."""
    Value.objects.create(name="Listened to the customer")
    page = login("emma")
    page.goto(f"{live_server.url}/champions/send/?to={manager_a.username}")
    chosen = page.locator(f'input[name=recipient][value="{manager_a.pk}"]')
    assert chosen.is_checked()
    page.fill("#colleague-q", "Leo")  # one match: not chosen in Mia's place
    page.wait_for_selector(f'#colleague-results input[name=recipient][value="{lead_a.pk}"]')
    assert chosen.is_checked()
    page.fill("#colleague-q", "")
    page.wait_for_selector("#colleague-results :text('Type at least two letters')")
    assert chosen.is_checked()
    page.fill("#id_message", "Thank you for the call-back.")
    page.get_by_role("button", name="Send postcard").click()
    page.wait_for_url(f"{live_server.url}/champions/")
    assert "Postcard sent to Mia Manager" in page.locator(".messages").inner_text()


def test_a_cx_admin_hides_a_postcard_in_place(login, live_server, employee, manager_a, cx_admin):
    value = Value.objects.create(name="One team")
    services.postcard_send(
        sender=employee, recipient=manager_a, value=value, message="Rude words", idempotency_key="k"
    )
    page = login("ada")
    page.goto(f"{live_server.url}/champions/")
    page.on("dialog", lambda dialog: dialog.accept())  # hx-confirm
    page.get_by_role("button", name="Hide").click()
    page.wait_for_selector("text=Postcard hidden. It no longer counts anywhere.")
    assert page.url == f"{live_server.url}/champions/"  # swapped in place, no reload
    page.goto(f"{live_server.url}/champions/leaderboard/?period=all")
    assert "No postcards in this period yet" in page.content()


def test_champion_pages_fit_a_phone_screen(phone, live_server, employee, manager_a, cx_admin):
    value = Value.objects.create(name="Went the extra mile")
    services.postcard_send(
        sender=employee,
        recipient=manager_a,
        value=value,
        message="A very long word: " + "x" * 200,
        idempotency_key="k",
    )
    phone.goto(f"{live_server.url}/login/")
    phone.fill("#id_username", "emma")
    phone.fill("#id_password", "pw")
    phone.click("button[type=submit]")
    phone.wait_for_url(f"{live_server.url}/")
    for path in (
        "/champions/",
        "/champions/send/",
        "/champions/leaderboard/",
        "/champions/praise/",
    ):
        phone.goto(f"{live_server.url}{path}")
        overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px on a phone"


def test_a_lead_publishes_a_customer_shout_out_in_one_click(
    login, live_server, team_a, lead_a, manager_a, touchpoint
):
    from recognition.models import Postcard, ShoutOut
    from surveys import services as survey_services

    response = survey_services.response_record(
        touchpoint=touchpoint, score=10, comment="Mia Manager sorted it all out, thank you!"
    )
    services.shoutouts_suggest(response_id=response.pk)  # what the Celery task does
    shoutout = ShoutOut.objects.get()
    page = login("leo")
    page.goto(f"{live_server.url}/champions/shout-outs/")
    card = page.locator(f"[data-shoutout='{shoutout.pk}']")
    assert "The customer names Mia Manager" in card.inner_text()
    card.get_by_role("button", name="Publish postcard").click()
    page.wait_for_selector(f"[data-shoutout='{shoutout.pk}'] >> text=Published")
    assert page.url == f"{live_server.url}/champions/shout-outs/"  # swapped in place
    assert Postcard.objects.get().recipient == manager_a
    page.goto(f"{live_server.url}/champions/")
    assert "from a customer" in page.locator("article.postcard").first.inner_text()


def test_a_shout_out_already_handled_says_so_in_place(
    login, live_server, team_a, lead_a, manager_a, touchpoint
):
    """Another tab (or a colleague) dismissed it meanwhile: the 400 fragment that says so
    is swapped in, instead of the Publish button seeming to do nothing."""
    from recognition.models import Postcard, ShoutOut
    from surveys import services as survey_services

    response = survey_services.response_record(
        touchpoint=touchpoint, score=10, comment="Mia Manager sorted it all out, thank you!"
    )
    services.shoutouts_suggest(response_id=response.pk)
    shoutout = ShoutOut.objects.get()
    page = login("leo")
    page.goto(f"{live_server.url}/champions/shout-outs/")
    card = page.locator(f"[data-shoutout='{shoutout.pk}']")
    services.shoutout_dismiss(shoutout=shoutout, by=lead_a)

    card.get_by_role("button", name="Publish postcard").click()
    page.wait_for_selector(f"[data-shoutout='{shoutout.pk}'] >> text=already handled")
    assert card.get_by_role("button", name="Publish postcard").count() == 0
    assert Postcard.objects.count() == 0
