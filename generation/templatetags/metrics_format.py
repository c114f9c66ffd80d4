from django import template

register = template.Library()


@register.filter
def metric(value, digits: int = 3):
    """A metric for a table: fixed decimals, a dash when there is none."""
    if value is None or value == "":
        return "\u2013"  # en dash
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    try:
        return f"{float(value):.{int(digits)}f}"
    except (TypeError, ValueError):
        return str(value)


@register.filter
def get(mapping, key):
    if not isinstance(mapping, dict):
        return None
    return mapping.get(key)
