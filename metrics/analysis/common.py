"""Small helpers every block kind uses."""

from __future__ import annotations

import math

import numpy as np

from metrics.analysis.results import EffectSize, Share
from metrics.analysis.rows import known_listener_rows, listener_known


def share_of(proportion) -> Share:
    """A Proportion (metrics.statistics.proportions) as a result row."""
    return Share(**share_fields(proportion))


def share_fields(proportion) -> dict:
    """The fields of share_of, for rows that carry a share among other things."""
    return {
        "successes": proportion.successes,
        "n": proportion.n,
        "share": proportion.share,
        "low": proportion.low,
        "high": proportion.high,
    }


def effect_of(effect) -> EffectSize:
    return EffectSize(
        name=effect.name,
        estimate=effect.estimate,
        low=effect.low,
        high=effect.high,
        interval=effect.interval_method,
    )


def finite(value) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def codes(values) -> tuple[np.ndarray, list]:
    """Integer codes for the values, in order of first appearance, and the levels."""
    levels = list(dict.fromkeys(values))
    index = {v: i for i, v in enumerate(levels)}
    return np.array([index[v] for v in values]), levels


def system_indicators(rows, systems: list[str]) -> np.ndarray:
    """The design matrix of one coefficient per system (cell means): a 1 in each row's
    system's column."""
    index = {s: i for i, s in enumerate(systems)}
    X = np.zeros((len(rows), len(systems)))
    X[np.arange(len(rows)), [index[r["system"]] for r in rows]] = 1
    return X


def listener_group(rows) -> tuple[np.ndarray | None, int]:
    """The listener random intercept's codes when one can be estimated (2 or more listeners,
    every one known: answers counted per clip have no listener), else None; and how many
    listeners are known."""
    known = len({r["participant"] for r in known_listener_rows(rows)})
    listener_codes, listeners = codes([r["participant"] for r in rows])
    if len(listeners) >= 2 and all(map(listener_known, rows)):
        return listener_codes, known
    return None, known


def crossed_groups(rows, n_systems: int) -> tuple[dict, int, int]:
    """The random intercepts a per-system model of these answers can estimate: listener
    when 2 or more answered, clip when there are more clips than systems (clips are nested
    in systems; with one clip per system their spread is the systems'). Also returns the
    listener and clip counts, so callers can say what was left out."""
    groups = {}
    listener_codes, listeners = listener_group(rows)
    if listener_codes is not None:
        groups["listener"] = listener_codes
    clip_codes, clips = codes([r["stimulus"] for r in rows])
    if len(clips) > n_systems:
        groups["clip"] = clip_codes
    return groups, listeners, len(clips)
