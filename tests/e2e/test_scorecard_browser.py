"""An executive reads the scorecard on screen and in its print view."""

import datetime as dt

import pytest
from django.utils import timezone

from surveys import services

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_scorecard_renders_and_prints_cleanly(
    login, live_server, touchpoint, executive, tmp_path
):
    for score in (10, 10, 9, 3, 7):
        services.response_record(
            touchpoint=touchpoint, score=score, created_at=timezone.now() - dt.timedelta(hours=2)
        )
    page = login("eve")
    # The days of those answers: the default period is last month in a month's first days.
    first, last = timezone.localdate(timezone.now() - dt.timedelta(hours=2)), timezone.localdate()
    page.goto(f"{live_server.url}/scorecard/?period=custom&start={first}&end={last}")
    row = page.locator('tr[data-touchpoint="support-call"]')
    assert "+40" in row.inner_text()  # 3 promoters, 1 detractor of 5
    assert page.locator("nav").is_visible()

    page.emulate_media(media="print")
    assert not page.locator("nav").is_visible()  # the print stylesheet drops navigation
    assert not page.locator("form.no-print").is_visible()
    assert row.is_visible()
    pdf = tmp_path / "scorecard.pdf"
    page.pdf(path=str(pdf))
    assert pdf.stat().st_size > 5_000
