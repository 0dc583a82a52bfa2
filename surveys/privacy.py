"""What of a customer may be shown to those who may not see customer personal data
(design §6: employees, executives, managers outside their cases, `read` and `write`
API keys): first name and initial at most, no contact details.

A comment shown to them is scrubbed first (praise, the touchpoint page, the weekly
digest, team alerts, the API's responses): email addresses and phone numbers in it
are masked, and the customer's own surname is shortened to its initial, as
`customer_label` (`Person.first_name_and_initial`) does for the name.
"""

from __future__ import annotations

import re
import unicodedata

MASK = "[hidden]"
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# Eight digits or more, possibly with +, spaces, dots, dashes or brackets between them.
PHONE = re.compile(r"\+?\(?\d(?:[\s().-]{0,2}\d){7,}")
# How a customer is named when there is no name that may be shown.
NO_NAME = "A customer"


def fold(text: str) -> str:
    """Lower case without accents: 'Chloé' and 'CHLOE' compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def customer_label(name: str | None) -> str:
    """'Marie D.' for 'Marie Dubois': first name and initial at most, never a contact
    detail. CRMs and imports often copy the address into the name, so email addresses
    and phone numbers are taken out of it first, and so is any word that has an @ or no
    letter at all; nothing left is NO_NAME."""
    text = PHONE.sub(" ", EMAIL.sub(" ", name or ""))
    parts = [w for w in text.split() if "@" not in w and any(c.isalpha() for c in w)]
    if not parts:
        return NO_NAME
    if len(parts) == 1:
        return parts[0]
    return f"{parts[0]} {parts[-1][0]}."


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


def shown_comment(response, *, contact_details: bool) -> str:
    """A response's comment as shown to a viewer: whole for those who may see customer
    personal data, scrubbed for everyone else (needs `response.person` loaded)."""
    if contact_details or not response.comment:
        return response.comment
    person = response.person if response.person_id else None
    return scrub_comment(response.comment, customer_name=person.name if person else "")
