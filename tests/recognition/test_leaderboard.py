"""Leaderboard: ranks with ties per period, hidden postcards never count."""

import datetime as dt

from recognition import selectors, services
from tests.factories import MembershipFactory, UserFactory


def ranks(period, **kwargs):
    return [
        (r.user.username if r.user else r.team.name, r.rank, r.count)
        for r in selectors.leaderboard(period=period, **kwargs)
    ]


def test_ties_share_a_rank_across_each_period_boundary(send, team_a, team_b, time_machine):
    ann, bob, cat, sender = (UserFactory(username=n) for n in ("ann", "bob", "cat", "sender"))
    for user, team in ((ann, team_a), (bob, team_a), (cat, team_b), (sender, team_b)):
        MembershipFactory(user=user, team=team)
    # 2025: cat gets 3. Q3 2026 (August): ann 2. Q4 (1 Oct): bob 1. November: ann 1, bob 1.
    for when, who, n in (
        ("2025-06-01 10:00 +02:00", cat, 3),
        ("2026-08-20 10:00 +02:00", ann, 2),
        ("2026-10-01 00:30 +02:00", bob, 1),
        ("2026-11-03 10:00 +01:00", ann, 1),
        ("2026-11-04 10:00 +01:00", bob, 1),
    ):
        time_machine.move_to(when)
        for _ in range(n):
            send(sender, who)
    time_machine.move_to("2026-11-20 12:00 +01:00")
    assert ranks("month") == [("ann", 1, 1), ("bob", 1, 1)]
    assert ranks("quarter") == [("bob", 1, 2), ("ann", 2, 1)]
    assert ranks("year") == [("ann", 1, 3), ("bob", 2, 2)]
    assert ranks("all") == [("ann", 1, 3), ("cat", 1, 3), ("bob", 3, 2)]
    assert ranks("all", by="team") == [("Support", 1, 5), ("Billing", 2, 3)]

    # Half past midnight local time on 1 October is in Q4, though still 30 September in UTC.
    time_machine.move_to("2026-10-01 08:00 +02:00")
    assert ranks("month") == [("bob", 1, 1)]


def test_hidden_postcards_never_count(send, cx_admin, employee, manager_a, manager_b):
    keep = send(employee, manager_a)
    hidden = [send(employee, manager_b), send(manager_a, manager_b)]
    for postcard in hidden:
        services.postcard_hide(postcard=postcard, by=cx_admin)
    assert keep.recipient == manager_a
    for period in selectors.PERIODS:
        assert ranks(period) == [("mia", 1, 1)]


def test_leaderboard_page_offers_each_period_and_teams(
    client, send, employee, manager_a, django_assert_max_num_queries
):
    send(employee, manager_a)
    client.force_login(employee)
    for period in ("month", "quarter", "year", "all", "nonsense"):
        with django_assert_max_num_queries(8):
            page = client.get(f"/champions/leaderboard/?period={period}")
        assert b"Mia Manager" in page.content
    assert b"Support" in client.get("/champions/leaderboard/?by=team").content


def test_leaderboard_without_postcards_says_so(client, employee):
    client.force_login(employee)
    assert b"No postcards in this period yet" in client.get("/champions/leaderboard/").content


def test_period_starts_are_local_calendar_boundaries():
    day = dt.date(2026, 11, 20)
    assert selectors.period_end("month", day) == dt.date(2026, 12, 1)
    assert selectors.period_end("quarter", day) == dt.date(2027, 1, 1)
    assert selectors.period_end("year", day) == dt.date(2027, 1, 1)
    assert selectors.period_end("month", dt.date(2026, 12, 5)) == dt.date(2027, 1, 1)
    assert selectors.period_start("month", day) == dt.date(2026, 11, 1)
    assert selectors.period_start("quarter", day) == dt.date(2026, 10, 1)
    assert selectors.period_start("year", day) == dt.date(2026, 1, 1)
    assert selectors.period_start("all", day) is None
