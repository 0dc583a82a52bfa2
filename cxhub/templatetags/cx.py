from django import template

register = template.Library()


@register.filter
def nps(value):
    """An NPS for display: '—' when there is none (no responses), never 0."""
    return "—" if value is None else value


@register.filter
def signed(value):
    if value is None:
        return "—"
    if value > 0:
        return f"+{value}"
    if value < 0:
        return f"−{abs(value)}"
    return "±0"


@register.filter
def percent_of(part, whole):
    return 0 if not whole else round(100 * part / whole, 1)
