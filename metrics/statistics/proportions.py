"""Shares of yes-answers: Wilson intervals, exact binomial tests, two-proportion comparisons."""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie between 0 and 1, not {confidence}")
    return float(stats.norm.ppf(0.5 + confidence / 2))


@dataclass(frozen=True)
class Proportion:
    successes: int
    n: int
    share: float | None  # None when n == 0
    low: float | None
    high: float | None
    confidence: float


def wilson_interval(successes: int, n: int, *, confidence: float = 0.95) -> Proportion:
    """The Wilson score interval (Wilson 1927; Newcombe 1998 method 3).

    Chosen over the Wald interval p +- z*sqrt(p(1-p)/n) that the seed papers print because
    Wald's coverage collapses near 0 and 1 and it can leave [0, 1].
    """
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return Proportion(successes, n, None, None, None, confidence)
    z = _z(confidence)
    share = successes / n
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = (z / (1 + z * z / n)) * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    return Proportion(
        successes, n, share, max(0.0, centre - half), min(1.0, centre + half), confidence
    )


@dataclass(frozen=True)
class BinomialTest:
    successes: int
    n: int
    null_share: float
    p_value: float | None  # None when n == 0
    alternative: str


def binomial_test(
    successes: int, n: int, *, null_share: float = 0.5, alternative: str = "two-sided"
) -> BinomialTest:
    """Exact binomial test, two-sided by the minimum-likelihood rule that R's binom.test uses."""
    if n == 0:
        return BinomialTest(successes, n, null_share, None, alternative)
    result = stats.binomtest(successes, n, p=null_share, alternative=alternative)
    return BinomialTest(successes, n, null_share, float(result.pvalue), alternative)


@dataclass(frozen=True)
class TwoProportions:
    first: Proportion
    second: Proportion
    difference: float | None
    z: float | None  # pooled two-proportion z statistic, no continuity correction
    p_value_z: float | None
    p_value_fisher: float | None
    odds_ratio: float | None  # the sample odds ratio (Fisher's test reports a conditional MLE)


def two_proportions(
    successes_a: int, n_a: int, successes_b: int, n_b: int, *, confidence: float = 0.95
) -> TwoProportions:
    """Compare two independent shares with the pooled z-test and Fisher's exact test."""
    first = wilson_interval(successes_a, n_a, confidence=confidence)
    second = wilson_interval(successes_b, n_b, confidence=confidence)
    if n_a == 0 or n_b == 0:
        return TwoProportions(first, second, None, None, None, None, None)
    difference = successes_a / n_a - successes_b / n_b
    pooled = (successes_a + successes_b) / (n_a + n_b)
    variance = pooled * (1 - pooled) * (1 / n_a + 1 / n_b)
    if variance > 0:
        z = difference / math.sqrt(variance)
        p_z = float(2 * stats.norm.sf(abs(z)))
    else:  # everyone answered the same way in both groups
        z, p_z = 0.0, 1.0
    table = [[successes_a, n_a - successes_a], [successes_b, n_b - successes_b]]
    p_fisher = float(stats.fisher_exact(table).pvalue)
    failures_a, failures_b = n_a - successes_a, n_b - successes_b
    odds_ratio = (
        (successes_a * failures_b) / (failures_a * successes_b)
        if failures_a * successes_b
        else None
    )
    return TwoProportions(first, second, difference, z, p_z, p_fisher, odds_ratio)
