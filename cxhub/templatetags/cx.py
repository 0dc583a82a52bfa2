from django import template
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from surveys import nps as nps_math

register = template.Library()


@register.filter
def nps(value):
    """An NPS for display: '—' when there is none (no responses), never 0."""
    return "—" if value is None else value


@register.filter
def email_wrap(address):
    """An email address that a narrow screen breaks after its "@" or before a dot of
    its domain, not in the middle of a word."""
    local, at, domain = str(address or "").partition("@")
    if not at:
        return address
    wrapped_domain = mark_safe("<wbr>.".join(escape(part) for part in domain.split(".")))  # noqa: S308 - each part escaped
    return format_html("{}@<wbr>{}", local, wrapped_domain)


@register.filter
def signed(value):
    if value is None:
        return "—"
    if value > 0:
        return f"+{value}"
    if value < 0:
        return f"−{abs(value)}"
    return "0"  # not "±0", which reads as a margin of error beside the real ones


@register.filter
def percent_of(part, whole):
    return 0 if not whole else round(100 * part / whole, 1)


@register.filter
def margin(counts):
    """What stands beside an NPS (design §5), as text: "± 12.3", or "few answers (n = 4)"
    below nps.MIN_SAMPLE, where the margin of error means nothing; "" without responses
    (the NPS itself is "—" then)."""
    if counts is None or not counts.total:
        return ""
    if counts.small_sample:
        return f"few answers (n = {counts.total})"
    return f"± {counts.margin_of_error}"


@register.filter
def nps_margin(counts):
    """An NPS and what stands beside it, for plain text: "+60 ± 9.2", "+100, few
    answers (n = 4)", or "—" without responses."""
    text = margin(counts)
    if not text:
        return "—"
    return f"{signed(counts.nps)}{',' if counts.small_sample else ''} {text}"


@register.simple_tag
def moe(counts):
    """`margin` for HTML pages, in a span that says what it is on hover."""
    text = margin(counts)
    if not text:
        return ""
    if counts.small_sample:
        return format_html(
            '<span class="moe few" title="Fewer than {} answers: too few for a margin of error">{}</span>',
            nps_math.MIN_SAMPLE,
            text,
        )
    return format_html('<span class="moe" title="95% margin of error">{}</span>', text)
