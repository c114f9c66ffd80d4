"""Group-sequential designs: looks at the data after n1, n2, ... listeners, with the type I
error spread over the looks by an alpha-spending function (Lan and DeMets 1983).

The boundaries are found by the recursive numerical integration of Armitage, McPherson and
Rowe (1969) as Jennison and Turnbull (2000, ch. 19) lay it out: the z statistics of the
looks are a Brownian motion observed at the information fractions t_k, so the density of
Z_k on the continuation region follows from Z_{k-1}'s by one convolution. Written here
rather than taken from a library because no maintained Python package computes spending
boundaries; the results are pinned to R's rpact in the tests.

Spending functions, as rpact names them:
- "obrien-fleming" (typeOfDesign "asOF"): alpha(t) = 2 (1 - Phi(Phi^-1(1 - alpha/2) / sqrt t))
  for a one-sided design, with alpha/2 for alpha in a two-sided one;
- "pocock" (typeOfDesign "asP"): alpha(t) = alpha log(1 + (e - 1) t).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

SPENDING = ("obrien-fleming", "pocock")
_GRID = 801  # points of the integration grid per look (odd: Simpson's rule)
_LOW = -10.0  # the grid's lower end, in z: the mass below it is under 1e-23


def spent(t: float, *, alpha: float, spending: str, sided: int = 1) -> float:
    """The type I error spent by information fraction t (0 < t <= 1), over both sides
    for a two-sided design."""
    if spending == "obrien-fleming":
        level = alpha if sided == 1 else alpha / 2
        one_side = 2 * (1 - stats.norm.cdf(stats.norm.ppf(1 - level / 2) / math.sqrt(t)))
        return float(one_side if sided == 1 else 2 * one_side)
    if spending == "pocock":
        return alpha * math.log(1 + (math.e - 1) * t)
    raise ValueError(f"spending must be one of {', '.join(SPENDING)}")


@dataclass(frozen=True)
class SequentialDesign:
    """Efficacy boundaries on the z scale, one per look: stop and reject when Z_k >=
    efficacy[k] (two-sided: |Z_k| >= efficacy[k]). Futility bounds are non-binding (the
    efficacy boundaries ignore them, so the type I error holds whether or not a study
    stops for futility): stop for futility when Z_k < futility[k] at a look before the
    last."""

    information_rates: tuple[float, ...]
    alpha: float
    sided: int
    spending: str
    efficacy: tuple[float, ...]
    futility: tuple[float, ...]
    cumulative_alpha: tuple[float, ...]  # spent by each look

    @property
    def looks(self) -> int:
        return len(self.information_rates)

    def nominal_p(self, look: int) -> float:
        """The p value a single test at this look would need to stop for efficacy."""
        tail = 1 - stats.norm.cdf(self.efficacy[look])
        return float(tail if self.sided == 1 else 2 * tail)

    def decision(self, look: int, z: float) -> str:
        """ "efficacy", "futility" or "continue" at this look (0-based) for the observed z
        (positive: in the hypothesised direction)."""
        if (z if self.sided == 1 else abs(z)) >= self.efficacy[look]:
            return "efficacy"
        if look == self.looks - 1:
            return "futility"  # the last look without crossing: the null is kept
        if z < self.futility[look]:
            return "futility"
        return "continue"


def group_sequential_design(
    information_rates,
    *,
    alpha: float = 0.025,
    sided: int = 1,
    spending: str = "obrien-fleming",
    futility=None,
) -> SequentialDesign:
    """Boundaries for looks at these information fractions (increasing, the last 1)."""
    rates = tuple(float(t) for t in information_rates)
    if not rates or rates[-1] != 1.0 or any(b <= a for a, b in itertools.pairwise(rates)):
        raise ValueError("information rates must increase to 1")
    if rates[0] <= 0:
        raise ValueError("information rates must be above 0")
    if sided not in (1, 2):
        raise ValueError("sided must be 1 or 2")
    if not 0 < alpha < 0.5:
        raise ValueError("alpha must be between 0 and 0.5")
    if spending not in SPENDING:
        raise ValueError(f"spending must be one of {', '.join(SPENDING)}")
    bounds = tuple(float(f) for f in (futility or [-math.inf] * (len(rates) - 1)))
    if len(bounds) != len(rates) - 1:
        raise ValueError("give one futility bound per look before the last")
    cumulative = tuple(spent(t, alpha=alpha, spending=spending, sided=sided) for t in rates)
    efficacy: list[float] = []
    density = None
    for k, t in enumerate(rates):
        budget = cumulative[k] - (cumulative[k - 1] if k else 0.0)
        previous = rates[k - 1] if k else 0.0
        if density is None:

            def crossing(c):
                tail = 1 - stats.norm.cdf(c)
                return tail if sided == 1 else 2 * tail

        else:

            def crossing(c, density=density, previous=previous, t=t):
                return _crossing_probability(density, previous, t, c, sided)

        boundary = optimize.brentq(
            lambda c, crossing=crossing, budget=budget: crossing(c) - budget, 0.0, 12.0
        )
        efficacy.append(boundary)
        density = _continue(density, previous, t, boundary, sided)
    return SequentialDesign(
        information_rates=rates,
        alpha=alpha,
        sided=sided,
        spending=spending,
        efficacy=tuple(efficacy),
        futility=bounds,
        cumulative_alpha=cumulative,
    )


# The density of Z_k on the continuation region, as (grid, values, Simpson weights).
_Density = tuple[np.ndarray, np.ndarray, np.ndarray]


def _simpson(a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    grid = np.linspace(a, b, _GRID)
    weights = np.ones(_GRID)
    weights[1:-1:2], weights[2:-1:2] = 4, 2
    return grid, weights * (b - a) / (_GRID - 1) / 3


def _step(z_prev, t_prev: float, t: float, drift: float = 0.0):
    """Mean and standard deviation of Z_k given Z_{k-1} = z_prev (drift: E Z at t = 1)."""
    mean = (z_prev * math.sqrt(t_prev) + drift * (t - t_prev)) / math.sqrt(t)
    return mean, math.sqrt((t - t_prev) / t)


def _continue(density: _Density | None, t_prev: float, t: float, c: float, sided: int,
              drift: float = 0.0) -> _Density:  # fmt: skip
    """The density of Z_k on (-c, c) or (-inf, c), continuing without a crossing."""
    return _continue_between(density, t_prev, t, -c if sided == 2 else -math.inf, c, drift)


def _crossing_probability(density: _Density, t_prev: float, t: float, c: float, sided: int,
                          drift: float = 0.0) -> float:  # fmt: skip
    grid, values, weights = density
    mean, sd = _step(grid, t_prev, t, drift)
    upper = stats.norm.sf((c - mean) / sd)
    if sided == 2:
        upper = upper + stats.norm.cdf((-c - mean) / sd)
    return float(np.sum(upper * values * weights))


@dataclass(frozen=True)
class Operating:
    """What a design does under a true drift (E Z at the last look): the chance of stopping
    for efficacy at each look, of stopping for futility, and the expected information."""

    rejection: float
    efficacy_by_look: tuple[float, ...]
    futility_by_look: tuple[float, ...]
    expected_information: float  # as a fraction of the maximum


def operating_characteristics(design: SequentialDesign, *, drift: float) -> Operating:
    """Rejection and stopping probabilities with the futility bounds obeyed (one-sided)."""
    if design.sided != 1:
        raise ValueError("operating characteristics are computed for one-sided designs")
    rates = design.information_rates
    efficacy, futility = [], []
    density = None
    for k, t in enumerate(rates):
        previous = rates[k - 1] if k else 0.0
        c = design.efficacy[k]
        last = k == len(rates) - 1
        floor = -math.inf if last else design.futility[k]
        if density is None:
            mean = drift * math.sqrt(t)
            efficacy.append(float(stats.norm.sf(c - mean)))
            below = float(stats.norm.cdf(floor - mean))
        else:
            efficacy.append(_crossing_probability(density, previous, t, c, 1, drift))
            below = _below(density, previous, t, floor, drift)
        if not last:
            futility.append(below)
            density = _continue_between(density, previous, t, floor, c, drift)
    stopped_early = [e + f for e, f in zip(efficacy[:-1], futility, strict=True)]
    expected = sum(p * t for p, t in zip(stopped_early, rates[:-1], strict=True)) + (
        1 - sum(stopped_early)
    )
    return Operating(
        rejection=float(sum(efficacy)),
        efficacy_by_look=tuple(efficacy),
        futility_by_look=tuple(futility),
        expected_information=float(expected),
    )


def _below(density: _Density, t_prev: float, t: float, floor: float, drift: float) -> float:
    """P(continued so far and Z_k < floor)."""
    if floor == -math.inf:
        return 0.0
    grid, values, weights = density
    mean, sd = _step(grid, t_prev, t, drift)
    return float(np.sum(stats.norm.cdf((floor - mean) / sd) * values * weights))


def _continue_between(density, t_prev, t, floor, c, drift) -> _Density:
    """The density of Z_k on [floor, c): continuing past a look with a futility bound."""
    grid, weights = _simpson(max(floor, _LOW + drift * math.sqrt(t)), c)
    if density is None:
        values = stats.norm.pdf(grid - drift * math.sqrt(t))
    else:
        previous_grid, previous_values, previous_weights = density
        mean, sd = _step(previous_grid[None, :], t_prev, t, drift)
        kernel = stats.norm.pdf((grid[:, None] - mean) / sd) / sd
        values = kernel @ (previous_values * previous_weights)
    return grid, values, weights


def stagewise_p_value(design: SequentialDesign, *, look: int, z: float) -> float:
    """The p value of the stage-wise ordering (Armitage 1957; Jennison and Turnbull 2000,
    8.4) for a study that stopped at this look (0-based) with this z: the chance under the
    null of stopping for efficacy at an earlier look, or at this look with a z at least as
    large. It is at most alpha exactly when the study stopped for efficacy."""
    rates = design.information_rates
    total = design.cumulative_alpha[look - 1] if look else 0.0
    if look == 0:
        tail = stats.norm.sf(z) if design.sided == 1 else 2 * stats.norm.sf(abs(z))
        return float(tail)
    density = None
    for k in range(look):
        previous = rates[k - 1] if k else 0.0
        density = _continue(density, previous, rates[k], design.efficacy[k], design.sided)
    observed = z if design.sided == 1 else abs(z)
    return float(
        total + _crossing_probability(density, rates[look - 1], rates[look], observed, design.sided)
    )
