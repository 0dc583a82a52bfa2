"""A properties cell PostgreSQL's jsonb would refuse skips its row, not the file."""

import csv
import io

import pytest

from surveys import exports
from surveys.models import Response
from tests.surveys.test_imports import _now, both_paths, run_import  # noqa: F401 - fixtures

BAD_PROPERTIES = {
    "nul": ('{"a": "\\u0000"}', "NUL character"),
    "nul in a key": ('{"a\\u0000b": 1}', "NUL character"),
    "surrogate": ('{"a": "\\ud800"}', "lone surrogate"),
    "surrogate in a key": ('{"\\udfff": [1, 2]}', "lone surrogate"),
    "1e999": ('{"a": 1e999}', "the number 1e999 is too large"),
    "-1e999": ('{"a": [-1e999]}', "the number -1e999 is too large"),
    "NaN": ('{"a": NaN}', "NaN is not a JSON number"),
    "Infinity": ('{"a": {"b": Infinity}}', "Infinity is not a JSON number"),
    "-Infinity": ('{"a": -Infinity}', "-Infinity is not a JSON number"),
    "not an object": ("[1, 2]", "not a JSON object"),
    "too deep": ("[" * 100_000 + "]" * 100_000, "nested deeper than 32 levels"),
    "33 deep": ('{"a": ' + "[" * 32 + "]" * 32 + "}", "nested deeper than 32 levels"),
}


def cxhub_csv(properties_cells: list[str], touchpoint) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(exports.COLUMNS)
    for i, properties in enumerate(properties_cells):
        writer.writerow(
            [f"cxhub-test:{i}", touchpoint.slug, "9", "", f"Comment {i}", "web"]
            + ["2026-11-01T10:00:00+00:00", "", "", "", "", properties]
        )
    return out.getvalue()


@pytest.mark.parametrize("kind", list(BAD_PROPERTIES))
def test_a_properties_cell_jsonb_refuses_skips_its_row_and_the_good_rows_import(
    run_import,  # noqa: F811
    touchpoint,
    kind,
):
    cell, reason = BAD_PROPERTIES[kind]
    good = ['{"plan": "gold"}', "", '{"n": 1.5, "ok": true}', '{"é": "\\u00e9"}', "{}"]
    done = run_import(cxhub_csv([*good[:2], cell, *good[2:]], touchpoint))
    assert (done.status, done.imported, done.skipped) == ("done", 5, 1), done.error
    assert [entry["row"] for entry in done.report] == [4]
    assert done.report[0]["reason"].startswith("properties: ")
    assert reason in done.report[0]["reason"]
    assert Response.objects.count() == 5
    assert Response.objects.get(source_key="cxhub-test:4").properties == {"é": "é"}


def test_a_file_with_one_row_of_each_bad_kind_imports_all_its_good_rows(
    run_import,  # noqa: F811
    touchpoint,
    both_paths,  # noqa: F811
):
    bad = [cell for cell, _ in BAD_PROPERTIES.values()]
    good = ['{"plan": "gold"}'] * 5
    done = run_import(cxhub_csv(good + bad, touchpoint))
    assert (done.status, done.imported, done.skipped) == ("done", 5, len(bad)), done.error
    reasons = [entry["reason"] for entry in done.report]
    assert [entry["row"] for entry in done.report] == list(range(7, 7 + len(bad)))
    for (_, reason), got in zip(BAD_PROPERTIES.values(), reasons, strict=True):
        assert reason in got
