"""Postcards: who may send what, the daily cap, double submits, hiding, notifications."""

import pytest
from django.core import mail

from recognition import services, tasks
from recognition.models import Postcard, PostcardCount, Value
from tests.factories import ResponseFactory


def _form(recipient, value, **extra):
    return {
        "recipient": recipient.pk,
        "value": value.pk,
        "message": "You saved my customer's day",
        "idempotency_key": "key-1",
    } | extra


def test_an_employee_sends_a_postcard_from_the_form(client, employee, manager_a, value):
    client.force_login(employee)
    page = client.get("/champions/send/")
    key = page.context["form"].initial["idempotency_key"]
    sent = client.post("/champions/send/", _form(manager_a, value, idempotency_key=key))
    assert sent.status_code == 302
    postcard = Postcard.objects.get()
    assert (postcard.sender, postcard.recipient, postcard.value) == (employee, manager_a, value)
    feed = client.get(sent["Location"])
    assert b"Postcard sent to Mia Manager" in feed.content
    assert b"You saved my customer&#x27;s day" in feed.content


def test_each_showing_of_the_form_carries_a_new_idempotency_key(client, employee):
    client.force_login(employee)
    first = client.get("/champions/send/").context["form"].initial["idempotency_key"]
    second = client.get("/champions/send/").context["form"].initial["idempotency_key"]
    assert first and second and first != second


def test_a_postcard_to_oneself_is_refused_and_nothing_is_saved(client, employee, value):
    client.force_login(employee)
    page = client.post("/champions/send/", _form(employee, value))
    assert page.status_code == 400
    assert b"cannot send a postcard to yourself" in page.content
    assert Postcard.objects.count() == 0
    assert PostcardCount.objects.count() == 0


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"message": ""}, b"Write a message"),
        ({"message": "   \n "}, b"Write a message"),
        ({"message": "x" * 1001}, b"The message is 1001 characters long: at most 1000."),
        ({"recipient": ""}, b"Choose the colleague"),
        ({"recipient": "999999"}, b"Choose a colleague from the search results"),
        ({"recipient": "<b>"}, b"Choose a colleague from the search results"),
        ({"value": "999999"}, b"Choose one of the values offered"),
        ({"idempotency_key": ""}, b"The form expired"),
        ({"message": "nul\x00byte"}, b"Null characters are not allowed"),
    ],
)
def test_bad_input_gets_a_clear_message_and_saves_nothing(
    client, employee, manager_a, value, data, error
):
    client.force_login(employee)
    page = client.post("/champions/send/", _form(manager_a, value) | data)
    assert page.status_code == 400
    assert error in page.content
    assert Postcard.objects.count() == 0


def test_a_message_of_exactly_1000_characters_is_accepted(client, employee, manager_a, value):
    client.force_login(employee)
    client.post("/champions/send/", _form(manager_a, value, message="x" * 1000))
    assert len(Postcard.objects.get().message) == 1000


def test_a_value_no_longer_offered_is_refused(client, employee, manager_a, value):
    Value.objects.filter(pk=value.pk).update(active=False)
    client.force_login(employee)
    page = client.post("/champions/send/", _form(manager_a, value))
    assert page.status_code == 400
    assert b"Choose one of the values offered" in page.content
    value.refresh_from_db()
    with pytest.raises(services.RecognitionError, match="no longer offered"):
        services.postcard_send(
            sender=employee, recipient=manager_a, value=value, message="hi", idempotency_key="k"
        )


def test_a_double_submit_creates_one_postcard(client, employee, manager_a, value):
    client.force_login(employee)
    form = _form(manager_a, value, idempotency_key="same")
    first = client.post("/champions/send/", form)
    second = client.post("/champions/send/", form, follow=True)
    assert first.status_code == 302
    assert b"was already sent" in second.content
    assert Postcard.objects.count() == 1
    assert set(PostcardCount.objects.values_list("period", "received")) == {
        ("month", 1),
        ("quarter", 1),
        ("year", 1),
        ("all", 1),
    }


def test_the_same_key_from_another_sender_is_another_postcard(send, employee, manager_a, lead_a):
    send(employee, manager_a, idempotency_key="shared")
    send(lead_a, manager_a, idempotency_key="shared")
    assert Postcard.objects.count() == 2


def test_a_double_submit_after_reaching_the_cap_finds_the_first_postcard(
    send, employee, manager_a, settings
):
    settings.POSTCARD_DAILY_CAP = 1
    first = send(employee, manager_a, idempotency_key="once")
    assert send(employee, manager_a, idempotency_key="once") == first


def test_the_daily_cap_stops_the_sixth_postcard_and_resets_the_next_local_day(
    client, send, employee, manager_a, value, time_machine
):
    time_machine.move_to("2026-11-10 09:00 +01:00")
    for _ in range(5):
        send(employee, manager_a)
    client.force_login(employee)
    page = client.post("/champions/send/", _form(manager_a, value, idempotency_key="sixth"))
    assert page.status_code == 400
    assert b"You have sent 5 postcards today, the daily limit" in page.content
    assert Postcard.objects.count() == 5
    # 23:30 UTC on the 10th is already the 11th in Paris: a new day.
    time_machine.move_to("2026-11-10 23:30 +00:00")
    send(employee, manager_a)
    assert Postcard.objects.count() == 6


def test_the_form_says_how_many_postcards_are_left_today(client, send, employee, manager_a):
    client.force_login(employee)
    assert (
        "You can send 5 more today (at most 5 a day)"
        in client.get("/champions/send/").content.decode()
    )
    for _ in range(2):
        send(employee, manager_a)
    assert "You can send 3 more today" in client.get("/champions/send/").content.decode()
    for _ in range(3):
        send(employee, manager_a)
    assert "You have sent your 5 postcards for today" in (
        client.get("/champions/send/").content.decode()
    )


def test_without_javascript_the_search_box_lists_the_colleagues_to_pick_from(
    client, employee, manager_a, value
):
    """Enter in the search box submits the form: the page comes back with the matches."""
    client.force_login(employee)
    form = {"q": "mia", "value": value.pk, "message": "Thanks!", "idempotency_key": "nojs"}
    page = client.post("/champions/send/", form)
    assert page.status_code == 400 and Postcard.objects.count() == 0
    text = page.content.decode()
    assert f'name="recipient" value="{manager_a.pk}"' in text and 'value="mia"' in text
    assert b"Thanks!" in page.content  # the message is kept
    sent = client.post("/champions/send/", {**form, "recipient": manager_a.pk})
    assert sent.status_code == 302 and Postcard.objects.get().recipient == manager_a


def test_after_a_refused_postcard_to_oneself_no_one_stays_chosen(client, employee, value):
    client.force_login(employee)
    page = client.post("/champions/send/", _form(employee, value))
    assert page.status_code == 400 and page.context["chosen"] is None


def test_the_daily_cap_is_read_from_settings(send, employee, manager_a, settings):
    settings.POSTCARD_DAILY_CAP = 2
    send(employee, manager_a)
    send(employee, manager_a)
    with pytest.raises(services.RecognitionError, match="2 postcards today"):
        send(employee, manager_a)


def test_the_daily_cap_defaults_to_five_without_a_setting(send, employee, manager_a, settings):
    del settings.POSTCARD_DAILY_CAP
    for _ in range(5):
        send(employee, manager_a)
    with pytest.raises(services.RecognitionError, match="5 postcards today"):
        send(employee, manager_a)


def test_html_in_messages_is_escaped_everywhere(client, send, employee, manager_a):
    send(employee, manager_a, message="<script>alert('x')</script><b>bold</b>")
    client.force_login(employee)
    for url in ("/champions/", f"/champions/people/{manager_a.username}/", "/"):
        html = client.get(url).content.decode()
        assert "<script>alert" not in html, url
        assert "<b>bold" not in html, url
        assert "&lt;script&gt;" in html, url


def test_a_customer_response_that_inspired_the_postcard_is_attached(
    client, employee, manager_a, value, touchpoint
):
    praise = ResponseFactory(touchpoint=touchpoint, score=10, comment="Mia was wonderful")
    client.force_login(employee)
    page = client.get(f"/champions/send/?response={praise.pk}")
    assert b"Mia was wonderful" in page.content
    client.post("/champions/send/", _form(manager_a, value, response=praise.pk))
    assert Postcard.objects.get().response == praise
    assert b"inspired by a customer at Support call" in client.get("/champions/").content


def test_a_detractor_response_cannot_be_attached(employee, manager_a, value, touchpoint):
    complaint = ResponseFactory(touchpoint=touchpoint, score=2, comment="Awful")
    with pytest.raises(services.RecognitionError, match="Only a customer's praise"):
        services.postcard_send(
            sender=employee,
            recipient=manager_a,
            value=value,
            message="Thanks",
            idempotency_key="k",
            response=complaint,
        )
    assert Postcard.objects.count() == 0


def test_the_recipient_and_their_lead_are_emailed_after_commit(
    send, employee, manager_a, lead_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        postcard = send(employee, manager_a, message="You & the <customer>")
        assert mail.outbox == []  # nothing before the commit
    assert len(callbacks) == 2  # the notification, and the dashboard's panel forgotten
    assert sorted(m.to[0] for m in mail.outbox) == [
        "leo@staff.example.com",
        "mia@staff.example.com",
    ]
    to_mia = next(m for m in mail.outbox if m.to == ["mia@staff.example.com"])
    assert to_mia.subject == "You are a Customer Champion: Went the extra mile"
    assert "You & the <customer>" in to_mia.body  # plain text: not HTML-escaped
    assert f"/champions/people/{manager_a.username}/" in to_mia.body
    postcard.refresh_from_db()
    assert postcard.notified_at is not None


def test_a_sender_without_a_name_is_named_by_username_in_the_emails(
    send, employee, manager_a, lead_a
):
    employee.first_name = employee.last_name = ""
    employee.save()
    manager_a.first_name = manager_a.last_name = ""
    manager_a.save()
    postcard = send(employee, manager_a)
    services.postcard_notify(postcard_id=postcard.pk)
    to_mia = next(m for m in mail.outbox if m.to == ["mia@staff.example.com"])
    to_lead = next(m for m in mail.outbox if m.to == ["leo@staff.example.com"])
    assert "emma sent you a Customer Champion postcard" in to_mia.body
    assert to_lead.body.startswith("Hello") and "mia from your team received" in to_lead.body


def test_a_notification_delivered_twice_emails_once(send, employee, manager_a, lead_a):
    postcard = send(employee, manager_a)  # no commit in this test: the task has not run
    assert tasks.postcard_notify(postcard.pk) == 2
    assert tasks.postcard_notify(postcard.pk) == 0
    assert len(mail.outbox) == 2


def _mail_fails(monkeypatch, error: BaseException):
    """Sending mail raises `error` until monkeypatch.undo()."""

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", fail)


def test_a_failed_notification_is_released_for_a_retry(
    send, employee, manager_a, lead_a, monkeypatch
):
    postcard = send(employee, manager_a)

    _mail_fails(monkeypatch, OSError("SMTP server down"))
    with pytest.raises(OSError):
        services.postcard_notify(postcard_id=postcard.pk)
    postcard.refresh_from_db()
    assert postcard.notified_at is None
    monkeypatch.undo()
    assert services.postcard_notify(postcard_id=postcard.pk) == 2


def test_the_sweeper_sends_what_a_lost_task_left_undone(
    send, employee, manager_a, lead_a, time_machine
):
    time_machine.move_to("2026-11-10 09:00 +01:00")
    send(employee, manager_a)  # its task is lost: this test never commits
    assert services.postcards_notify_sweep() == 0  # too recent: its task may still come
    time_machine.move_to("2026-11-10 09:30 +01:00")
    assert services.postcards_notify_sweep() == 1
    assert len(mail.outbox) == 2
    assert services.postcards_notify_sweep() == 0


def test_a_notification_whose_worker_died_mid_send_is_sent_once_its_lease_ran_out(
    send, employee, manager_a, lead_a, monkeypatch, time_machine
):
    time_machine.move_to("2026-11-10 09:00 +01:00", tick=False)
    postcard = send(employee, manager_a)

    _mail_fails(monkeypatch, SystemExit("worker killed mid-send"))
    with pytest.raises(SystemExit):
        services.postcard_notify(postcard_id=postcard.pk)
    monkeypatch.undo()
    assert services.postcard_notify(postcard_id=postcard.pk) == 0  # leased: maybe sending
    time_machine.move_to("2026-11-10 09:15 +01:00", tick=False)
    assert services.postcards_notify_sweep() == 1
    assert len(mail.outbox) == 2
    assert services.postcards_notify_sweep() == 0


def test_a_hidden_postcard_is_never_announced(send, employee, manager_a, lead_a, cx_admin):
    postcard = send(employee, manager_a)
    services.postcard_hide(postcard=postcard, by=cx_admin)
    assert services.postcard_notify(postcard_id=postcard.pk) == 0
    assert mail.outbox == []


def test_only_cx_admins_hide_and_the_hiding_is_recorded(
    client, send, employee, manager_a, lead_a, cx_admin
):
    postcard = send(employee, manager_a)
    for outsider in (employee, manager_a, lead_a):
        client.force_login(outsider)
        assert client.post(f"/champions/postcards/{postcard.pk}/hide/").status_code == 403
    with pytest.raises(services.RecognitionError):
        services.postcard_hide(postcard=postcard, by=lead_a)
    assert Postcard.objects.visible().count() == 1

    client.force_login(cx_admin)
    hidden = client.post(f"/champions/postcards/{postcard.pk}/hide/", {"reason": "abusive"})
    assert hidden.status_code == 302
    postcard.refresh_from_db()
    assert (postcard.hidden_by, postcard.hidden_reason) == (cx_admin, "abusive")
    assert postcard.hidden_at is not None
    assert client.post("/champions/postcards/999999/hide/").status_code == 404


def test_hiding_returns_to_the_page_it_came_from_but_never_off_site(
    client, send, employee, manager_a, cx_admin
):
    first, second = send(employee, manager_a), send(employee, manager_a)
    client.force_login(cx_admin)
    back = client.post(f"/champions/postcards/{first.pk}/hide/", {"next": "/champions/people/mia/"})
    assert back["Location"] == "/champions/people/mia/"
    away = client.post(f"/champions/postcards/{second.pk}/hide/", {"next": "https://evil.example/"})
    assert away["Location"] == "/champions/"


def test_hiding_in_place_with_htmx_replaces_the_card(client, send, employee, manager_a, cx_admin):
    postcard = send(employee, manager_a)
    client.force_login(cx_admin)
    feed = client.get("/champions/")
    assert f'hx-post="/champions/postcards/{postcard.pk}/hide/"'.encode() in feed.content
    page = client.post(f"/champions/postcards/{postcard.pk}/hide/", HTTP_HX_REQUEST="true")
    assert page.status_code == 200
    assert b"no longer counts anywhere" in page.content
    assert b"<html" not in page.content


def test_employees_see_no_hide_button(client, send, employee, manager_a):
    send(employee, manager_a)
    client.force_login(employee)
    assert b"/hide/" not in client.get("/champions/").content


def test_hidden_postcards_count_nowhere(client, send, employee, manager_a, cx_admin):
    kept = send(employee, manager_a, message="kept")
    hidden = send(employee, manager_a, message="abusive words")
    services.postcard_hide(postcard=hidden, by=cx_admin)
    services.postcard_hide(postcard=hidden, by=cx_admin)  # twice changes nothing
    assert set(PostcardCount.objects.values_list("received", flat=True)) == {1}
    client.force_login(employee)
    assert client.get("/champions/").context["postcards"] == [kept]
    person = client.get(f"/champions/people/{manager_a.username}/")
    assert (person.context["received"], person.context["postcards"]) == (1, [kept])
    assert b"1 postcard received" in person.content
    home = client.get("/").content.decode()
    assert "abusive words" not in home
    assert "1 postcard" in home


def test_feed_is_newest_first_and_filters_by_team_and_value(
    client, send, employee, manager_a, manager_b, value, time_machine
):
    other = Value.objects.create(name="One team")
    time_machine.move_to("2026-11-10 09:00 +01:00")
    send(employee, manager_a, message="to team A")
    time_machine.move_to("2026-11-10 10:00 +01:00")
    send(employee, manager_b, message="to team B", value=other)
    client.force_login(employee)

    def messages(query=""):
        return [p.message for p in client.get(f"/champions/{query}").context["postcards"]]

    assert messages() == ["to team B", "to team A"]
    assert messages(f"?team={manager_b.memberships.get().team_id}") == ["to team B"]
    assert messages(f"?value={value.pk}") == ["to team A"]
    assert messages(f"?value={value.pk}&team={manager_b.memberships.get().team_id}") == []
    page = client.get(f"/champions/?value={value.pk}&team={manager_b.memberships.get().team_id}")
    assert b"No postcards match these filters" in page.content
    assert client.get("/champions/?team=abc&value=<x>").status_code == 200


def test_the_feed_pages_to_older_postcards(client, send, employee, manager_a, settings):
    settings.POSTCARD_DAILY_CAP = 100
    for i in range(35):
        send(employee, manager_a, message=f"postcard {i}")
    client.force_login(employee)
    first = client.get("/champions/")
    assert len(first.context["postcards"]) == 30
    older = client.get(f"/champions/?before={first.context['older']}")
    assert [p.message for p in older.context["postcards"]] == [
        f"postcard {i}" for i in range(4, -1, -1)
    ]
    assert older.context["older"] is None


def test_the_feed_without_postcards_says_so(client, employee):
    client.force_login(employee)
    assert b"No postcards yet" in client.get("/champions/").content


def test_colleague_search_finds_by_name_and_never_oneself(client, employee, manager_a, manager_b):
    client.force_login(employee)
    assert f'value="{manager_a.pk}"'.encode() in client.get("/champions/colleagues/?q=mia").content
    assert (
        f'value="{manager_b.pk}"'.encode() in client.get("/champions/colleagues/?q=billing").content
    )
    assert (
        f'value="{manager_a.pk}"'.encode() in client.get("/champions/colleagues/?q=Mia Man").content
    )
    mine = client.get("/champions/colleagues/?q=emma").content
    assert f'value="{employee.pk}"'.encode() not in mine
    assert b"Nobody found" in mine
    assert b"&lt;b&gt;" in client.get("/champions/colleagues/?q=<b>").content


def test_the_thank_link_on_a_person_page_preselects_them(client, employee, manager_a):
    client.force_login(employee)
    person = client.get(f"/champions/people/{manager_a.username}/")
    assert b"/champions/send/?to=mia" in person.content
    page = client.get("/champions/send/?to=mia")
    assert page.context["chosen"] == manager_a
    assert client.get("/champions/send/?to=emma").context["chosen"] is None  # never oneself


def test_an_unknown_person_or_a_former_one_without_postcards_is_404(client, employee, manager_a):
    manager_a.is_active = False
    manager_a.save()
    client.force_login(employee)
    assert client.get("/champions/people/mia/").status_code == 404
    assert client.get("/champions/people/nobody/").status_code == 404


def test_a_former_colleague_on_the_leaderboard_links_to_their_page_without_a_thank_button(
    client, employee, manager_a, send
):
    send(employee, manager_a, "Thanks for the cover")
    manager_a.is_active = False
    manager_a.save()
    client.force_login(employee)
    board = client.get("/champions/leaderboard/?period=all").content.decode()
    assert "/champions/people/mia/" in board
    page = client.get("/champions/people/mia/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Thanks for the cover" in text and "No longer with the company" in text
    assert "/champions/send/?to=mia" not in text


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/champions/"),
        ("get", "/champions/send/"),
        ("post", "/champions/send/"),
        ("get", "/champions/colleagues/?q=mia"),
        ("get", "/champions/people/mia/"),
        ("get", "/champions/leaderboard/"),
        ("get", "/champions/praise/"),
        ("post", "/champions/praise/1/exclude/"),
        ("post", "/champions/postcards/1/hide/"),
        ("get", "/champions/shout-outs/"),
        ("post", "/champions/shout-outs/1/publish/"),
        ("post", "/champions/shout-outs/1/dismiss/"),
        ("get", "/champions/me/"),
    ],
)
def test_anonymous_visitors_are_sent_to_login(client, db, method, url):
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_feed_query_count_is_pinned(
    client,
    send,
    employee,
    manager_a,
    manager_b,
    lead_a,
    value,
    django_assert_max_num_queries,
    settings,
    touchpoint,
):
    settings.POSTCARD_DAILY_CAP = 100
    praise = ResponseFactory(touchpoint=touchpoint, score=10, comment="Great")
    for i in range(40):
        send(
            employee if i % 2 else manager_b,
            manager_a if i % 3 else lead_a,
            response=praise if i % 4 == 0 else None,
        )
    client.force_login(employee)
    client.get("/champions/")  # session and caches warm
    with django_assert_max_num_queries(8):
        assert client.get("/champions/").status_code == 200
    with django_assert_max_num_queries(9):
        assert (
            client.get(
                f"/champions/?team={manager_a.memberships.get().team_id}&before=9999"
            ).status_code
            == 200
        )
    with django_assert_max_num_queries(9):
        assert client.get(f"/champions/people/{manager_a.username}/").status_code == 200


def test_a_nickname_is_set_on_my_page_and_shown_on_my_person_page(client, employee):
    client.force_login(employee)
    assert client.post("/champions/me/", {"nickname": "  Em  "}).status_code == 302
    assert (
        b"customers may call them \xe2\x80\x9cEm\xe2\x80\x9d"
        in client.get("/champions/people/emma/").content
    )
    page = client.post("/champions/me/", {"nickname": "!"})
    assert page.status_code == 400
    assert b"at least two letters" in page.content


@pytest.mark.parametrize("nickname", ["the", "Will", "Bill", "très", "the one"])
def test_a_nickname_that_is_a_common_word_is_refused_on_my_page_and_in_the_admin(
    client, employee, cx_admin, nickname
):
    """Every comment with "the" (or "will") would otherwise become a shout-out for them."""
    from recognition.models import Profile

    client.force_login(employee)
    page = client.post("/champions/me/", {"nickname": nickname})
    assert page.status_code == 400 and "customers write about anything" in page.content.decode()
    client.force_login(cx_admin)
    cx_admin.is_superuser = True
    cx_admin.save()
    admin_page = client.post(
        "/admin/recognition/profile/add/", {"user": employee.pk, "nickname": nickname}
    )
    assert admin_page.status_code == 200 and "customers write about anything" in (
        admin_page.content.decode()
    )
    assert not Profile.objects.filter(user=employee).exclude(nickname="").exists()


def test_a_nickname_with_a_word_of_its_own_is_accepted(client, employee):
    client.force_login(employee)
    assert client.post("/champions/me/", {"nickname": "Will the Fixer"}).status_code == 302
