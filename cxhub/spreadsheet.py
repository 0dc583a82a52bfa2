"""Cells for CSV files people open in a spreadsheet.

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a formula (and
some also after a leading tab or carriage return): a customer's comment
`=HYPERLINK(...)` would become a live link in the CX admin's export. `safe_cell`
neutralises such cells with a leading apostrophe (shown by no spreadsheet, the
OWASP advice); plain numbers (`-12`, `+3.5`) stay numbers. `unsafe_cell` undoes it,
so that CX Hub reads back exactly what it wrote.
"""

import re

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def safe_cell(value) -> str:
    """The value as CSV text that no spreadsheet will run as a formula."""
    text = "" if value is None else str(value)
    if not text:
        return text
    first = text[0]
    if first in FORMULA_STARTS:
        return text if _NUMBER.fullmatch(text) else "'" + text
    if first == "'" and text[1:2] and (text[1] in FORMULA_STARTS or text[1] == "'"):
        # Already starts like a neutralised cell: escape it too, so unsafe_cell is exact.
        return "'" + text
    return text


def unsafe_cell(text: str) -> str:
    """The original value of a cell written by safe_cell."""
    if text[:1] == "'" and text[1:2] and (text[1] in FORMULA_STARTS or text[1] == "'"):
        return text[1:]
    return text
