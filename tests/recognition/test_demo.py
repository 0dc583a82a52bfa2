"""The demo data seed_demo loads, and the dashboard panel it feeds."""

import random

from django.db.models import F
from django.template.loader import render_to_string

from recognition import demo, selectors, services
from recognition.models import Postcard, ShoutOut, Value
from tests.factories import MembershipFactory, ResponseFactory, UserFactory


def test_demo_postcards_fill_every_page_and_count_consistently(
    client, team_a, team_b, lead_a, cx_admin, touchpoint
):
    users = [lead_a]
    for i in range(12):
        user = UserFactory(username=f"staff{i}", first_name=f"First{i}", last_name=f"Last{i}")
        MembershipFactory(user=user, team=team_a if i % 2 else team_b)
        users.append(user)
    responses = [
        ResponseFactory(touchpoint=touchpoint, score=10, comment=f"First{i} Last{i} was great")
        for i in range(6)
    ] + [ResponseFactory(touchpoint=touchpoint, score=2, comment="Awful")]

    made = demo.seed_postcards(rng=random.Random(1), users=users, responses=responses)

    assert 250 <= made == Postcard.objects.count() <= 300
    assert set(Value.objects.values_list("name", flat=True)) == set(demo.VALUES)
    hidden = Postcard.objects.filter(hidden_at__isnull=False)
    assert 1 <= hidden.count() <= 5
    assert {p.hidden_by for p in hidden} == {cx_admin}
    assert Postcard.objects.filter(response__isnull=False).exclude(response__score=10).count() == 0
    assert Postcard.objects.filter(response__isnull=False).exists()
    assert not Postcard.objects.filter(sender_id=F("recipient_id")).exists()
    assert Postcard.objects.filter(notified_at__isnull=True).count() == 0  # no demo emails
    assert services.postcard_counters_rebuild() == 0  # counters match the postcards
    assert selectors.leaderboard(period="month")
    pending = ShoutOut.objects.filter(status="pending")
    assert 1 <= pending.count() <= demo.SHOUTOUTS_PER_LEAD
    assert {s.lead for s in pending} == {lead_a}
    assert demo.seed_postcards(rng=random.Random(1), users=users, responses=responses) == 0

    client.force_login(users[1])
    for url in ("/champions/", "/champions/leaderboard/?period=all", "/champions/praise/", "/"):
        assert client.get(url).status_code == 200, url


def test_the_dashboard_panel_shows_latest_postcards_top_five_and_fresh_praise(
    send, employee, manager_a, manager_b, lead_a, touchpoint, settings
):
    settings.POSTCARD_DAILY_CAP = 20
    for recipient in (manager_a, manager_a, manager_b, lead_a):
        send(employee, recipient, message=f"Thanks {recipient.first_name}")
    ResponseFactory(touchpoint=touchpoint, score=10, comment="Lovely staff")
    panel = selectors.dashboard_panel(user=employee)
    assert [p.message for p in panel["latest_postcards"]][:1] == ["Thanks Leo"]
    assert [(r.user.username, r.rank, r.count) for r in panel["top_of_month"]] == [
        ("mia", 1, 2),
        ("ben", 2, 1),
        ("leo", 2, 1),
    ]
    assert [p.comment for p in panel["fresh_praise"]] == ["Lovely staff"]
    html = render_to_string("recognition/_dashboard_panel.html", {"panel": panel})
    assert "Mia Manager" in html and "Lovely staff" in html and "Thanks Leo" in html


def test_the_top_five_says_how_many_more_share_the_fifth_rank(send, employee, settings):
    from tests.factories import UserFactory

    settings.POSTCARD_DAILY_CAP = 50
    people = [UserFactory(username=f"p{i}", first_name=f"P{i}", last_name="X") for i in range(8)]
    for i, person in enumerate(people):  # p0 gets 8, p1 7 ... p3 5; p4 to p7 tie at 1
        for _ in range(8 - i if i < 4 else 1):
            send(employee, person)
    panel = selectors.dashboard_panel(user=employee)
    assert [(r.user.username, r.rank) for r in panel["top_of_month"]][-1] == ("p4", 5)
    assert panel["top_of_month_tied"] == 3
    html = render_to_string("recognition/_dashboard_panel.html", {"panel": panel})
    assert "… and 3 more at rank 5, with 1 postcard" in html


def test_the_dashboard_panel_without_anything_shows_empty_states(db):
    html = render_to_string(
        "recognition/_dashboard_panel.html", {"panel": selectors.dashboard_panel()}
    )
    assert "No postcards this month yet." in html
    assert "No postcards yet." in html
    assert "No praise in the last 30 days yet." in html


def test_the_shared_panel_shows_a_new_or_hidden_postcard_at_once(
    client, employee, manager_a, cx_admin, django_capture_on_commit_callbacks
):
    """The panel is cached for a minute for every viewer, but a postcard sent or hidden
    shows on the next dashboard view."""
    value = Value.objects.create(name="Listened")
    client.force_login(employee)
    assert "Thanks for the calm" not in client.get("/").content.decode()  # now cached
    with django_capture_on_commit_callbacks(execute=True):
        postcard, _ = services.postcard_send(
            sender=employee,
            recipient=manager_a,
            value=value,
            message="Thanks for the calm",
            idempotency_key="a",
        )
    assert "Thanks for the calm" in client.get("/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        services.postcard_hide(postcard=postcard, by=cx_admin, reason="test")
    assert "Thanks for the calm" not in client.get("/").content.decode()
