"""What of a customer may be shown to every employee (design §6): first name and
initial at most, no contact details.

Praise is shown company-wide, so a comment is scrubbed before it is displayed: email
addresses and phone numbers in it are masked, and the customer's own surname is
shortened to its initial, as `Person.first_name_and_initial` does for the name.
"""

from __future__ import annotations

import re
import unicodedata

from surveys.models import Person

MASK = "[hidden]"
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# Eight digits or more, possibly with +, spaces, dots, dashes or brackets between them.
PHONE = re.compile(r"\+?\(?\d(?:[\s().-]{0,2}\d){7,}")


def fold(text: str) -> str:
    """Lower case without accents: 'Chloé' and 'CHLOE' compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def customer_label(name: str | None) -> str:
    """'Marie D.' for 'Marie Dubois', through the one rule surveys defines."""
    return Person(name=name or "").first_name_and_initial


def _surnames(name: str) -> list[str]:
    """The words after the first name. Short middle words are particles ('de', 'Le')
    that also occur in ordinary sentences, so only the last word is always taken."""
    parts = (name or "").split()[1:]
    return [p for i, p in enumerate(parts) if len(p) > 3 or (i == len(parts) - 1 and len(p) > 1)]


def scrub_comment(comment: str, *, customer_name: str | None = "") -> str:
    """The comment with contact details masked and the customer's surname initialled."""
    text = EMAIL.sub(MASK, comment or "")
    text = PHONE.sub(MASK, text)
    for surname in _surnames(customer_name or ""):
        target = fold(surname)
        text = re.sub(
            r"[\w'-]+",
            lambda m, t=target, s=surname: f"{s[0]}." if fold(m.group(0)) == t else m.group(0),
            text,
        )
    return text
