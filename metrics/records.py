"""Typed, frozen result records and the JSON they write: the base every result class of
the analysis and the checkpoint comparison derives from.

Every number is stored plain: numpy scalars become Python numbers and NaN or infinity
becomes None, so no format ever prints "nan". ``to_json_data`` writes a record's fields in
their declared order, leaving out those declared ``optional()`` while they are None.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, is_dataclass

import numpy as np

# A field that the JSON leaves out when it is None: these keys have only ever been written
# when the analysis had something to say (a model's degrees of freedom, an adjusted p).
_OMITTED_WHEN_NONE = {"omit_if_none": True}


def optional(*, default=None):
    return field(default=default, metadata=_OMITTED_WHEN_NONE)


def plain(value):
    """JSON-ready: numpy scalars to Python, NaN and infinities to None, tuples to lists."""
    if isinstance(value, Result):
        return value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class Result:
    """Base of the result classes (each a frozen, keyword-only dataclass)."""

    def __post_init__(self):
        for f in fields(self):
            object.__setattr__(self, f.name, plain(getattr(self, f.name)))


def to_json_data(value):
    """Dicts and lists of plain values, in field order, for json.dumps."""
    if isinstance(value, Result) and is_dataclass(value):
        return {
            f.name: to_json_data(getattr(value, f.name))
            for f in fields(value)
            if not (f.metadata.get("omit_if_none") and getattr(value, f.name) is None)
        }
    if isinstance(value, dict):
        return {k: to_json_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_data(v) for v in value]
    return value


result = dataclass(frozen=True, kw_only=True)
