"""Standardised effect sizes with confidence intervals."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

BOOTSTRAP_RESAMPLES = 2000


@dataclass(frozen=True)
class EffectSize:
    name: str  # "cohen_d", "cohen_dz", "cliff_delta", "rank_biserial"
    estimate: float | None
    low: float | None
    high: float | None
    confidence: float
    interval_method: str


def _z(confidence: float) -> float:
    return float(stats.norm.ppf(0.5 + confidence / 2))


def _none(name: str, confidence: float, why: str) -> EffectSize:
    return EffectSize(name, None, None, None, confidence, why)


def cohens_d(a, b, *, confidence: float = 0.95) -> EffectSize:
    """Cohen's d for two independent groups (pooled SD), with the large-sample interval of
    Hedges & Olkin (1985): se = sqrt((n1 + n2) / (n1 n2) + d^2 / (2 (n1 + n2)))."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    n1, n2 = len(a), len(b)
    if n1 < 2 or n2 < 2:
        return _none("cohen_d", confidence, "needs at least 2 values per group")
    pooled = math.sqrt(((n1 - 1) * a.var(ddof=1) + (n2 - 1) * b.var(ddof=1)) / (n1 + n2 - 2))
    if pooled == 0:
        return _none("cohen_d", confidence, "no spread in either group")
    d = (a.mean() - b.mean()) / pooled
    se = math.sqrt((n1 + n2) / (n1 * n2) + d * d / (2 * (n1 + n2)))
    z = _z(confidence)
    return EffectSize("cohen_d", float(d), d - z * se, d + z * se, confidence, "Hedges-Olkin")


def _noncentral_t_bounds(t: float, df: float, confidence: float) -> tuple[float, float]:
    """The noncentrality parameters whose t distributions put t at the upper and lower
    (1 - confidence) / 2 tails: the exact interval for a standardised mean difference
    (Steiger & Fouladi 1997; R: MBESS::conf.limits.nct)."""
    from scipy import optimize

    tail = (1 - confidence) / 2
    span = abs(t) + 10 + 10 * math.sqrt(1 + t * t / (2 * df))

    def at(probability):
        return optimize.brentq(
            lambda ncp: stats.nct.cdf(t, df, ncp) - probability, t - span, t + span, xtol=1e-12
        )

    return at(1 - tail), at(tail)


def hedges_g(a, b, *, confidence: float = 0.95) -> EffectSize:
    """Hedges' g: Cohen's d times the small-sample correction J = Gamma(m/2) /
    (sqrt(m/2) Gamma((m-1)/2)), m = n1 + n2 - 2, with the noncentral-t interval of d scaled
    by the same J."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = cohens_d(a, b, confidence=confidence)
    if d.estimate is None:
        return _none("hedges_g", confidence, d.interval_method)
    n1, n2 = len(a), len(b)
    m = n1 + n2 - 2
    j = math.exp(math.lgamma(m / 2) - math.lgamma((m - 1) / 2)) / math.sqrt(m / 2)
    low, high = cohens_d_noncentral_interval(d.estimate, n1, n2, confidence=confidence)
    return EffectSize("hedges_g", j * d.estimate, j * low, j * high, confidence, "noncentral t")


def cohens_d_noncentral_interval(d: float, n1: int, n2: int, *, confidence: float = 0.95):
    """The exact (noncentral t) interval for Cohen's d of two independent groups."""
    scale = math.sqrt(1 / n1 + 1 / n2)
    low, high = _noncentral_t_bounds(d / scale, n1 + n2 - 2, confidence)
    return low * scale, high * scale


def cohens_dz(differences, *, confidence: float = 0.95) -> EffectSize:
    """Cohen's d_z for paired data: mean difference over the SD of the differences, with the
    large-sample interval se = sqrt(1/n + d^2 / (2n))."""
    x = np.asarray(differences, float)
    n = len(x)
    if n < 2:
        return _none("cohen_dz", confidence, "needs at least 2 pairs")
    sd = x.std(ddof=1)
    if sd == 0:
        return _none("cohen_dz", confidence, "every pair differs by the same amount")
    d = x.mean() / sd
    se = math.sqrt(1 / n + d * d / (2 * n))
    z = _z(confidence)
    return EffectSize("cohen_dz", float(d), d - z * se, d + z * se, confidence, "normal")


def cliffs_delta(a, b, *, confidence: float = 0.95) -> EffectSize:
    """Cliff's delta, P(a > b) - P(a < b), with Cliff's (1996) consistent variance and his
    asymmetric interval, which stays inside [-1, 1] (as R's effsize::cliff.delta with
    use.unbiased = FALSE, use.normal = TRUE)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    n1, n2 = len(a), len(b)
    if n1 < 2 or n2 < 2:
        return _none("cliff_delta", confidence, "needs at least 2 values per group")
    dominance = np.sign(a[:, None] - b[None, :])
    delta = float(dominance.mean())
    # A delta of exactly +-1 would give a zero variance; Cliff shrinks it a hair.
    d = delta * (n1 * n2 - 1) / (n1 * n2) if abs(delta) == 1 else delta
    rows, columns = dominance.mean(axis=1), dominance.mean(axis=0)
    var_rows = ((rows - d) ** 2).sum() / (n1 - 1)
    var_columns = ((columns - d) ** 2).sum() / (n2 - 1)
    var_cells = ((dominance - d) ** 2).sum() / ((n1 - 1) * (n2 - 1))
    variance = ((n2 - 1) * var_rows + (n1 - 1) * var_columns + var_cells) / (n1 * n2)
    z = _z(confidence)
    spread = z * math.sqrt(variance) * math.sqrt((1 - d * d) ** 2 + z * z * variance)
    denominator = 1 - d * d + z * z * variance
    low, high = (d - d**3 - spread) / denominator, (d - d**3 + spread) / denominator
    if delta == 1:
        high = 1.0
    if delta == -1:
        low = -1.0
    return EffectSize("cliff_delta", delta, low, high, confidence, "Cliff 1996")


def _rank_biserial(x: np.ndarray) -> float | None:
    x = x[x != 0]
    if len(x) == 0:
        return None
    ranks = stats.rankdata(np.abs(x))
    positive = ranks[x > 0].sum()
    return float((2 * positive - ranks.sum()) / ranks.sum())


def _rank_biserial_resamples(x: np.ndarray, picks: np.ndarray) -> np.ndarray:
    """_rank_biserial of x[picks[b]] for every resample b, without ranking each one.

    A resample only repeats values of x, so the values' order is known once: sorted by
    absolute value (ties grouped), a value's average rank in a resample is the number of
    picked nonzero values below its group plus (its group's count + 1) / 2. What is left
    per resample is a count per group and a cumulative sum, not a sort."""
    nonzero = x[x != 0]
    if len(nonzero) == 0:
        return np.full(len(picks), np.nan)
    magnitudes, group = np.unique(np.abs(x), return_inverse=True)
    groups = len(magnitudes)
    positive_group = np.where(x > 0, group, groups)  # positives only; the rest go to a spare
    zero_group = np.flatnonzero(magnitudes == 0)
    b = len(picks)
    offsets = (np.arange(b) * (groups + 1))[:, None]
    counts = np.bincount((group[picks] + offsets).ravel(), minlength=b * (groups + 1))
    counts = counts.reshape(b, groups + 1)[:, :groups].astype(float)
    if len(zero_group):
        counts[:, zero_group[0]] = 0  # zero differences are dropped, as wilcox.test does
    below = np.cumsum(counts, axis=1) - counts
    ranks = below + (counts + 1) / 2
    positives = np.bincount(
        (positive_group[picks] + offsets).ravel(), minlength=b * (groups + 1)
    ).reshape(b, groups + 1)[:, :groups]
    positive = (positives * ranks).sum(axis=1)
    kept = counts.sum(axis=1)
    total = kept * (kept + 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (2 * positive - total) / total, np.nan)


def rank_biserial_paired(differences, *, confidence: float = 0.95, seed: int = 0) -> EffectSize:
    """The matched-pairs rank-biserial correlation (Kerby 2014): (W+ - W-) / (W+ + W-) from
    the Wilcoxon signed-rank sums, zero differences dropped as wilcox.test drops them.

    No closed-form interval is in common use, so the interval is a percentile bootstrap
    over pairs with a fixed seed: the same data give the same interval.
    """
    x = np.asarray(differences, float)
    estimate = _rank_biserial(x)
    if estimate is None or len(x) < 3:
        return EffectSize(
            "rank_biserial", estimate, None, None, confidence, "needs at least 3 pairs"
        )
    rng = np.random.default_rng(seed)
    values = _rank_biserial_resamples(
        x, rng.integers(0, len(x), size=(BOOTSTRAP_RESAMPLES, len(x)))
    )
    values = values[~np.isnan(values)]
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return EffectSize(
        "rank_biserial", estimate, float(low), float(high), confidence, "percentile bootstrap"
    )
