"""Hiding a postcard: bad input is a 400 that hides nothing, never a 500."""

import pytest

from recognition.models import Postcard


@pytest.mark.parametrize("field", ["reason", "next"])
def test_a_nul_character_is_refused_with_a_400_and_nothing_is_hidden(
    client, send, employee, manager_a, cx_admin, field
):
    postcard = send(employee, manager_a)
    client.force_login(cx_admin)
    data = {"reason": "abusive", "next": "/champions/", field: "abu\x00sive"}
    answer = client.post(f"/champions/postcards/{postcard.pk}/hide/", data)
    assert answer.status_code == 400
    assert "NUL character" in answer.content.decode()
    assert "not hidden" in answer.content.decode()
    postcard.refresh_from_db()
    assert (postcard.hidden_at, postcard.hidden_by, postcard.hidden_reason) == (None, None, "")
    assert Postcard.objects.visible().count() == 1


@pytest.mark.parametrize(
    "back",
    [
        "foo",
        "recognition:leaderboard",
        "champions/people/mia/",
        "//evil.example/",
        "/\\evil.example/",
        "https://evil.example/",
        "javascript:alert(1)",
    ],
)
def test_a_next_that_is_not_a_local_path_sends_back_to_the_feed(
    client, send, employee, manager_a, cx_admin, back
):
    postcard = send(employee, manager_a)
    client.force_login(cx_admin)
    answer = client.post(f"/champions/postcards/{postcard.pk}/hide/", {"next": back})
    assert answer.status_code == 302
    assert answer["Location"] == "/champions/"
    postcard.refresh_from_db()
    assert postcard.hidden_at is not None


def test_a_local_path_with_a_query_is_where_hiding_returns(
    client, send, employee, manager_a, cx_admin
):
    postcard = send(employee, manager_a)
    client.force_login(cx_admin)
    answer = client.post(
        f"/champions/postcards/{postcard.pk}/hide/",
        {"next": "/champions/?team=1&before=9", "reason": "  spam  "},
    )
    assert answer["Location"] == "/champions/?team=1&before=9"
    postcard.refresh_from_db()
    assert postcard.hidden_reason == "spam"


def test_outsiders_still_get_403_whatever_they_send(client, send, employee, manager_a):
    postcard = send(employee, manager_a)
    client.force_login(employee)
    answer = client.post(f"/champions/postcards/{postcard.pk}/hide/", {"reason": "x\x00"})
    assert answer.status_code == 403
