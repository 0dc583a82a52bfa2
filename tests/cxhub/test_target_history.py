"""A changed NPS target applies from the day it changed: past periods keep being judged
against the target they had, on the scorecard, in its CSV and in the weekly digest."""

import datetime as dt

import pytest
from django.utils import timezone

from cxhub import selectors, services
from surveys import services as survey_services
from surveys.models import TargetChange
from surveys.selectors import Period
from tests.factories import ResponseFactory

NOVEMBER = Period(dt.date(2026, 11, 1), dt.date(2026, 12, 1))
DECEMBER = Period(dt.date(2026, 12, 1), dt.date(2027, 1, 1))


@pytest.fixture
def raised_on_december_2nd(touchpoint, cx_admin, time_machine):
    """Target +30 since the touchpoint was created in October; raised to +35 on 2 Dec."""
    time_machine.move_to("2026-10-01 09:00 +01:00", tick=False)
    touchpoint.created_at = timezone.now()
    touchpoint.nps_target = 30
    touchpoint.save()
    time_machine.move_to("2026-11-15 09:00 +01:00", tick=False)
    for score in [10] * 6 + [8] * 2 + [0] * 2:  # NPS +40 in November
        ResponseFactory(touchpoint=touchpoint, score=score, created_at=timezone.now())
    survey_services.rollups_recompute_range(start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30))
    time_machine.move_to("2026-12-02 10:00 +01:00", tick=False)
    return touchpoint


def change_in_admin(client, touchpoint, target):
    from django.forms.models import model_to_dict

    data = {k: v for k, v in model_to_dict(touchpoint).items() if v is not None}
    data.update(
        {
            "owner_team": touchpoint.owner_team_id,
            "nps_target": target,
            "targets-TOTAL_FORMS": "0",
            "targets-INITIAL_FORMS": "0",
        }
    )
    data.pop("translations", None)
    return client.post(f"/admin/surveys/touchpoint/{touchpoint.pk}/change/", data)


def test_the_admin_records_the_change_and_november_keeps_its_target(
    client, cx_admin, raised_on_december_2nd
):
    touchpoint = raised_on_december_2nd
    cx_admin.is_superuser = True  # the admin's model permissions
    cx_admin.save()
    client.force_login(cx_admin)
    answer = change_in_admin(client, touchpoint, 35)
    assert answer.status_code == 302, answer.content.decode()[:2000]
    touchpoint.refresh_from_db()
    assert touchpoint.nps_target == 35
    assert list(
        TargetChange.objects.filter(touchpoint=touchpoint)
        .order_by("applies_from")
        .values_list("applies_from", "nps_target", "changed_by")
    ) == [(TargetChange.SINCE_THE_START, 30, None), (dt.date(2026, 12, 2), 35, cx_admin.pk)]
    history = client.get(f"/admin/surveys/touchpoint/{touchpoint.pk}/change/").content.decode()
    assert "Target history" in history and "the start" in history
    assert "0001-01-01" not in history

    [november] = [r for r in selectors.score_rows(NOVEMBER) if r.touchpoint == touchpoint]
    assert (november.target, november.vs_target) == (30, 10)  # met, as it was
    [december] = [r for r in selectors.score_rows(DECEMBER) if r.touchpoint == touchpoint]
    assert december.target == 35

    page = client.get("/scorecard/", {"period": "last_month"}).content.decode()
    assert "(now +35)" in page
    csv_text = client.get("/scorecard/scorecard.csv", {"period": "last_month"}).content.decode()
    [row] = [line for line in csv_text.splitlines() if line.startswith(touchpoint.name)]
    assert row.split(",")[4:6] == ["30", "10"]  # target, vs_target


def test_the_weekly_digest_of_a_past_week_keeps_its_target(raised_on_december_2nd, executive):
    touchpoint = raised_on_december_2nd
    touchpoint.nps_target = 35
    touchpoint.save()
    survey_services.touchpoint_target_changed(touchpoint=touchpoint, old=30, by=None)
    week = Period(dt.date(2026, 11, 9), dt.date(2026, 11, 16))
    text = services.digest_render(user=executive, week=week).body
    assert f"- {touchpoint.name}: " in text
    assert "target +30" in text and "target +35" not in text


def test_two_changes_on_one_day_leave_one_row_for_that_day(raised_on_december_2nd):
    touchpoint = raised_on_december_2nd
    for old, new in ((30, 35), (35, 40)):
        touchpoint.nps_target = new
        touchpoint.save()
        survey_services.touchpoint_target_changed(touchpoint=touchpoint, old=old)
    assert list(
        TargetChange.objects.filter(touchpoint=touchpoint)
        .order_by("applies_from")
        .values_list("applies_from", "nps_target")
    ) == [(TargetChange.SINCE_THE_START, 30), (dt.date(2026, 12, 2), 40)]
    # Unchanged is no change.
    survey_services.touchpoint_target_changed(touchpoint=touchpoint, old=40)
    assert TargetChange.objects.filter(touchpoint=touchpoint).count() == 2


def test_setting_a_target_back_the_next_day_is_a_change_too(raised_on_december_2nd, time_machine):
    touchpoint = raised_on_december_2nd
    touchpoint.nps_target = 40
    touchpoint.save()
    survey_services.touchpoint_target_changed(touchpoint=touchpoint, old=30)
    time_machine.move_to("2026-12-03 10:00 +01:00", tick=False)
    touchpoint.nps_target = 30
    touchpoint.save()
    survey_services.touchpoint_target_changed(touchpoint=touchpoint, old=40)
    targets = lambda day: selectors.survey_selectors.targets_on(day, [touchpoint])[touchpoint.pk]  # noqa: E731
    assert [targets(dt.date(2026, 12, d)) for d in (1, 2, 3)] == [30, 40, 30]


def test_a_period_before_the_touchpoint_existed_keeps_the_target_it_had_then(
    touchpoint, time_machine
):
    """Imported history may predate the touchpoint: created on 1 December with +30,
    November (imported) still reads +30 after the target is raised."""
    time_machine.move_to("2026-12-01 09:00 +01:00", tick=False)
    touchpoint.created_at = timezone.now()
    touchpoint.nps_target = 30
    touchpoint.save()
    touchpoint.nps_target = 35  # changed the day it was created
    touchpoint.save()
    survey_services.touchpoint_target_changed(touchpoint=touchpoint, old=30)
    time_machine.move_to("2026-12-02 09:00 +01:00", tick=False)
    touchpoint.nps_target = 50
    touchpoint.save()
    survey_services.touchpoint_target_changed(touchpoint=touchpoint, old=35)
    [november] = [r for r in selectors.score_rows(NOVEMBER) if r.touchpoint == touchpoint]
    assert november.target == 30
    [first] = [
        r
        for r in selectors.score_rows(Period(dt.date(2026, 12, 1), dt.date(2026, 12, 2)))
        if r.touchpoint == touchpoint
    ]
    assert first.target == 35


def test_the_metrics_api_gives_the_target_of_its_period(raised_on_december_2nd, cx_admin):
    from rest_framework.test import APIClient

    from cxhub.services import api_key_create

    read_api = APIClient()
    read_api.credentials(
        HTTP_AUTHORIZATION="Bearer "
        + api_key_create(name="r", scope="read", created_by=cx_admin)[1]
    )
    touchpoint = raised_on_december_2nd
    touchpoint.nps_target = 35
    touchpoint.save()
    survey_services.touchpoint_target_changed(touchpoint=touchpoint, old=30)
    body = read_api.get("/api/metrics/", {"since": "2026-11-01", "until": "2026-11-30"}).json()
    [row] = [r for r in body["touchpoints"] if r["touchpoint"] == touchpoint.slug]
    assert row["nps_target"] == 30
