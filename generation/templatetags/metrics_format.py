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


@register.filter
def option_value(value) -> str:
    """An option's value as a person reads it: not Python's spelling (None, True, {...})."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return ", ".join(f"{key} {option_value(item)}" for key, item in value.items()) or "none"
    if isinstance(value, list | tuple):
        return ", ".join(option_value(item) for item in value) or "none"
    return str(value)


# Where the stored name reads badly as words.
_OPTION_NAMES = {
    "n": "samples",
    "top_k": "top-k",
    "tempo_qpm": "tempo (quarter notes per minute)",
    "eval_every": "evaluate every (steps)",
    "checkpoint_every": "checkpoint every (steps)",
}


@register.filter
def option_name(key) -> str:
    return _OPTION_NAMES.get(str(key), str(key).replace("_", " "))
