"""A staff member logs in and sees the dashboard's chart drawn."""

import datetime as dt

import pytest
from django.utils import timezone

from surveys import services

pytestmark = pytest.mark.django_db(transaction=True)


def test_anonymous_visitors_are_sent_to_the_login_page(page, live_server, db):
    page.goto(f"{live_server.url}/")
    assert page.url == f"{live_server.url}/login/?next=/"


def test_an_employee_logs_in_and_sees_the_trend_chart_drawn(
    login, live_server, touchpoint, employee
):
    for weeks_ago, scores in enumerate([[10, 9, 3], [8, 10], [2, 9, 9, 10], [6, 7]]):
        for score in scores:
            services.response_record(
                touchpoint=touchpoint,
                score=score,
                created_at=timezone.now() - dt.timedelta(weeks=weeks_ago, hours=1),
            )
    page = login("emma")
    page.wait_for_selector('canvas#trend-chart[data-drawn="true"]')
    points = page.evaluate("window.cxTrendChart.data.datasets[0].data.filter(v => v !== null)")
    assert len(points) == 4
    box = page.locator("canvas#trend-chart").bounding_box()
    assert box["width"] > 200 and box["height"] > 100
    card = page.locator('[data-touchpoint="support-call"]')
    assert "Support call" in card.inner_text()
    assert "±" in card.inner_text()
