"""Staff pages: login required, empty states, query counts pinned."""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import timezone, translation

from surveys import services
from tests.factories import ResponseFactory, TouchpointFactory

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("url", ["/", "/touchpoints/support-call/"])
def test_staff_pages_redirect_anonymous_users_to_login(client, touchpoint, url):
    page = client.get(url)
    assert page.status_code == 302
    assert page["Location"].startswith("/login/?next=")


def test_login_form_logs_in_and_lands_on_the_dashboard(client, employee):
    page = client.post("/login/", {"username": "emma", "password": "pw"}, follow=True)
    assert page.redirect_chain[-1][0] == "/"
    assert b"Customer dashboard" in page.content


def test_wrong_password_says_so(client, employee):
    page = client.post("/login/", {"username": "emma", "password": "nope"})
    assert page.status_code == 200
    assert b"didn't match" in page.content


def test_password_guessing_locks_that_username_out_for_a_while(
    client, employee, manager_a, time_machine, settings
):
    def login(username, password):
        return client.post("/login/", {"username": username, "password": password})

    time_machine.move_to("2026-11-18 10:00 +01:00", tick=False)
    assert [login("emma", f"guess-{i}").status_code for i in range(4)] == [200] * 4
    locked = login("emma", "guess-5")  # the fifth wrong password
    assert locked.status_code == 429
    text = locked.content.decode()
    assert "Too many attempts" in text and "Try again in 15 minutes" in text
    assert login("emma", "pw").status_code == 429  # the right password too, for now
    assert client.post("/admin/login/", {"username": "emma", "password": "pw"}).status_code == 429
    assert login("mia", "pw").status_code == 302  # another account is not affected
    client.logout()
    time_machine.move_to("2026-11-18 10:16 +01:00", tick=False)
    assert login("emma", "pw").status_code == 302


def test_behind_a_proxy_a_lockout_is_for_the_guessers_address_only(employee, settings):
    """Behind a reverse proxy (NUM_PROXIES) every request comes from the proxy: the
    lockout goes by the address it forwards, so a guesser does not lock the username
    out for the colleague logging in from elsewhere."""
    from django.test import Client

    settings.NUM_PROXIES = 1

    def login(forwarded, password):
        return Client(REMOTE_ADDR="10.0.0.2").post(
            "/login/",
            {"username": "emma", "password": password},
            HTTP_X_FORWARDED_FOR=forwarded,
        )

    assert [login("198.51.100.66", f"guess-{i}").status_code for i in range(5)][-1] == 429
    assert login("198.51.100.66", "pw").status_code == 429
    assert login("192.0.2.10", "pw").status_code == 302  # emma, at her desk


def test_a_correct_password_resets_the_count_of_wrong_ones(client, employee):
    for _ in range(2):
        for i in range(4):
            assert (
                client.post("/login/", {"username": "emma", "password": f"x{i}"}).status_code == 200
            )
        assert client.post("/login/", {"username": "emma", "password": "pw"}).status_code == 302
        client.logout()


def test_logout_is_a_post(client, employee):
    client.force_login(employee)
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_dashboard_says_no_responses_yet_instead_of_zero(client, employee, touchpoint):
    client.force_login(employee)
    page = client.get("/").content.decode()
    card = page.split('data-touchpoint="support-call"', 1)[1].split("</article>", 1)[0]
    assert "No responses yet in the last 30 days." in card
    assert '<div class="kpi">—</div>' in card
    assert ">0<" not in card


def test_dashboard_without_touchpoints_explains_what_to_do(client, employee):
    client.force_login(employee)
    assert b"No touchpoints yet" in client.get("/").content


def _responses(touchpoint, scores, days_ago):
    for score in scores:
        at = timezone.now() - dt.timedelta(days=days_ago)
        ResponseFactory(touchpoint=touchpoint, score=score, created_at=at, updated_at=at)


def _recompute():
    services.rollups_recompute_range(
        start=timezone.localdate() - dt.timedelta(days=70), end=timezone.localdate()
    )


def _card(html, slug="support-call"):
    return html.split(f'data-touchpoint="{slug}"', 1)[1].split("</article>", 1)[0]


def test_dashboard_shows_nps_margin_target_and_change(client, employee, touchpoint):
    _responses(touchpoint, [10, 10, 9, 8, 3] * 6, days_ago=2)  # NPS +40 from 30
    _responses(touchpoint, [10, 2, 3, 8] * 10, days_ago=40)  # NPS −25 from 40
    _recompute()
    client.force_login(employee)
    page = client.get("/")
    card = page.context["summaries"][0]
    assert (card.current.nps, card.previous.nps, card.change, card.vs_target) == (40, -25, 65, 10)
    html = _card(page.content.decode())
    assert "+40" in html and "+65" in html
    assert (
        f'<span class="moe" title="95% margin of error">± {card.current.margin_of_error}</span>'
        in html
    )
    assert "30 responses" in html
    assert '<span class="change up">+65</span>' in html  # beyond both margins
    assert "few answers" not in page.content.decode()


def test_dashboard_says_few_answers_instead_of_a_margin_of_error(client, employee, touchpoint):
    # Four promoters after 40 answers at −25: +100 "± 0.0", +125 in green, before.
    _responses(touchpoint, [10] * 4, days_ago=2)
    _responses(touchpoint, [10, 2, 3, 8] * 10, days_ago=40)
    _recompute()
    client.force_login(employee)
    page = client.get("/").content.decode()
    card = _card(page)
    assert "+100 <span" in card and "few answers (n = 4)</span>" in card
    assert "±" not in card
    assert '<span class="change">+125</span>' in card  # not coloured as news
    assert '<span class="vs-target">(+70)</span>' in card
    assert "Overall NPS <strong>+100</strong>, <span" in page
    assert "± 0.0" not in page


def test_one_detractor_is_few_answers_on_the_dashboard_and_the_touchpoint_page(
    client, employee, touchpoint
):
    _responses(touchpoint, [2], days_ago=1)
    _recompute()
    client.force_login(employee)
    for url in ("/", "/touchpoints/support-call/"):
        card = _card(client.get(url).content.decode())
        assert "−100" in card and "few answers (n = 1)" in card, url
        assert "± 0.0" not in card, url


def _count_queries(client, url):
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    cache.clear()  # the organisation-wide loop health is cached for a minute
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_dashboard_query_count_does_not_grow_with_touchpoints(
    client, employee, touchpoint, django_assert_max_num_queries
):
    def add_touchpoints(first, last):
        for i in range(first, last):
            _responses(TouchpointFactory(slug=f"tp-{i}"), [9, 5], days_ago=i)
        services.rollups_recompute_range(
            start=timezone.localdate() - dt.timedelta(days=30), end=timezone.localdate()
        )

    client.force_login(employee)
    add_touchpoints(0, 2)
    few = _count_queries(client, "/")
    add_touchpoints(2, 10)
    assert _count_queries(client, "/") == few
    with django_assert_max_num_queries(14):
        client.get("/")


def test_the_home_loop_health_and_champions_panel_are_shared_for_a_minute(
    client, employee, touchpoint
):
    client.force_login(employee)
    first = _count_queries(client, "/")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        client.get("/")
    # Loop health (3 queries) and the Champions panel (postcards, leaderboard, praise:
    # 4 queries) come from the cache on the second view.
    assert len(ctx.captured_queries) == first - 7


def test_touchpoint_page_shows_distribution_and_filters_comments(client, employee, touchpoint):
    ResponseFactory(touchpoint=touchpoint, score=10, comment="Lovely people")
    ResponseFactory(touchpoint=touchpoint, score=1, comment="Never again")
    services.rollups_recompute_range(start=timezone.localdate(), end=timezone.localdate())
    client.force_login(employee)
    page = client.get(f"/touchpoints/{touchpoint.slug}/")
    assert page.context["distribution"] == [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    assert b"Lovely people" in page.content and b"Never again" in page.content
    detractors = client.get(f"/touchpoints/{touchpoint.slug}/?category=detractor")
    assert b"Never again" in detractors.content
    assert b"Lovely people" not in detractors.content
    # An unknown category is ignored, not an error.
    assert client.get(f"/touchpoints/{touchpoint.slug}/?category=<b>").status_code == 200


def test_touchpoint_comments_show_contact_details_to_cx_admins_only(
    client, employee, executive, cx_admin, touchpoint
):
    from surveys.models import Person

    person = Person.objects.create(email="jean.dupont@example.com", name="Jean Dupont")
    comment = "Dupont here, call me back on +33 6 12 34 56 78 or jean.dupont@example.com"
    ResponseFactory(touchpoint=touchpoint, person=person, score=2, comment=comment)
    for viewer in (employee, executive):
        client.force_login(viewer)
        text = client.get(f"/touchpoints/{touchpoint.slug}/").content.decode()
        assert "D. here, call me back on [hidden] or [hidden]" in text
        assert "12 34 56 78" not in text and "dupont@" not in text and "Dupont" not in text
    client.force_login(cx_admin)
    assert comment in client.get(f"/touchpoints/{touchpoint.slug}/").content.decode()


def test_touchpoint_page_query_count_is_pinned(
    client, employee, touchpoint, django_assert_max_num_queries
):
    for i in range(30):
        ResponseFactory(touchpoint=touchpoint, score=i % 11, comment=f"comment {i}")
    services.rollups_recompute_range(start=timezone.localdate(), end=timezone.localdate())
    client.force_login(employee)
    with django_assert_max_num_queries(17):
        assert client.get(f"/touchpoints/{touchpoint.slug}/").status_code == 200


def test_unknown_touchpoint_page_is_404(client, employee):
    client.force_login(employee)
    assert client.get("/touchpoints/nope/").status_code == 404


def _manage(*args, **env):
    drop = ("SECRET_KEY", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE")
    full_env = {k: v for k, v in os.environ.items() if k not in drop}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_missing_secret_key_with_debug_off_is_a_clear_startup_error():
    result = _manage("check", DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_check_deploy_passes_with_production_settings():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY="x" * 20 + "-a-long-random-production-secret-" + "y" * 20,
        ALLOWED_HOSTS="cx.example.com",
    )
    assert result.returncode == 0, result.stderr + result.stdout


def test_previous_secret_keys_are_read_from_the_environment():
    result = _manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.SECRET_KEY_FALLBACKS)",
        SECRET_KEY="new-" + "k" * 50,
        SECRET_KEY_FALLBACKS="old-" + "a" * 50 + ",older-" + "b" * 50,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(["old-" + "a" * 50, "older-" + "b" * 50])


def test_the_touchpoint_loop_health_and_pareto_are_shared_for_a_minute(
    client, employee, touchpoint
):
    client.force_login(employee)
    url = f"/touchpoints/{touchpoint.slug}/"
    first = _count_queries(client, url)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        client.get(url)
    # Loop health (3 queries) and the root-cause Pareto (1) come from the cache.
    assert len(ctx.captured_queries) == first - 4


def test_collectstatic_builds_the_production_manifest(tmp_path, settings):
    """What the Dockerfile runs: every static file, and every file a CSS or JS file
    points to (a vendored file's source map, say), must exist for the manifest."""
    from django.contrib.staticfiles.storage import staticfiles_storage
    from django.core.management import call_command

    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    call_command("collectstatic", "--noinput", verbosity=0)
    for name in ("css/app.css", "vendor/chart-4.6.1.umd.min.js", "vendor/htmx-2.0.11.min.js"):
        assert staticfiles_storage.stored_name(name) != name  # hashed, in the manifest


def test_an_unknown_page_is_a_404_page_in_the_sites_layout(client, employee):
    page = client.get("/no-such-page/")
    assert page.status_code == 404
    assert "Page not found" in page.content.decode()
    client.force_login(employee)
    page = client.get("/no-such-page/")
    assert page.status_code == 404 and "Back to the dashboard" in page.content.decode()


def test_a_server_error_page_renders_without_a_request_context(rf):
    from django.views.defaults import server_error

    with translation.override("en"):
        page = server_error(rf.get("/"))
    assert page.status_code == 500
    assert "Something went wrong" in page.content.decode()
    with translation.override("fr"):
        page = server_error(rf.get("/"))
    assert "Un problème est survenu" in page.content.decode()


def test_the_404_page_speaks_the_visitors_language(client, db):
    page = client.get("/s/no-such-survey/", HTTP_ACCEPT_LANGUAGE="fr")
    assert page.status_code == 404
    assert "Page introuvable" in page.content.decode()


def test_an_nps_of_zero_is_shown_as_0_not_as_a_margin():
    from cxhub.templatetags.cx import signed

    assert [signed(v) for v in (12, 0, -7, None)] == ["+12", "0", "−7", "—"]


def test_the_trend_chart_gets_each_weeks_answer_count_for_every_line(
    touchpoint, touchpoint_b, time_machine, django_capture_on_commit_callbacks
):
    from surveys import selectors as survey_selectors
    from surveys import services as survey_services

    time_machine.move_to("2026-11-18 12:00 +01:00")  # a Wednesday
    with django_capture_on_commit_callbacks(execute=True):  # the rollups follow commit
        for score in (10, 9, 3):
            survey_services.response_record(touchpoint=touchpoint, score=score)
        survey_services.response_record(touchpoint=touchpoint_b, score=10)
    trend = survey_selectors.weekly_trend(weeks=2)
    assert trend["min_sample"] == 30
    assert trend["responses"] == [0, 4]
    assert {s["name"]: s["responses"] for s in trend["series"]} == {
        touchpoint.name: [0, 3],
        touchpoint_b.name: [0, 1],
    }
