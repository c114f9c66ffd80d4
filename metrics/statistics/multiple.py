"""Corrections for testing several system pairs at once."""

from __future__ import annotations

import numpy as np

METHODS = {"holm": "Holm", "bh": "Benjamini-Hochberg", "bonferroni": "Bonferroni"}


def adjust_p_values(p_values, *, method: str = "holm") -> list[float]:
    """Holm's step-down or Bonferroni's family-wise correction, or Benjamini-Hochberg's
    false discovery rate. Same definitions as R's p.adjust(p, "holm" | "bonferroni" | "BH").
    """
    if method not in METHODS:
        raise ValueError(f"unknown correction {method!r}; choose one of {sorted(METHODS)}")
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    if m == 0:
        return []
    if method == "bonferroni":
        return np.minimum(m * p, 1.0).tolist()
    if method == "holm":
        order = np.argsort(p, kind="stable")
        stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    else:
        order = np.argsort(p, kind="stable")[::-1]
        stepped = np.minimum.accumulate(m / np.arange(m, 0, -1) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted.tolist()
