"""Daily rollups: equal to a direct aggregate, idempotent, and caught up by the sweeper."""

import datetime as dt
import random

import pytest
from django.core.management import call_command
from django.db.models import Count, Q
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from surveys import nps, selectors, services
from surveys.models import NpsDaily, Response
from tests.factories import ResponseFactory, TouchpointFactory

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def direct_counts(touchpoint, start, end):
    """NPS counts straight from the responses table, for a half-open range of local days."""
    first, _ = services.day_bounds(start)
    last, _ = services.day_bounds(end)
    row = Response.objects.filter(
        touchpoint=touchpoint, created_at__gte=first, created_at__lt=last
    ).aggregate(
        p=Count("id", filter=Q(score__gte=9)),
        pa=Count("id", filter=Q(score__in=[7, 8])),
        d=Count("id", filter=Q(score__lte=6)),
    )
    return nps.Counts(row["p"], row["pa"], row["d"])


def random_responses(touchpoints, n, seed):
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        # Minutes, not days, so that responses land on both sides of local midnight.
        at = NOW - dt.timedelta(minutes=rng.randrange(0, 60 * 24 * 70))
        score = rng.choice([0, 1, 3, 5, 6, 6, 7, 8, 8, 9, 9, 10, 10, 10])
        rows.append(
            Response(
                touchpoint=rng.choice(touchpoints),
                score=score,
                category=nps.category(score),
                channel="web",
                created_at=at,
                updated_at=at,
            )
        )
    Response.objects.bulk_create(rows)


@pytest.mark.django_db
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 10_000), n=st.integers(0, 400))
def test_nps_from_rollups_equals_a_direct_aggregate_on_random_data(seed, n):
    Response.objects.all().delete()
    NpsDaily.objects.all().delete()
    touchpoints = [TouchpointFactory(slug="tp-a"), TouchpointFactory(slug="tp-b")]
    random_responses(touchpoints, n, seed)
    services.rollups_recompute_range(start=dt.date(2026, 9, 1), end=dt.date(2026, 11, 30))

    rng = random.Random(seed)
    for _ in range(5):
        start = dt.date(2026, 9, 1) + dt.timedelta(days=rng.randrange(0, 80))
        end = start + dt.timedelta(days=rng.randrange(1, 40))
        period = selectors.Period(start, end)
        from_rollups = selectors.counts_by_touchpoint(period)
        for tp in touchpoints:
            direct = direct_counts(tp, start, end)
            assert from_rollups.get(tp.pk, nps.Counts()) == direct
            assert from_rollups.get(tp.pk, nps.Counts()).nps == direct.nps


def test_recomputing_a_day_is_idempotent(touchpoint):
    day = dt.date(2026, 11, 3)
    start, _ = services.day_bounds(day)
    for score in (10, 9, 7, 2):
        ResponseFactory(
            touchpoint=touchpoint, score=score, created_at=start + dt.timedelta(hours=5)
        )
    first = services.rollup_recompute(touchpoint_id=touchpoint.pk, day=day)
    second = services.rollup_recompute(touchpoint_id=touchpoint.pk, day=day)
    assert NpsDaily.objects.count() == 1
    assert (second.promoters, second.passives, second.detractors) == (2, 1, 1)
    assert second.score_counts == first.score_counts == [0, 0, 1, 0, 0, 0, 0, 1, 0, 1, 1]


def test_a_day_is_the_local_day_of_first_submission(touchpoint, settings):
    settings.TIME_ZONE = "Europe/Paris"
    # 23:30 UTC on 3 Nov is 00:30 on 4 Nov in Paris.
    at = dt.datetime(2026, 11, 3, 23, 30, tzinfo=dt.UTC)
    ResponseFactory(touchpoint=touchpoint, score=10, created_at=at)
    timezone.activate("Europe/Paris")
    services.rollups_recompute_range(start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 5))
    assert list(NpsDaily.objects.values_list("date", flat=True)) == [dt.date(2026, 11, 4)]


def test_a_response_counts_on_the_installations_day_whatever_zone_is_active(touchpoint, settings):
    settings.TIME_ZONE = "Europe/Paris"
    at = dt.datetime(2026, 11, 3, 23, 30, tzinfo=dt.UTC)  # 00:30 on 4 Nov in Paris
    with timezone.override("America/New_York"):  # 18:30 on 3 Nov there
        day = services.local_day(at)
    assert day == dt.date(2026, 11, 4)
    start, end = services.day_bounds(day)  # the day it is recounted on contains it
    assert start <= at < end
    with pytest.raises(ValueError, match="aware"):
        services.local_day(dt.datetime(2026, 11, 3, 23, 30))


def test_recompute_rollups_command_rebuilds_a_range_and_removes_stale_days(touchpoint, capsys):
    day = dt.date(2026, 11, 3)
    ResponseFactory(touchpoint=touchpoint, score=3, created_at=services.day_bounds(day)[0])
    NpsDaily.objects.create(touchpoint=touchpoint, date=day, promoters=99)
    NpsDaily.objects.create(touchpoint=touchpoint, date=dt.date(2026, 11, 2), promoters=5)
    call_command("recompute_rollups", "--since", "2026-11-01", "--until", "2026-11-05")
    assert "Recomputed 1 daily rollups" in capsys.readouterr().out
    rollup = NpsDaily.objects.get()
    assert (rollup.date, rollup.promoters, rollup.detractors) == (day, 0, 1)


def test_recompute_rollups_command_refuses_an_unknown_touchpoint(db):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="unknown touchpoint: nope"):
        call_command("recompute_rollups", "--touchpoint", "nope")


def test_reconcile_sweeper_redoes_rollups_whose_task_was_lost(touchpoint, time_machine):
    time_machine.move_to(NOW)
    # Responses saved while the broker was down: no rollup was ever computed.
    ResponseFactory(touchpoint=touchpoint, score=10, created_at=NOW - dt.timedelta(hours=1))
    old = ResponseFactory(
        touchpoint=touchpoint, score=2, created_at=NOW - dt.timedelta(days=20), updated_at=NOW
    )
    assert NpsDaily.objects.count() == 0
    services.rollups_reconcile()
    assert NpsDaily.objects.get(date=timezone.localdate()).promoters == 1
    assert NpsDaily.objects.get(date=services.local_day(old.created_at)).detractors == 1
    # Running it again changes nothing.
    before = list(NpsDaily.objects.values_list("date", "promoters", "passives", "detractors"))
    services.rollups_reconcile()
    assert (
        list(NpsDaily.objects.values_list("date", "promoters", "passives", "detractors")) == before
    )
