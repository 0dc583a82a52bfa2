"""Leaderboard: ranks with ties per period, local period boundaries, hidden postcards."""

import datetime as dt

import pytest

from recognition import selectors, services
from recognition.models import PostcardCount
from tests.factories import MembershipFactory, UserFactory


def ranks(period, **kwargs):
    return [
        (r.user.username if r.user else r.team.name, r.rank, r.count)
        for r in selectors.leaderboard(period=period, **kwargs)
    ]


@pytest.fixture
def people(team_a, team_b):
    """ann and bob in Support, cat in Billing, and two colleagues who send."""
    made = {}
    for name, team in (("ann", team_a), ("bob", team_a), ("cat", team_b), ("sam", team_b)):
        made[name] = UserFactory(username=name)
        MembershipFactory(user=made[name], team=team)
    made["sue"] = UserFactory(username="sue")
    MembershipFactory(user=made["sue"], team=team_b)
    return made


# Each period's first local instant in Paris, and a moment inside the period. Half an
# hour after the boundary is still the previous day in UTC: only a time-zone-aware
# boundary puts those postcards in the new period.
BOUNDARIES = {
    "month": ("2026-11-01 00:00 +01:00", "2026-11-20 12:00 +01:00"),
    "quarter": ("2026-10-01 00:00 +02:00", "2026-11-20 12:00 +01:00"),
    "year": ("2026-01-01 00:00 +01:00", "2026-11-20 12:00 +01:00"),
}


@pytest.mark.parametrize("period", list(BOUNDARIES))
def test_ties_share_a_rank_on_each_side_of_each_period_boundary(period, people, send, time_machine):
    boundary, inside = (dt.datetime.strptime(s, "%Y-%m-%d %H:%M %z") for s in BOUNDARIES[period])
    just_before, just_after = (
        boundary - dt.timedelta(minutes=1),
        boundary + dt.timedelta(minutes=30),
    )
    plan = [
        (just_before, "ann"),
        (just_after, "ann"),
        (just_after, "bob"),
        (just_before, "cat"),
        (just_before - dt.timedelta(minutes=5), "cat"),
    ]
    for when, who in plan:
        time_machine.move_to(when)
        send(people["sam"], people[who])
    time_machine.move_to(inside)
    # In the period: ann and bob tie for first; cat's postcards came a minute too early.
    assert ranks(period) == [("ann", 1, 1), ("bob", 1, 1)]
    # All time: ann and cat tie, bob is third, not second (standard competition ranking).
    assert ranks("all") == [("ann", 1, 2), ("cat", 1, 2), ("bob", 3, 1)]
    assert ranks(period, by="team") == [("Support", 1, 2)]
    assert ranks("all", by="team") == [("Support", 1, 3), ("Billing", 2, 2)]

    # A minute before the boundary the previous period is current: cat and ann lead.
    time_machine.move_to(boundary - dt.timedelta(seconds=30))
    assert ranks(period) == [("cat", 1, 2), ("ann", 2, 1)]


def test_a_period_is_a_whole_local_period_and_ranks_follow_counts(people, send, time_machine):
    time_machine.move_to("2026-08-20 10:00 +02:00")  # Q3
    send(people["sam"], people["ann"])
    send(people["sue"], people["ann"])
    time_machine.move_to("2026-10-15 10:00 +02:00")  # Q4, October
    send(people["sam"], people["bob"])
    time_machine.move_to("2026-11-03 10:00 +01:00")  # Q4, November
    for who in ("cat", "cat", "cat", "bob"):
        send(people["sam"], people[who])
    time_machine.move_to("2026-11-20 12:00 +01:00")
    assert ranks("month") == [("cat", 1, 3), ("bob", 2, 1)]
    assert ranks("quarter") == [("cat", 1, 3), ("bob", 2, 2)]
    assert ranks("year") == [("cat", 1, 3), ("ann", 2, 2), ("bob", 2, 2)]
    assert ranks("year", by="team") == [("Support", 1, 4), ("Billing", 2, 3)]


def test_a_member_of_two_teams_counts_for_both(people, send, team_b):
    MembershipFactory(user=people["ann"], team=team_b)
    send(people["sam"], people["ann"])
    assert ranks("month", by="team") == [("Billing", 1, 1), ("Support", 1, 1)]


def test_hidden_postcards_never_count(send, cx_admin, employee, manager_a, manager_b):
    send(employee, manager_a)
    hidden = [send(employee, manager_b), send(manager_a, manager_b)]
    for postcard in hidden:
        services.postcard_hide(postcard=postcard, by=cx_admin)
    for period in selectors.PERIODS:
        assert ranks(period) == [("mia", 1, 1)]
        assert ranks(period, by="team") == [("Support", 1, 1)]


def test_hiding_an_old_postcard_takes_it_from_its_own_periods(
    send, cx_admin, employee, manager_a, time_machine
):
    time_machine.move_to("2026-09-10 10:00 +02:00")
    old = send(employee, manager_a)
    time_machine.move_to("2026-11-10 10:00 +01:00")
    send(employee, manager_a)
    services.postcard_hide(postcard=old, by=cx_admin)
    assert ranks("month") == [("mia", 1, 1)]
    assert ranks("all") == [("mia", 1, 1)]
    assert set(PostcardCount.objects.values_list("period", "start", "received")) == {
        ("month", dt.date(2026, 9, 1), 0),
        ("quarter", dt.date(2026, 7, 1), 0),
        ("month", dt.date(2026, 11, 1), 1),
        ("quarter", dt.date(2026, 10, 1), 1),
        ("year", dt.date(2026, 1, 1), 1),
        ("all", dt.date(2000, 1, 1), 1),
    }


def test_the_counters_rebuilt_from_the_postcards_match_the_counters_kept(
    send, cx_admin, employee, manager_a, manager_b, lead_a, time_machine, settings
):
    settings.POSTCARD_DAILY_CAP = 50
    for i, when in enumerate(
        ("2026-01-01 00:10 +01:00", "2026-03-31 23:50 +02:00", "2026-11-10 10:00 +01:00")
    ):
        time_machine.move_to(when)
        for recipient in (manager_a, manager_b, lead_a)[: i + 1]:
            postcard = send(employee, recipient)
    services.postcard_hide(postcard=postcard, by=cx_admin)

    def counters():
        return {
            (c.recipient_id, c.period, c.start): c.received for c in PostcardCount.objects.all()
        }

    kept = counters()
    # Only lead_a's rows go: four counters at zero.
    assert services.postcard_counters_rebuild() == 4
    rebuilt = counters()
    assert rebuilt == {key: n for key, n in kept.items() if n}
    assert rebuilt[(manager_a.pk, "year", dt.date(2026, 1, 1))] == 3
    assert rebuilt[(manager_a.pk, "quarter", dt.date(2026, 1, 1))] == 2  # 31 March, local
    PostcardCount.objects.all().delete()
    assert services.postcard_counters_rebuild() == len(rebuilt)
    assert counters() == rebuilt
    assert services.postcard_counters_rebuild() == 0


def test_leaderboard_page_ranks_people_and_teams_with_a_pinned_query_count(
    client, send, employee, manager_a, manager_b, lead_a, django_assert_max_num_queries, settings
):
    settings.POSTCARD_DAILY_CAP = 50
    for recipient in (manager_a, manager_a, manager_b, manager_b, lead_a):
        send(employee, recipient)
    client.force_login(employee)
    client.get("/champions/leaderboard/")
    for period in ("month", "quarter", "year", "all", "nonsense"):
        for by in ("person", "team"):
            with django_assert_max_num_queries(5):
                page = client.get(f"/champions/leaderboard/?period={period}&by={by}")
            assert page.status_code == 200
    people = client.get("/champions/leaderboard/?period=all").content.decode()
    assert people.count('data-rank="1"') == 2 and people.count('data-rank="3"') == 1
    assert "Mia Manager" in people and "Ben Billing" in people
    teams = client.get("/champions/leaderboard/?by=team").content.decode()
    assert 'data-rank="1"' in teams and "Support" in teams and "Billing" in teams


def test_leaderboard_without_postcards_says_so(client, employee):
    client.force_login(employee)
    assert b"No postcards in this period yet" in client.get("/champions/leaderboard/").content


def test_period_boundaries_are_local_calendar_days():
    day = dt.date(2026, 11, 20)
    assert selectors.period_start("month", day) == dt.date(2026, 11, 1)
    assert selectors.period_start("quarter", day) == dt.date(2026, 10, 1)
    assert selectors.period_start("year", day) == dt.date(2026, 1, 1)
    assert selectors.period_start("all", day) is None
    assert selectors.period_end("month", day) == dt.date(2026, 12, 1)
    assert selectors.period_end("quarter", day) == dt.date(2027, 1, 1)
    assert selectors.period_end("year", day) == dt.date(2027, 1, 1)
    assert selectors.period_end("month", dt.date(2026, 12, 5)) == dt.date(2027, 1, 1)
    assert selectors.period_end("quarter", dt.date(2026, 2, 5)) == dt.date(2026, 4, 1)
