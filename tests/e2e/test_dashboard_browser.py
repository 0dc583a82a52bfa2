"""A staff member logs in and sees the dashboard's chart drawn."""

import datetime as dt

import pytest
from django.utils import timezone

from surveys import services

pytestmark = pytest.mark.django_db(transaction=True)

# Scores per week, this week first: four weekly points on the chart.
WEEKS = [[10, 9, 3], [8, 10], [2, 9, 9, 10], [6, 7]]


def test_anonymous_visitors_are_sent_to_the_login_page(page, live_server):
    page.goto(f"{live_server.url}/")
    assert page.url == f"{live_server.url}/login/?next=/"
    assert page.locator("#id_username").is_visible()


def test_an_employee_logs_in_and_sees_the_trend_chart_drawn(
    page, login, page_problems, live_server, touchpoint, employee
):
    now = timezone.now()
    for weeks_ago, scores in enumerate(WEEKS):
        for score in scores:
            # Recomputes the (touchpoint, day) rollup the dashboard reads (eager in tests).
            services.response_record(
                touchpoint=touchpoint,
                score=score,
                created_at=now - dt.timedelta(weeks=weeks_ago, hours=1),
            )
    problems = page_problems(page)
    static = {}
    page.on(
        "response",
        lambda r: (
            static.setdefault(r.url.split("/static/", 1)[1], r.status)
            if "/static/" in r.url
            else None
        ),
    )

    login("emma")
    page.wait_for_selector('canvas#trend-chart[data-drawn="true"]')

    assert static.get("vendor/chart-4.6.1.umd.min.js") == 200, static
    assert static.get("js/trend.js") == 200, static
    assert page.evaluate("typeof window.Chart") == "function"
    points = page.evaluate("window.cxTrendChart.data.datasets[0].data.filter(v => v !== null)")
    assert len(points) == len(WEEKS)
    # Each week has 2 to 4 answers: drawn hollow (white inside), as the caption says.
    fills = page.evaluate(
        "window.cxTrendChart.getDatasetMeta(0).data"
        ".filter(p => !p.skip).map(p => p.options.backgroundColor)"
    )
    assert fills == ["#fff"] * len(WEEKS), fills
    assert "Hollow points: weeks of fewer than 30 answers" in page.content()
    box = page.locator("canvas#trend-chart").bounding_box()
    assert box["width"] > 200 and box["height"] > 100

    card = page.locator('[data-touchpoint="support-call"]')
    assert "Support call" in card.inner_text()
    kpi = card.locator(".kpi").inner_text()
    # 11 responses in the last 30 days: 6 promoters, 2 passives, 3 detractors.
    assert kpi == "+27 few answers (n = 11)", kpi  # too few for a margin of error
    assert "11 responses" in card.inner_text()
    assert problems == []


def test_a_wrong_password_is_announced_and_the_username_kept(page, live_server, employee):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "emma")
    page.fill("#id_password", "not-my-password")
    page.click("button[type=submit]")
    assert "didn't match" in page.get_by_role("alert").inner_text()  # read out, not only red
    assert page.input_value("#id_username") == "emma"
    assert page.url.startswith(f"{live_server.url}/login/")
