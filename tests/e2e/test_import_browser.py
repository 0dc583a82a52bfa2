"""A CX admin imports a Delighted CSV export in a real browser and watches it finish."""

import pytest

from surveys import imports
from surveys.models import Response, ResponseImport

pytestmark = pytest.mark.django_db(transaction=True)

CSV = (
    "Response ID,Score,Comment,Response date,Name,Email,Plan\n"
    "1,10,Brilliant support,2026-11-02 10:00:00 +0000,Claire Fontaine,claire@example.net,pro\n"
    '2,3,"Waited, then cut off",2026-11-03 11:00:00 +0000,Marc Petit,marc@example.net,free\n'
    "3,eleven,,2026-11-03 12:00:00 +0000,,,\n"
)


def test_a_cx_admin_uploads_a_file_and_sees_the_import_done_with_its_report(
    login, live_server, touchpoint, cx_admin, tmp_path, page_problems
):
    path = tmp_path / "delighted-export.csv"
    path.write_text(CSV)
    page = login("ada")
    problems = page_problems(page)
    page.get_by_role("link", name="Responses").click()
    page.get_by_role("link", name="Import a CSV file").click()
    page.set_input_files("#id_file", str(path))
    page.select_option("#id_default_touchpoint", "support-call")
    page.get_by_role("button", name="Import").click()

    page.wait_for_selector('#import-progress[data-status="done"]')
    assert page.locator('[data-counter="imported"]').inner_text() == "2"
    assert page.locator('[data-counter="skipped"]').inner_text() == "1"
    assert page.locator("progress").get_attribute("value") == "100"
    report = page.locator("table.skipped").inner_text()
    assert "4" in report and "score: 'eleven' is not a whole number from 0 to 10" in report
    assert Response.objects.count() == 2

    page.get_by_role("link", name="See the responses").click()
    assert page.locator("tr[data-response]").count() == 2
    assert "Waited, then cut off" in page.locator("table").inner_text()
    assert problems == []


def test_the_progress_bar_follows_an_import_run_by_the_worker_until_it_is_done(
    login, live_server, touchpoint, cx_admin, page_problems
):
    pending = imports.response_import_create(
        filename="later.csv", content=CSV, default_touchpoint=touchpoint, enqueue=False
    )
    page = login("ada")
    problems = page_problems(page)
    page.goto(f"{live_server.url}/responses/import/{pending.pk}/")
    assert page.locator("#import-progress").get_attribute("data-status") == "pending"
    assert "Waiting to start" in page.locator("#import-progress").inner_text()

    imports.response_import_run(import_id=pending.pk)  # what the worker does
    page.wait_for_selector('#import-progress[data-status="done"]', timeout=10_000)
    assert page.locator('[data-counter="imported"]').inner_text() == "2"
    assert ResponseImport.objects.get(pk=pending.pk).status == "done"
    assert problems == []
