"""How numbers read in the report's sentences: one place decides."""

from __future__ import annotations

import math


def percent(share: float | None, digits: int = 1) -> str:
    return "n/a" if share is None else f"{share * 100:.{digits}f}%"


def p_text(p: float | None) -> str:
    if p is None:
        return "no test"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def number_text(value: float | None, digits: int = 2) -> str:
    """A statistic for a sentence: never hundreds of digits, never 'nan'."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.{digits}f}" if abs(value) < 1e4 else f"{value:.3g}"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def interval_text(low: float | None, high: float | None, *, as_percent: bool = False) -> str:
    if low is None or high is None:
        return "no interval"
    if as_percent:
        return f"{low * 100:.1f}-{high * 100:.1f}%"
    return f"{low:.2f} to {high:.2f}"
