"""Number formats for report pages: one place decides how an absent value reads."""

from django import template

from metrics.analysis import p_text

register = template.Library()
DASH = "\u2013"


@register.filter
def num(value, digits=2):
    if _missing(value):
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    # A statistic that ran away is shown in three figures, never hundreds of digits.
    return f"{value:.{int(digits)}f}" if abs(value) < 1e6 else f"{value:.3g}"


def _missing(value) -> bool:
    # Django renders a key a block's results lack as "": the same as no number.
    return value is None or value == ""


@register.filter
def pct(value):
    return DASH if _missing(value) else f"{value * 100:.1f}%"


@register.filter
def pval(value):
    return DASH if _missing(value) else p_text(value)


@register.filter
def lookup(mapping, key):
    return (mapping or {}).get(key)
