"""Rank correlation between an objective measure and what listeners said."""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

ALTERNATIVES = ("two-sided", "greater", "less")
# Up to this many pairs without ties, the p-value comes from every permutation (as R's
# cor.test does through AS 89, which is exact for n <= 9); beyond it, or with ties, from
# the t approximation R and scipy use.
EXACT_MAX_N = 9


@dataclass(frozen=True)
class Correlation:
    rho: float | None  # None when either variable is constant or n < 3
    p_value: float | None
    low: float | None  # bootstrap percentile interval
    high: float | None
    n: int
    confidence: float
    alternative: str
    p_method: str  # "exact" or "t approximation"
    resamples: int  # bootstrap resamples with a defined rho


def _rho(rank_x: np.ndarray, rank_y: np.ndarray) -> np.ndarray:
    """Pearson correlation of ranks along the last axis (works on a batch of resamples)."""
    dx = rank_x - rank_x.mean(axis=-1, keepdims=True)
    dy = rank_y - rank_y.mean(axis=-1, keepdims=True)
    denominator = np.sqrt((dx * dx).sum(axis=-1) * (dy * dy).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (dx * dy).sum(axis=-1) / denominator


@functools.cache
def _null_rhos(n: int) -> np.ndarray:
    """Sorted rho of 1..n against every permutation of 1..n. Without ties the ranks are such
    a permutation, so this null distribution depends on n alone (n! values; 362,880 at 9)."""
    ranks = np.arange(1, n + 1, dtype=float)
    permutations = np.array(list(itertools.permutations(range(n))), dtype=np.int8)
    return np.sort(_rho(np.broadcast_to(ranks, permutations.shape), ranks[permutations]))


def _exact_p(n: int, rho: float, alternative: str) -> float:
    null = _null_rhos(n)
    tolerance = 1e-12
    upper = float(1 - np.searchsorted(null, rho - tolerance, side="left") / len(null))
    lower = float(np.searchsorted(null, rho + tolerance, side="right") / len(null))
    if alternative == "greater":
        return upper
    if alternative == "less":
        return lower
    return min(1.0, 2 * min(upper, lower))


def _t_p(rho: float, n: int, alternative: str) -> float:
    perfect = abs(rho) >= 1
    t = math.copysign(math.inf, rho) if perfect else rho * math.sqrt((n - 2) / (1 - rho * rho))
    if alternative == "greater":
        return float(stats.t.sf(t, n - 2))
    if alternative == "less":
        return float(stats.t.cdf(t, n - 2))
    return float(min(1.0, 2 * stats.t.sf(abs(t), n - 2)))


def spearman(
    x,
    y,
    *,
    alternative: str = "two-sided",
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Correlation:
    """Spearman's rho with its test (as R's ``cor.test(x, y, method = "spearman")``) and a
    percentile bootstrap interval over resampled pairs (resamples in which either variable is
    constant have no rho and are left out). Pairs with a missing value are dropped."""
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {', '.join(ALTERNATIVES)}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie between 0 and 1, not {confidence}")
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("x and y must be one-dimensional and of the same length")
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    n = len(x)
    empty = Correlation(None, None, None, None, n, confidence, alternative, "", 0)
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return empty
    rank_x, rank_y = stats.rankdata(x), stats.rankdata(y)
    rho = float(_rho(rank_x, rank_y))
    ties = len(np.unique(x)) < n or len(np.unique(y)) < n
    if n <= EXACT_MAX_N and not ties:
        p_value, p_method = _exact_p(n, rho, alternative), "exact"
    else:
        p_value, p_method = _t_p(rho, n, alternative), "t approximation"

    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n, size=(n_resamples, n))
    boot_x, boot_y = x[picks], y[picks]
    # Ranks within each resample (average ranks for the repeats resampling creates).
    boot = _rho(stats.rankdata(boot_x, axis=1), stats.rankdata(boot_y, axis=1))
    boot = boot[np.isfinite(boot)]
    low = high = None
    if len(boot) >= n_resamples / 2:
        tail = (1 - confidence) / 2
        low, high = (float(v) for v in np.quantile(boot, [tail, 1 - tail]))
    return Correlation(rho, p_value, low, high, n, confidence, alternative, p_method, len(boot))
