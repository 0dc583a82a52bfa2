"""The import page: the default touchpoint a file without a touchpoint column needs."""

import re

from django.core.files.uploadedfile import SimpleUploadedFile

from surveys.models import ResponseImport, Touchpoint
from tests.surveys.test_imports import _now, delighted_csv, sample_rows  # noqa: F401 - fixture


def errors_of(html: str, field: str) -> str:
    """The error list rendered just before the field's input."""
    row = re.search(rf'<div class="form-row">(?:(?!</div>).)*?name="{field}"', html, re.S)
    assert row, field
    return row.group(0)


def test_no_touchpoint_column_and_no_default_is_an_error_on_the_default_touchpoint(
    client, cx_admin, touchpoint
):
    client.force_login(cx_admin)
    content = delighted_csv(sample_rows(2)).encode()
    answer = client.post("/responses/import/", {"file": SimpleUploadedFile("d.csv", content)})
    assert answer.status_code == 400
    form = answer.context["form"]
    assert list(form.errors) == ["default_touchpoint"]
    assert "no touchpoint column" in form.errors["default_touchpoint"][0]
    html = answer.content.decode()
    assert "no touchpoint column" in errors_of(html, "default_touchpoint")
    assert "errorlist" not in errors_of(html, "file")
    assert ResponseImport.objects.count() == 0


def test_the_only_active_touchpoint_is_preselected(client, cx_admin, touchpoint):
    Touchpoint.objects.create(name="Retired", slug="retired", active=False)
    client.force_login(cx_admin)
    html = client.get("/responses/import/").content.decode()
    assert re.search(rf'<option value="{touchpoint.slug}" selected>', html)


def test_with_several_active_touchpoints_none_is_preselected(
    client, cx_admin, touchpoint, touchpoint_b
):
    client.force_login(cx_admin)
    html = client.get("/responses/import/").content.decode()
    assert not re.search(r'<option value="[^"]+" selected>', html)
