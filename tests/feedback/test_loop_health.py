"""Loop health and the root-cause Pareto equal a direct computation on fixture data."""

import datetime as dt
import random
import statistics

import pytest
from django.utils import timezone

from feedback import selectors, services
from feedback.models import FollowUpCase, RootCause
from surveys.selectors import Period

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def fixture_cases(record, touchpoint, touchpoint_b, manager_a, time_machine):
    """60 cases over 30 days with random contact times, outcomes and recoveries."""
    rng = random.Random(7)
    causes = [RootCause.objects.create(name=n) for n in ("Wait", "Price", "Rude", "Outage")]
    cases = []
    for i in range(60):
        opened = NOW - dt.timedelta(days=rng.randrange(0, 30), hours=rng.randrange(0, 24))
        time_machine.move_to(opened, tick=False)
        tp = touchpoint if i % 3 else touchpoint_b
        case = record(tp, rng.randrange(0, 7), email=f"c{i}@example.net").case
        roll = rng.random()
        if roll < 0.7:
            time_machine.move_to(
                opened + dt.timedelta(hours=rng.choice([1, 5, 20, 47, 49, 72])), tick=False
            )
            services.contact_attempt_log(case=case, by=manager_a, outcome="reached")
            if rng.random() < 0.6:
                services.case_close(
                    case=case,
                    by=manager_a,
                    outcome="resolved",
                    root_causes=rng.sample(causes, rng.randrange(1, 3)),
                    resolution="done",
                )
                if rng.random() < 0.4:
                    FollowUpCase.objects.filter(pk=case.pk).update(recovered_at=timezone.now())
        elif roll < 0.8:
            time_machine.move_to(opened + dt.timedelta(hours=3), tick=False)
            services.contact_attempt_log(case=case, by=manager_a, outcome="no_answer")
        cases.append(case.pk)
    time_machine.move_to(NOW, tick=False)
    return FollowUpCase.objects.filter(pk__in=cases)


def test_loop_health_equals_a_direct_computation(fixture_cases, touchpoint):
    period = Period(dt.date(2026, 11, 1), dt.date(2026, 11, 21))
    for tp_id in (None, touchpoint.pk):
        health = selectors.loop_health(period=period, touchpoint_id=tp_id, now=NOW)
        tz = timezone.get_current_timezone()
        start = dt.datetime.combine(period.start, dt.time.min, tzinfo=tz)
        end = dt.datetime.combine(period.end, dt.time.min, tzinfo=tz)
        cases = [
            c
            for c in FollowUpCase.objects.all()
            if start <= c.created_at < end and (tp_id is None or c.response.touchpoint_id == tp_id)
        ]
        eligible = [c for c in cases if c.first_contact_at or c.due_at < NOW]
        in_time = [c for c in cases if c.first_contact_at and c.first_contact_at <= c.due_at]
        waits = [
            (c.first_contact_at - c.created_at).total_seconds() / 3600
            for c in cases
            if c.first_contact_at
        ]
        resolved = [c for c in cases if c.outcome == "resolved"]
        all_scope = [
            c
            for c in FollowUpCase.objects.all()
            if tp_id is None or c.response.touchpoint_id == tp_id
        ]
        assert health.cases == len(cases) > 0
        assert health.due_or_contacted == len(eligible)
        assert health.contacted_in_time == len(in_time)
        assert health.contacted_in_time_percent == round(100 * len(in_time) / len(eligible), 1)
        assert health.median_hours_to_contact == round(statistics.median(waits), 1)
        assert health.open == sum(1 for c in all_scope if c.is_open)
        assert health.overdue == sum(1 for c in all_scope if c.is_open and c.due_at < NOW)
        assert health.resolved == len(resolved)
        assert health.recovered == sum(1 for c in resolved if c.recovered_at)


def test_pareto_counts_cases_per_root_cause_with_a_cumulative_share(fixture_cases, touchpoint):
    period = Period(dt.date(2026, 10, 1), dt.date(2026, 11, 21))
    rows = selectors.root_cause_pareto(period=period, touchpoint_id=touchpoint.pk)
    expected = {}
    for case in fixture_cases.filter(response__touchpoint=touchpoint):
        for rc in case.root_causes.all():
            expected[rc.name] = expected.get(rc.name, 0) + 1
    assert {r["name"]: r["n"] for r in rows} == expected
    assert [r["n"] for r in rows] == sorted(expected.values(), reverse=True)
    assert rows[-1]["cumulative"] == 100.0


def test_loop_health_without_cases_shows_dashes_not_zeroes(db):
    health = selectors.loop_health(period=Period.last_days(30))
    assert health.contacted_in_time_percent is None
    assert health.median_hours_to_contact is None
    assert health.recovery_percent is None
