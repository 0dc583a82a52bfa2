"""JSON text as CX Hub takes it in: only what PostgreSQL's jsonb can store and Python
can walk. Shared by the REST API's parser (cxhub.api.JSONParser) and the CSV import's
properties cells (surveys.imports.parse_properties).

Python's json takes more than jsonb does: NaN and Infinity, numbers beyond float range
(1e400 is infinity, which neither jsonb nor the renderer takes), strings or keys
holding a lone surrogate (\\ud800: not storable as UTF-8) or, where asked, a NUL
character (\\u0000, which jsonb refuses), and nesting deep enough to exhaust Python's
recursion limit. `loads` refuses each with an `Unstorable` error that says which; a
text that is not JSON at all raises json's own ValueError.
"""

import json
import math
import re

MAX_DEPTH = 32
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class Unstorable(ValueError):
    """Valid JSON to Python, but not storable: the message says why."""


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise Unstorable(f"the number {text[:40]} is too large to store (out of range)")
    return value


def _no_constant(name: str):
    raise Unstorable(f"{name} is not a JSON number")


def loads(text: str, *, refuse_nul: bool = False):
    """json.loads, refusing (Unstorable) what is described above. NUL characters are
    refused only with `refuse_nul` (the API's serializers refuse them field by field,
    with the field's name)."""
    try:
        data = json.loads(text, parse_float=_finite_float, parse_constant=_no_constant)
    except RecursionError:
        raise Unstorable(f"nested deeper than {MAX_DEPTH} levels") from None
    # The walk costs a little: only texts that could hold a problem take it.
    if (
        text.count("{") + text.count("[") > MAX_DEPTH
        or _SURROGATE_ESCAPE.search(text)
        or (refuse_nul and "\\u0000" in text)
    ):
        check(data, refuse_nul=refuse_nul)
    return data


def check(data, *, refuse_nul: bool = False) -> None:
    """Nesting at most MAX_DEPTH deep, strings and keys valid Unicode (and without NUL
    characters, with `refuse_nul`); Unstorable otherwise."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if refuse_nul and "\x00" in value:
                raise Unstorable("a string holds a NUL character (\\u0000)")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise Unstorable(
                    "a string holds a lone surrogate (such as \\ud800), which is not valid Unicode"
                ) from None
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise Unstorable(f"nested deeper than {MAX_DEPTH} levels")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                stack.append((key, depth))
                stack.append((item, depth + 1))
