"""An import whose file names no touchpoint needs the default touchpoint chosen."""

import pytest

from surveys import imports
from surveys.models import ResponseImport
from tests.surveys.test_imports import _now, delighted_csv, sample_rows  # noqa: F401 - fixture


def test_a_file_without_a_touchpoint_column_is_an_error_about_the_default_touchpoint(db):
    with pytest.raises(imports.ImportFileError) as raised:
        imports.response_import_create(
            filename="d.csv", content=delighted_csv(sample_rows(2)), default_touchpoint=None
        )
    assert raised.value.field == "default_touchpoint"
    assert "no touchpoint column" in str(raised.value)
    assert "choose the touchpoint" in str(raised.value)
    assert ResponseImport.objects.count() == 0


def test_other_file_errors_are_about_the_file(db):
    with pytest.raises(imports.ImportFileError) as raised:
        imports.response_import_create(filename="d.csv", content="", default_touchpoint=None)
    assert raised.value.field == "file"
