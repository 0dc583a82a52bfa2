"""Postcards: who may send what, the daily cap, double submits, hiding, notifications."""

import pytest
from django.core import mail

from recognition import services
from recognition.models import Postcard, PostcardMonthly


def test_an_employee_sends_a_postcard_from_the_form(client, employee, manager_a, value):
    client.force_login(employee)
    page = client.get("/champions/send/")
    key = page.context["form"].initial["idempotency_key"]
    sent = client.post(
        "/champions/send/",
        {
            "recipient": manager_a.pk,
            "value": value.pk,
            "message": "You saved my customer's day",
            "idempotency_key": key,
        },
    )
    assert sent.status_code == 302
    postcard = Postcard.objects.get()
    assert (postcard.sender, postcard.recipient, postcard.value) == (employee, manager_a, value)
    assert b"You saved my customer&#x27;s day" in client.get("/champions/").content


def test_a_postcard_to_oneself_is_refused_and_nothing_is_saved(client, employee, value):
    client.force_login(employee)
    page = client.post(
        "/champions/send/",
        {"recipient": employee.pk, "value": value.pk, "message": "Me!", "idempotency_key": "a"},
    )
    assert page.status_code == 400
    assert b"cannot send a postcard to yourself" in page.content
    assert Postcard.objects.count() == 0


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"message": ""}, b"Write a message"),
        ({"message": "x" * 1001}, b"at most 1000 characters"),
        ({"recipient": ""}, b"Choose the colleague"),
        ({"recipient": "999999"}, b"Choose a colleague from the search results"),
        ({"value": "999999"}, b"Choose one of the values offered"),
    ],
)
def test_bad_input_gets_a_clear_message_and_saves_nothing(
    client, employee, manager_a, value, data, error
):
    client.force_login(employee)
    form = {
        "recipient": manager_a.pk,
        "value": value.pk,
        "message": "ok",
        "idempotency_key": "k",
        **data,
    }
    page = client.post("/champions/send/", form)
    assert page.status_code == 400
    assert error in page.content
    assert Postcard.objects.count() == 0


def test_a_double_submit_creates_one_postcard(client, employee, manager_a, value):
    client.force_login(employee)
    form = {
        "recipient": manager_a.pk,
        "value": value.pk,
        "message": "Twice?",
        "idempotency_key": "same",
    }
    client.post("/champions/send/", form)
    client.post("/champions/send/", form)
    assert Postcard.objects.count() == 1
    assert PostcardMonthly.objects.get().received == 1


def test_the_daily_cap_stops_the_sixth_postcard_and_resets_the_next_day(
    send, employee, manager_a, time_machine, settings
):
    settings.POSTCARD_DAILY_CAP = 5
    time_machine.move_to("2026-11-10 09:00 +01:00")
    for _ in range(5):
        send(employee, manager_a)
    with pytest.raises(services.RecognitionError, match="5 postcards today, the daily limit"):
        send(employee, manager_a)
    assert Postcard.objects.count() == 5
    time_machine.move_to("2026-11-11 00:01 +01:00")
    send(employee, manager_a)
    assert Postcard.objects.count() == 6


def test_html_in_messages_is_escaped_everywhere(client, send, employee, manager_a):
    send(employee, manager_a, message="<script>alert('x')</script>")
    client.force_login(employee)
    for url in ("/champions/", f"/champions/people/{manager_a.username}/", "/"):
        html = client.get(url).content.decode()
        assert "<script>alert" not in html, url
        assert "&lt;script&gt;" in html, url


def test_the_recipient_and_their_lead_are_emailed_after_commit(
    send, employee, manager_a, lead_a, django_capture_on_commit_callbacks
):
    manager_a.email, lead_a.email = "mia@example.com", "leo@example.com"
    manager_a.save()
    lead_a.save()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        send(employee, manager_a)
        assert mail.outbox == []  # nothing before the commit
    assert len(callbacks) == 1
    assert sorted(m.to[0] for m in mail.outbox) == ["leo@example.com", "mia@example.com"]
    assert "Customer Champion" in mail.outbox[0].subject


def test_only_cx_admins_hide_and_hidden_postcards_count_nowhere(
    client, send, employee, manager_a, cx_admin
):
    postcard = send(employee, manager_a)
    client.force_login(employee)
    assert client.post(f"/champions/postcards/{postcard.pk}/hide/").status_code == 403
    client.force_login(cx_admin)
    assert (
        client.post(f"/champions/postcards/{postcard.pk}/hide/", {"reason": "abusive"}).status_code
        == 302
    )
    postcard.refresh_from_db()
    assert (postcard.hidden_by, postcard.hidden_reason) == (cx_admin, "abusive")
    assert postcard.hidden_at is not None
    assert PostcardMonthly.objects.get().received == 0
    assert list(client.get("/champions/").context["postcards"]) == []
    assert client.get(f"/champions/people/{manager_a.username}/").context["postcards"].count() == 0
    # Hiding twice changes nothing.
    services.postcard_hide(postcard=postcard, by=cx_admin)
    assert PostcardMonthly.objects.get().received == 0


def test_feed_filters_by_team_and_value(client, send, employee, manager_a, manager_b, value):
    from recognition.models import Value

    other = Value.objects.create(name="One team")
    send(employee, manager_a, message="to team A")
    send(employee, manager_b, message="to team B", value=other)
    client.force_login(employee)
    by_team = client.get(f"/champions/?team={manager_b.memberships.get().team_id}").context[
        "postcards"
    ]
    assert [p.message for p in by_team] == ["to team B"]
    by_value = client.get(f"/champions/?value={value.pk}").context["postcards"]
    assert [p.message for p in by_value] == ["to team A"]
    assert client.get("/champions/?team=abc").status_code == 200


def test_colleague_search_finds_by_name_and_never_oneself(client, employee, manager_a):
    client.force_login(employee)
    page = client.get("/champions/colleagues/?q=mia")
    assert f'value="{manager_a.pk}"'.encode() in page.content
    assert (
        f'value="{employee.pk}"'.encode() not in client.get("/champions/colleagues/?q=emma").content
    )


def test_anonymous_visitors_are_sent_to_login(client, db):
    for url in (
        "/champions/",
        "/champions/send/",
        "/champions/leaderboard/",
        "/champions/praise/",
        "/champions/shout-outs/",
    ):
        assert client.get(url)["Location"].startswith("/login/"), url


def test_feed_query_count_is_pinned(
    client, send, employee, manager_a, manager_b, lead_a, django_assert_max_num_queries, settings
):
    settings.POSTCARD_DAILY_CAP = 100
    for i in range(12):
        send(employee if i % 2 else manager_b, manager_a if i % 3 else lead_a)
    client.force_login(employee)
    with django_assert_max_num_queries(10):
        assert client.get("/champions/").status_code == 200
