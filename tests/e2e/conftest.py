"""End-to-end tests in Debian's headless Chromium, driven by Playwright.

`playwright install` cannot download browsers here (and need not): the tests launch
/usr/bin/chromium. The flags keep Chromium off the network it cannot reach.

The pages are served by pytest-django's `live_server` in a thread of this process,
so the tests use transactional databases (the server thread must see the rows the
test writes) and Playwright's sync API needs DJANGO_ALLOW_ASYNC_UNSAFE.
"""

import os
import re
import shutil
from pathlib import Path

import pytest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
PAGE_FIXTURES = ("page", "phone")


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in item.path.as_posix():
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does it)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


@pytest.fixture
def phone(new_context):
    """A page in a phone-sized, touch-enabled browser context (about an iPhone 14)."""
    return new_context(**PHONE).new_page()


@pytest.fixture
def login(page, live_server):
    """Log in through the real login form; returns the page, on the dashboard."""

    def _login(username, password="pw"):
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")
        return page

    return _login


@pytest.fixture
def page_problems():
    """Watch a page for what a test reading the DOM would not notice.

    `watch(page)` returns a list that fills up, as the page is used, with script
    errors, requests that failed and sub-resources (scripts, styles) answered with
    an error status. A missing /static/vendor/chart-*.js shows up here by name.
    Documents are left out: some pages answer 400 on purpose (a form with errors).
    """

    def watch(page):
        problems = []
        page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
        page.on(
            "requestfailed",
            lambda request: problems.append(f"request failed: {request.url} {request.failure}"),
        )

        def on_response(response):
            request = response.request
            if (
                response.status >= 400
                and request.resource_type != "document"
                and not request.url.endswith("/favicon.ico")
            ):
                problems.append(f"{response.status} for {request.resource_type} {request.url}")

        page.on("response", on_response)
        return problems

    return watch


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, save a full-page screenshot of each page the test used."""
    report = yield
    if report.when == "call" and report.failed:
        folder = Path(item.config.getoption("--output")).absolute()
        slug = re.sub(r"[^\w.-]+", "-", item.nodeid).strip("-")[:150]
        for name in PAGE_FIXTURES:
            page = item.funcargs.get(name)
            if page is None or page.is_closed():
                continue
            path = folder / f"{slug}-{name}.png"
            try:
                folder.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(path), full_page=True)
            except Exception as exc:  # a broken browser must not hide the real failure
                report.sections.append(("screenshot", f"could not save {path}: {exc}"))
            else:
                report.sections.append(("screenshot", f"{path} (at {page.url})"))
    return report
