"""How many listeners a study needs: power planning for ratings and preferences."""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import optimize, stats


@dataclass(frozen=True)
class PowerPlan:
    effect: float  # the standardised effect: Cohen's d, or Cohen's h for a share
    per_group: float  # the exact solution (listeners, or trials for a share)
    needed: int  # rounded up
    power: float
    alpha: float
    assumptions: str


def listeners_for_rating_difference(
    difference: float,
    sd: float,
    *,
    power: float = 0.8,
    alpha: float = 0.05,
    within_subject: bool = True,
) -> PowerPlan:
    """Listeners needed to detect a mean rating difference with a two-sided t-test on
    per-listener means (as R's pwr.t.test).

    Within-subject (every listener hears both systems): ``sd`` is the SD of a listener's
    difference between the two systems' mean ratings, and the answer is listeners in
    total. Between-subject: ``sd`` is the SD of per-listener mean ratings and the answer
    is listeners per system.
    """
    from statsmodels.stats.power import TTestIndPower, TTestPower

    if difference <= 0 or sd <= 0:
        raise ValueError("the difference and the SD must both be positive")
    d = difference / sd
    solver = TTestPower() if within_subject else TTestIndPower()
    n = float(solver.solve_power(effect_size=d, alpha=alpha, power=power))
    design = (
        "paired t-test on per-listener means"
        if within_subject
        else ("two-sample t-test on per-listener means, per system")
    )
    return PowerPlan(d, n, math.ceil(n), power, alpha, design)


def cohens_h(share: float, null_share: float = 0.5) -> float:
    return 2 * math.asin(math.sqrt(share)) - 2 * math.asin(math.sqrt(null_share))


def trials_for_preference(
    share: float, *, power: float = 0.8, alpha: float = 0.05, null_share: float = 0.5
) -> PowerPlan:
    """Trials needed to show a preference share differs from ``null_share``, two-sided,
    by the arcsine (Cohen's h) normal approximation that R's pwr.p.test solves."""
    if not 0 < share < 1 or share == null_share:
        raise ValueError("the share must lie in (0, 1) and differ from the null share")
    h = abs(cohens_h(share, null_share))
    z = stats.norm.ppf(1 - alpha / 2)

    def shortfall(n: float) -> float:
        achieved = stats.norm.sf(z - h * math.sqrt(n)) + stats.norm.cdf(-z - h * math.sqrt(n))
        return achieved - power

    n = optimize.brentq(shortfall, 1e-6, 1e9, xtol=1e-10)
    return PowerPlan(h, n, math.ceil(n), power, alpha, "two-sided arcsine normal test")


def listeners_for_preference(
    share: float,
    trials_per_listener: int,
    *,
    power: float = 0.8,
    alpha: float = 0.05,
    intraclass_correlation: float = 0.0,
) -> PowerPlan:
    """Listeners needed when each answers ``trials_per_listener`` comparisons of the pair.

    A listener's answers are correlated (a listener who likes A tends to keep picking A),
    so the trial count is inflated by the design effect 1 + (m - 1) * ICC (Kish 1965).
    """
    if trials_per_listener < 1:
        raise ValueError("each listener must answer at least one comparison of the pair")
    trials = trials_for_preference(share, power=power, alpha=alpha)
    design_effect = 1 + (trials_per_listener - 1) * intraclass_correlation
    listeners = trials.per_group * design_effect / trials_per_listener
    return PowerPlan(
        trials.effect,
        listeners,
        math.ceil(listeners),
        power,
        alpha,
        f"{trials_per_listener} comparisons per listener, design effect {design_effect:.2f}",
    )
