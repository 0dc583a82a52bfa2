"""The executive scorecard, the weekly digest and team alerts."""

import csv
import datetime as dt
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail
from django.utils import timezone

from cxhub import selectors, services
from cxhub.models import AlertDelivery, DigestDelivery, NpsBreach, TeamAlert
from surveys import nps
from surveys import services as survey_services
from surveys.models import Touchpoint
from surveys.selectors import Period
from tests.factories import ResponseFactory

NOW = dt.datetime(2026, 11, 18, 12, 0, tzinfo=dt.UTC)


def responses(touchpoint, scores, at):
    for score in scores:
        ResponseFactory(touchpoint=touchpoint, score=score, created_at=at, updated_at=at)


@pytest.fixture
def data(touchpoint, touchpoint_b, time_machine):
    time_machine.move_to(NOW, tick=False)
    # This month so far vs the same number of days before it.
    responses(touchpoint, [10] * 30 + [9] * 10 + [3] * 10, NOW - dt.timedelta(days=2))  # +60
    # The same days of last month (1–18 Oct), which the scorecard compares with.
    responses(touchpoint, [10] * 10 + [7] * 20 + [3] * 20, NOW - dt.timedelta(days=35))  # −20
    responses(touchpoint_b, [10, 9, 2, 8], NOW - dt.timedelta(days=3))  # +25, tiny sample
    responses(touchpoint_b, [10, 3, 3, 8], NOW - dt.timedelta(days=32))  # −25
    survey_services.rollups_recompute_range(start=dt.date(2026, 9, 1), end=dt.date(2026, 11, 30))


@pytest.mark.parametrize("persona", ["executive", "lead_a", "cx_admin"])
def test_executives_leads_and_admins_see_the_scorecard(request, client, data, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.get("/scorecard/").status_code == 200


@pytest.mark.parametrize("persona", ["employee", "manager_a"])
def test_others_do_not(request, client, data, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.get("/scorecard/").status_code == 403
    assert client.get("/scorecard/scorecard.csv").status_code == 403
    assert client.get("/scorecard/digest-preview/").status_code == 403


def test_scorecard_figures_equal_a_direct_computation(client, executive, data, touchpoint):
    client.force_login(executive)
    page = client.get("/scorecard/")
    row = next(r for r in page.context["rows"] if r.touchpoint == touchpoint)
    period = Period(dt.date(2026, 11, 1), dt.date(2026, 11, 19))
    tz = timezone.get_current_timezone()

    def direct(start, end):
        scores = [
            r.score
            for r in touchpoint.responses.all()
            if dt.datetime.combine(start, dt.time.min, tzinfo=tz)
            <= r.created_at
            < dt.datetime.combine(end, dt.time.min, tzinfo=tz)
        ]
        return nps.Counts.from_scores(scores)

    assert page.context["period"] == period
    assert row.current == direct(period.start, period.end)
    assert row.previous == direct(dt.date(2026, 10, 1), dt.date(2026, 10, 19))
    assert (row.current.nps, row.previous.nps, row.change, row.vs_target) == (60, -20, 80, 30)


def test_colour_only_where_the_difference_exceeds_the_margin_of_error(client, executive, data):
    client.force_login(executive)
    html = client.get("/scorecard/").content.decode()
    big = html.split('data-touchpoint="support-call"')[1].split("</tr>")[0]
    small = html.split('data-touchpoint="billing"')[1].split("</tr>")[0]
    assert 'class="change up significant"' in big  # +80 with ±~20 margins
    assert "significant" not in small  # +50 on four answers each is within the noise


def test_a_small_samples_change_is_never_coloured_however_large(
    client, executive, touchpoint_b, time_machine
):
    # The walkthrough: four promoters this month, "± 0.0", after a month of 40 answers at 0.
    time_machine.move_to(NOW, tick=False)
    responses(touchpoint_b, [10] * 4, NOW - dt.timedelta(days=2))
    responses(touchpoint_b, [10] * 10 + [7] * 20 + [3] * 10, NOW - dt.timedelta(days=35))
    survey_services.rollups_recompute_range(start=dt.date(2026, 10, 1), end=dt.date(2026, 11, 30))
    client.force_login(executive)
    page = client.get("/scorecard/")
    [row] = page.context["rows"]
    assert (row.current.nps, row.current.margin_of_error, row.change) == (100, 0, 100)
    assert not row.change_significant and not row.target_significant
    html = page.content.decode()
    cells = html.split('data-touchpoint="billing"')[1].split("</tr>")[0]
    assert "significant" not in cells and " up" not in cells
    assert "few answers (n = 4)" in cells
    assert "0.0" not in cells
    assert 'Overall NPS <strong class="kpi-inline">+100</strong>, ' in html
    assert "± 0.0" not in html
    csv_rows = list(
        csv.reader(io.StringIO(client.get("/scorecard/scorecard.csv").content.decode()))
    )
    billing = dict(zip(csv_rows[0], csv_rows[1], strict=True))
    assert (billing["margin_of_error"], billing["change"]) == ("0.0", "100")  # as they are
    assert (billing["change_significant"], billing["small_sample"]) == ("no", "yes")


def test_a_large_samples_change_beyond_its_margin_is_still_coloured(
    client, executive, touchpoint, time_machine
):
    time_machine.move_to(NOW, tick=False)
    responses(touchpoint, [10] * 25 + [8] * 5, NOW - dt.timedelta(days=2))  # +83 ± 13.3
    responses(touchpoint, [10] * 10 + [7] * 20 + [3] * 10, NOW - dt.timedelta(days=35))  # 0 ± 21.9
    survey_services.rollups_recompute_range(start=dt.date(2026, 10, 1), end=dt.date(2026, 11, 30))
    client.force_login(executive)
    html = client.get("/scorecard/").content.decode()
    cells = html.split('data-touchpoint="support-call"')[1].split("</tr>")[0]
    assert 'class="change up significant"' in cells
    assert "few answers" not in html


def _local(*args):
    return dt.datetime(*args, tzinfo=timezone.get_current_timezone())


def test_on_the_first_of_the_month_the_scorecard_opens_on_last_month(
    client, executive, time_machine
):
    time_machine.move_to(_local(2026, 12, 1, 9, 0), tick=False)
    client.force_login(executive)
    page = client.get("/scorecard/")
    assert page.context["kind"] == "last_month"
    assert page.context["period"] == Period(dt.date(2026, 11, 1), dt.date(2026, 12, 1))
    text = page.content.decode()
    assert (
        "<strong>Last month</strong>: 1 Nov 2026 – 30 Nov 2026 (30 days), "
        "compared with October 2026 (1 Oct 2026 – 31 Oct 2026)."
    ) in text
    assert "This month is only 1 day old, so the scorecard opens on last month." in text
    assert '<a href="?period=last_month" class="active">Last month</a>' in text
    csv_answer = client.get("/scorecard/scorecard.csv")
    assert 'filename="scorecard-2026-11-01-2026-11-30.csv"' in csv_answer["Content-Disposition"]
    # This month so far is still one click away, and says it is one day.
    one_day = client.get("/scorecard/?period=month")
    assert one_day.context["period"] == Period(dt.date(2026, 12, 1), dt.date(2026, 12, 2))
    one_day_text = one_day.content.decode()
    assert (
        "<strong>This month so far</strong>: 1 Dec 2026 (1 day), compared with the same days "
        "of last month (1 Nov 2026)." in one_day_text
    )
    assert "only 1 day old" not in one_day_text
    # Chosen, not defaulted: no explanation needed.
    assert "opens on last month" not in client.get("/scorecard/?period=last_month").content.decode()


def test_from_the_seventh_the_scorecard_opens_on_this_month_so_far(client, executive, time_machine):
    time_machine.move_to(_local(2026, 12, 6, 23, 30), tick=False)
    client.force_login(executive)
    assert client.get("/scorecard/").context["kind"] == "last_month"
    time_machine.move_to(_local(2026, 12, 7, 0, 30), tick=False)
    assert client.get("/scorecard/").context["kind"] == "month"


def test_on_the_fifteenth_the_scorecard_shows_this_month_so_far(client, executive, time_machine):
    time_machine.move_to(_local(2026, 12, 15, 9, 0), tick=False)
    client.force_login(executive)
    page = client.get("/scorecard/")
    assert page.context["kind"] == "month"
    assert page.context["period"] == Period(dt.date(2026, 12, 1), dt.date(2026, 12, 16))
    text = page.content.decode()
    assert (
        "<strong>This month so far</strong>: 1 Dec 2026 – 15 Dec 2026 (15 days), "
        "compared with the same days of last month (1 Nov 2026 – 15 Nov 2026)."
    ) in text
    assert "opens on last month" not in text
    last = client.get("/scorecard/?period=last_month")
    assert last.context["period"] == Period(dt.date(2026, 11, 1), dt.date(2026, 12, 1))
    for kind, start in (("quarter", dt.date(2026, 10, 1)), ("year", dt.date(2026, 1, 1))):
        assert client.get(f"/scorecard/?period={kind}").context["period"] == Period(
            start, dt.date(2026, 12, 16)
        )
    assert client.get("/scorecard/?period=bogus").context["kind"] == "month"


@pytest.mark.parametrize(
    ("kind", "today", "period", "compared_with"),
    [
        # A month so far: the same days of the month before, capped to a shorter month.
        ("month", (2026, 3, 31), ((2026, 3, 1), (2026, 4, 1)), ((2026, 2, 1), (2026, 3, 1))),
        ("month", (2024, 2, 29), ((2024, 2, 1), (2024, 3, 1)), ((2024, 1, 1), (2024, 1, 30))),
        # A quarter so far: to the same date of the quarter before (19 Nov: 19 Aug).
        ("quarter", (2026, 11, 19), ((2026, 10, 1), (2026, 11, 20)), ((2026, 7, 1), (2026, 8, 20))),
        ("quarter", (2026, 3, 31), ((2026, 1, 1), (2026, 4, 1)), ((2025, 10, 1), (2026, 1, 1))),
        # A year so far: the same days last year; 29 Feb is 28 Feb there.
        ("year", (2026, 11, 19), ((2026, 1, 1), (2026, 11, 20)), ((2025, 1, 1), (2025, 11, 20))),
        ("year", (2024, 2, 29), ((2024, 1, 1), (2024, 3, 1)), ((2023, 1, 1), (2023, 3, 1))),
        # Last month: the whole month before it.
        ("last_month", (2026, 3, 5), ((2026, 2, 1), (2026, 3, 1)), ((2026, 1, 1), (2026, 2, 1))),
    ],
)
def test_each_period_is_compared_with_what_an_executive_expects(kind, today, period, compared_with):
    chosen = selectors.scorecard_period(kind, today=dt.date(*today))
    assert (chosen.start, chosen.end) == tuple(dt.date(*d) for d in period)
    before = chosen.previous()
    assert (before.start, before.end) == tuple(dt.date(*d) for d in compared_with)


def test_a_custom_range_is_compared_with_as_many_days_before_it():
    chosen = selectors.scorecard_period(
        "custom", start=dt.date(2026, 11, 10), end=dt.date(2026, 11, 19)
    )
    assert chosen.previous() == Period(dt.date(2026, 10, 31), dt.date(2026, 11, 10))


def test_last_month_in_january_is_last_years_december():
    assert selectors.scorecard_period("last_month", today=dt.date(2027, 1, 3)) == Period(
        dt.date(2026, 12, 1), dt.date(2027, 1, 1)
    )
    assert selectors.scorecard_default_kind(dt.date(2027, 1, 3)) == "last_month"
    assert selectors.scorecard_default_kind(dt.date(2027, 1, 7)) == "month"


def test_custom_range_and_bad_dates(client, executive, data):
    client.force_login(executive)
    ok = client.get("/scorecard/?period=custom&start=2026-10-20&end=2026-10-31")
    assert ok.context["period"] == Period(dt.date(2026, 10, 20), dt.date(2026, 11, 1))
    for query in (
        "start=nope&end=2026-10-31",
        "start=2026-11-05&end=2026-11-01",
        "start=0001-01-01&end=0001-01-02",  # no day before 0001-01-01 (a 500 before)
        "start=9999-12-30&end=9999-12-31",  # nor after 9999-12-31
    ):
        bad = client.get(f"/scorecard/?period=custom&{query}")
        assert bad.status_code == 400
        assert bad.context["error"]
        assert client.get(f"/scorecard/scorecard.csv?period=custom&{query}").status_code == 400


def test_a_refused_range_keeps_the_dates_typed_and_says_what_is_shown_meanwhile(
    client, executive, data
):
    client.force_login(executive)
    page = client.get("/scorecard/?period=custom&start=2026-11-05&end=2026-11-01")
    text = page.content.decode()
    assert page.status_code == 400
    assert 'name="start" value="2026-11-05"' in text and 'name="end" value="2026-11-01"' in text
    assert (
        "The start date is after the end date. Meanwhile the scorecard shows this month so far."
        in text
    )
    escaped = client.get('/scorecard/?period=custom&start="><b>x&end=2026-11-01').content
    assert b'"><b>x' not in escaped and b"&quot;&gt;&lt;b&gt;x" in escaped


def test_csv_download_has_the_same_table_and_neutralises_formulas(
    client, executive, data, touchpoint
):
    touchpoint.name = '=HYPERLINK("http://evil")'
    touchpoint.save()
    client.force_login(executive)
    answer = client.get("/scorecard/scorecard.csv?period=month")
    assert answer["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.content.decode())))
    assert rows[0][:3] == ["touchpoint", "responses", "nps"]
    evil = next(r for r in rows if "HYPERLINK" in r[0])
    assert evil[0].startswith("'=")
    assert evil[1:4] == ["50", "60", evil[3]]
    assert next(r for r in rows if r[0] == "Billing")[2] == "25"


# --- weekly digest --------------------------------------------------------------------


@pytest.fixture
def recipients(executive, lead_a, employee, manager_a):
    for user in (executive, lead_a, employee, manager_a):
        user.email = f"{user.username}@example.com"
        user.save()
    return executive, lead_a


def test_digest_goes_to_executives_and_leads_once_per_week_even_if_run_twice(
    recipients, data, touchpoint
):
    time_now = NOW  # a Wednesday: the digest covers 9–15 November
    assert services.digests_send_weekly(today=timezone.localdate(time_now)) == 2
    assert services.digests_send_weekly(today=timezone.localdate(time_now)) == 0
    assert sorted(m.to[0] for m in mail.outbox) == ["eve@example.com", "leo@example.com"]
    assert DigestDelivery.objects.filter(status="sent").count() == 2
    assert mail.outbox[0].alternatives[0][1] == "text/html"


def test_concurrent_digest_runs_still_send_once(recipients, data, transactional_db):
    from django.db import connection

    today = timezone.localdate(NOW)

    def run():
        try:
            services.digests_send_weekly(today=today)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(mail.outbox) == 2


def test_a_worker_that_died_mid_send_does_not_cause_a_second_digest(recipients, data):
    executive, lead = recipients
    week = selectors.digest_week(timezone.localdate(NOW))
    DigestDelivery.objects.create(user=executive, week=week.start)  # claimed, never marked sent
    services.digests_send_weekly(today=timezone.localdate(NOW))
    assert [m.to[0] for m in mail.outbox] == ["leo@example.com"]


def test_opting_out_is_honoured(client, recipients, data):
    executive, _ = recipients
    client.force_login(executive)
    client.post("/scorecard/digest/")
    services.digests_send_weekly(today=timezone.localdate(NOW))
    assert [m.to[0] for m in mail.outbox] == ["leo@example.com"]
    client.post("/scorecard/digest/", {"subscribe": "1"})
    assert executive in selectors.digest_recipients()


def test_a_team_lead_digest_has_their_team_and_overdue_cases(
    recipients, data, touchpoint, time_machine
):
    executive, lead = recipients
    time_machine.move_to(NOW - dt.timedelta(days=6), tick=False)
    survey_services.response_record(touchpoint=touchpoint, score=1, comment="Angry")
    time_machine.move_to(NOW, tick=False)
    week = selectors.digest_week(timezone.localdate(NOW))
    lead_text = services.digest_render(user=lead, week=week).body
    exec_text = services.digest_render(user=executive, week=week).body
    assert "Your team, Support:" in lead_text
    assert "overdue cases: 1" in lead_text, lead_text
    assert "Your team" not in exec_text
    assert "Support call" in exec_text and "Stop these emails" in exec_text


def test_the_digests_quotes_carry_no_contact_details(client, executive, data):
    ResponseFactory(
        touchpoint=Touchpoint.objects.get(slug="support-call"),
        score=10,
        comment="Ask for me, lea@example.org, anytime: Léa is grateful",
        created_at=NOW - dt.timedelta(days=6),  # in the last complete week
    )
    client.force_login(executive)
    text = client.get("/scorecard/digest-preview/").content.decode()
    assert "Ask for me, [hidden], anytime: Léa is grateful" in text
    assert "lea@example.org" not in text


def test_the_digest_does_not_quote_a_comment_taken_off_the_praise_wall(
    client, executive, cx_admin, data
):
    from recognition import services as recognition

    response = ResponseFactory(
        touchpoint=Touchpoint.objects.get(slug="support-call"),
        score=10,
        comment="Brilliant, unlike that idiot at the desk",
        created_at=NOW - dt.timedelta(days=6),  # in the last complete week
    )
    client.force_login(executive)
    assert "unlike that idiot" in client.get("/scorecard/digest-preview/").content.decode()
    recognition.praise_exclude(response=response, by=cx_admin)
    assert "unlike that idiot" not in client.get("/scorecard/digest-preview/").content.decode()


def test_a_digest_that_failed_on_monday_goes_out_at_a_later_hour(
    recipients, data, time_machine, monkeypatch
):
    from django.conf import settings as django_settings

    schedule = django_settings.CELERY_BEAT_SCHEDULE["digests-weekly"]["schedule"]
    assert schedule.hour == set(range(7, 21)) and schedule.day_of_week == set(range(7))
    monday = dt.datetime(2026, 11, 23, 7, 0, tzinfo=timezone.get_current_timezone())
    time_machine.move_to(monday, tick=False)

    def mail_server_down(*args, **kwargs):
        raise OSError("Connection refused")

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", mail_server_down)
    assert services.digests_send_weekly() == 0
    assert set(DigestDelivery.objects.values_list("status", flat=True)) == {"failed"}
    monkeypatch.undo()
    time_machine.move_to(monday + dt.timedelta(hours=1), tick=False)  # the next hourly run
    assert services.digests_send_weekly() == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["eve@example.com", "leo@example.com"]
    assert services.digests_send_weekly() == 0  # and only once


def test_the_digest_says_few_answers_and_does_not_colour_their_change(
    client, lead_a, touchpoint, touchpoint_b, time_machine
):
    time_machine.move_to(NOW, tick=False)  # the digest covers Monday 9 – Sunday 15 November
    responses(touchpoint, [10] * 20 + [8] * 10 + [3] * 10, NOW - dt.timedelta(days=4))  # +25
    responses(touchpoint_b, [10] * 4, NOW - dt.timedelta(days=4))  # +100 "± 0.0"
    responses(touchpoint_b, [10] * 10 + [7] * 20 + [3] * 10, NOW - dt.timedelta(days=11))  # 0
    survey_services.rollups_recompute_range(start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30))
    client.force_login(lead_a)
    html = client.get("/scorecard/digest-preview/").content.decode()
    billing = html.split("<td>Billing</td>")[1].split("</tr>")[0]
    assert "few answers (n = 4)" in billing
    assert "color:#1d2433" in billing and "#1a8f4c" not in billing  # +100, not coloured
    assert "± 0.0" not in html
    assert "NPS +32 <span" in html and "± 24.2 · 44 responses" in html
    assert (
        'Support call +25 <span style="color:#5b6475;white-space:nowrap">± 25.7</span>' in html
    )  # the team
    text = client.get("/scorecard/digest-preview/?format=text").content.decode()
    assert "- Billing: +100, few answers (n = 4); target +20, +100 week over week" in text
    assert "- Support call: +25 ± 25.7; target +30" in text
    assert "- Support call: +25 ± 25.7 from 40 responses" in text
    assert "NPS +32 ± 24.2 from 44 responses; " in text


def test_digest_preview_renders_for_a_lead(client, lead_a, data):
    client.force_login(lead_a)
    page = client.get("/scorecard/digest-preview/")
    assert page.status_code == 200
    assert b"Your team: Support" in page.content
    assert b'<meta name="viewport" content="width=device-width, initial-scale=1">' in page.content


# --- alerts -------------------------------------------------------------------------------


class Receiver(BaseHTTPRequestHandler):
    bodies: list = []
    fail_first = 0

    def do_POST(self):  # noqa: N802 - http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if Receiver.fail_first > 0:
            Receiver.fail_first -= 1
            self.send_response(500)
        else:
            Receiver.bodies.append(body)
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook(team_a):
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    Receiver.bodies, Receiver.fail_first = [], 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    TeamAlert.objects.create(team=team_a, webhook_url=f"http://127.0.0.1:{server.server_port}/hook")
    yield Receiver
    server.shutdown()


def test_a_new_detractor_posts_to_the_teams_webhook(
    webhook, touchpoint, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        survey_services.response_record(touchpoint=touchpoint, score=2, comment="Broken again")
    assert len(webhook.bodies) == 1
    assert b"New detractor (2) at Support call" in webhook.bodies[0]
    assert AlertDelivery.objects.get().status == "sent"


def test_a_team_alert_carries_no_contact_details(
    webhook, touchpoint, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        survey_services.response_record(
            touchpoint=touchpoint, score=1, comment="Call me: 06 12 34 56 78"
        )
    assert json.loads(webhook.bodies[0]) == {
        "text": "New detractor (1) at Support call: “Call me: [hidden]”"
    }


def test_a_customers_comment_cannot_ping_the_channel_or_plant_a_link_in_an_alert(
    webhook, customer_client, touchpoint, django_capture_on_commit_callbacks
):
    comment = "<!channel> <https://evil.example/sso|Open case in CX Hub> & log in"
    with django_capture_on_commit_callbacks(execute=True):
        customer_client.post(f"/s/{touchpoint.slug}/", {"score": "0", "comment": comment})
    text = json.loads(webhook.bodies[0])["text"]
    assert text == (
        "New detractor (0) at Support call: “&lt;!channel&gt; "
        "&lt;https://evil.example/sso|Open case in CX Hub&gt; &amp; log in”"
    )


def test_a_failing_webhook_is_retried_and_logged_and_never_breaks_the_request(
    webhook, client, touchpoint, django_capture_on_commit_callbacks, time_machine
):
    webhook.fail_first = 2
    time_machine.move_to(NOW, tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(f"/s/{touchpoint.slug}/", {"score": "1"})
    assert answer.status_code == 302
    delivery = AlertDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert "HTTP Error 500" in delivery.last_error
    # Celery retries with backoff (autoretry); the sweeper redelivers what is still
    # pending, which is what each retry does.
    time_machine.shift(dt.timedelta(minutes=5))
    services.alerts_redeliver()
    time_machine.shift(dt.timedelta(minutes=5))
    services.alerts_redeliver()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 3, "")
    assert len(webhook.bodies) == 1
    services.alerts_redeliver()
    assert len(webhook.bodies) == 1


def test_an_unreachable_webhook_ends_failed_with_its_error(
    team_a, touchpoint, django_capture_on_commit_callbacks, time_machine
):
    TeamAlert.objects.create(team=team_a, webhook_url="http://127.0.0.1:1/hook")
    time_machine.move_to(NOW, tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        survey_services.response_record(touchpoint=touchpoint, score=1)
    for _ in range(10):
        time_machine.shift(dt.timedelta(minutes=5))
        services.alerts_redeliver()
    delivery = AlertDelivery.objects.get()
    assert delivery.status == "failed"
    assert delivery.attempts == services.MAX_ALERT_ATTEMPTS
    assert "Connection refused" in delivery.last_error or "URLError" in delivery.last_error


def test_nps_below_target_alerts_the_lead_once_per_breach(
    touchpoint, lead_a, time_machine, django_capture_on_commit_callbacks
):
    lead_a.email = "leo@example.com"
    lead_a.save()
    time_machine.move_to(NOW, tick=False)
    responses(touchpoint, [0, 2, 3, 9] * 10, NOW - dt.timedelta(days=1))  # NPS −50 vs target +30
    survey_services.rollups_recompute_range(start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30))
    with django_capture_on_commit_callbacks(execute=True):
        assert len(services.nps_breaches_check()) == 1
        assert services.nps_breaches_check() == []
    assert [m.subject for m in mail.outbox] == ["Below target: Support call"]
    # Recovery closes the breach; a new fall is a new breach, alerted again.
    responses(touchpoint, [10] * 200, NOW - dt.timedelta(hours=2))
    survey_services.rollups_recompute_range(start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30))
    services.nps_breaches_check()
    assert NpsBreach.objects.get().ended_at is not None
    time_machine.move_to(NOW + dt.timedelta(days=8), tick=False)
    responses(touchpoint, [0] * 30, NOW + dt.timedelta(days=7, hours=20))
    survey_services.rollups_recompute_range(start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30))
    with django_capture_on_commit_callbacks(execute=True):
        services.nps_breaches_check()
    assert NpsBreach.objects.count() == 2
    assert len(mail.outbox) == 2


def test_a_week_of_few_answers_neither_opens_nor_closes_a_breach(
    touchpoint, lead_a, time_machine, django_capture_on_commit_callbacks
):
    lead_a.email = "leo@example.com"
    lead_a.save()
    time_machine.move_to(NOW, tick=False)
    responses(touchpoint, [0], NOW - dt.timedelta(days=1))  # −100 ± 0.0 on one answer
    survey_services.rollups_recompute_range(start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.nps_breaches_check() == []
    assert mail.outbox == [] and not NpsBreach.objects.exists()

    responses(touchpoint, [0, 2, 3, 9] * 10, NOW - dt.timedelta(days=1))
    survey_services.rollups_recompute_range(start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30))
    services.nps_breaches_check()
    time_machine.move_to(NOW + dt.timedelta(days=8), tick=False)
    responses(touchpoint, [10] * 5, NOW + dt.timedelta(days=7, hours=20))  # 5 promoters
    survey_services.rollups_recompute_range(start=dt.date(2026, 11, 1), end=dt.date(2026, 12, 30))
    services.nps_breaches_check()
    assert NpsBreach.objects.get().ended_at is None  # five answers do not say it recovered


def test_a_quiet_touchpoint_is_judged_on_its_last_four_weeks(
    touchpoint, lead_a, time_machine, django_capture_on_commit_callbacks
):
    lead_a.email = "leo@example.com"
    lead_a.save()
    time_machine.move_to(NOW, tick=False)
    for weeks_ago in range(3):  # 12 answers a week, every one a detractor
        responses(touchpoint, [2] * 12, NOW - dt.timedelta(weeks=weeks_ago, days=1))
    survey_services.rollups_recompute_range(start=dt.date(2026, 10, 1), end=dt.date(2026, 11, 30))
    with django_capture_on_commit_callbacks(execute=True):
        assert len(services.nps_breaches_check()) == 1  # 36 answers in 28 days: −100
    assert [m.subject for m in mail.outbox] == ["Below target: Support call"]


def _below_target_yesterday(touchpoint, lead, time_machine):
    """At NOW, yesterday's answers put the touchpoint below target; its lead has an email."""
    lead.email = "leo@example.com"
    lead.save()
    time_machine.move_to(NOW, tick=False)
    responses(touchpoint, [0, 2, 3, 9] * 10, NOW - dt.timedelta(days=1))
    survey_services.rollups_recompute_range(start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30))


def test_a_breach_alert_whose_worker_died_mid_send_is_sent_by_a_later_check(
    touchpoint, lead_a, time_machine, monkeypatch
):
    _below_target_yesterday(touchpoint, lead_a, time_machine)
    [breach] = services.nps_breaches_check()

    def killed(*args, **kwargs):
        raise SystemExit("worker killed mid-send")

    monkeypatch.setattr(services, "_nps_breach_tell", killed)
    with pytest.raises(SystemExit):
        services.nps_breach_notify(breach_id=breach.pk)
    monkeypatch.undo()
    assert services.nps_breach_notify(breach_id=breach.pk) is False  # leased: maybe sending
    time_machine.move_to(NOW + dt.timedelta(hours=1), tick=False)
    services.nps_breaches_check()  # the lease ran out: sent now
    assert [m.subject for m in mail.outbox] == ["Below target: Support call"]
    services.nps_breaches_check()
    assert len(mail.outbox) == 1


def test_a_breach_alert_lost_with_the_broker_is_sent_by_the_next_check_once(
    touchpoint, lead_a, time_machine, django_capture_on_commit_callbacks
):
    _below_target_yesterday(touchpoint, lead_a, time_machine)
    assert len(services.nps_breaches_check()) == 1  # its after-commit task never runs
    assert mail.outbox == []
    time_machine.move_to(NOW + dt.timedelta(hours=1), tick=False)
    services.nps_breaches_check()  # the hourly check sends what is still owed
    assert [m.subject for m in mail.outbox] == ["Below target: Support call"]
    assert NpsBreach.objects.get().notified_at is not None
    time_machine.move_to(NOW + dt.timedelta(hours=2), tick=False)
    services.nps_breaches_check()
    assert services.nps_breach_notify(breach_id=NpsBreach.objects.get().pk) is False
    assert len(mail.outbox) == 1


def test_the_digest_preview_has_a_way_back_that_the_email_does_not(client, lead_a, touchpoint):
    from cxhub import services as cxhub_services

    client.force_login(lead_a)
    html = client.get("/scorecard/digest-preview/").content.decode()
    body = html.split("<body", 1)[1]
    assert body.index("← Back to the scorecard") < body.index("</div>")  # first, at the top
    assert 'href="/scorecard/"' in html
    email = cxhub_services.digest_render(user=lead_a).alternatives[0][0]
    assert "Back to the scorecard" not in email


def test_the_touchpoint_admin_speaks_plainly_and_keeps_its_creation_date(admin_client, touchpoint):
    page = admin_client.get(f"/admin/surveys/touchpoint/{touchpoint.pk}/change/")
    html = page.content.decode()
    assert "NPS target" in html and "Follow-up deadline (hours)" in html
    assert 'name="created_at' not in html  # shown, not editable


def test_a_touchpoint_switched_off_since_keeps_its_row_and_answers_in_past_periods(
    client, executive, data, touchpoint_b
):
    touchpoint_b.active = False
    touchpoint_b.save()
    client.force_login(executive)
    page = client.get("/scorecard/")
    rows = {r.touchpoint.slug: r for r in page.context["rows"]}
    assert rows["billing"].current.total == 4  # its answers of this month so far
    assert page.context["total"].total == 50 + 4
    assert "switched off" in page.content.decode().split('data-touchpoint="billing"')[1][:400]
    # A period in which it had no answers leaves it out.
    later = client.get("/scorecard/?period=custom&start=2026-11-17&end=2026-11-18")
    assert "billing" not in {r.touchpoint.slug for r in later.context["rows"]}


def test_the_scorecard_marks_an_action_not_published_yet(client, executive, team_a):
    from feedback.models import ImprovementAction

    ImprovementAction.objects.create(title="Weekend hours", summary="Soon.", owner_team=team_a)
    client.force_login(executive)
    text = client.get("/scorecard/").content.decode()
    assert '<span class="badge">not published</span> Weekend hours' in text
