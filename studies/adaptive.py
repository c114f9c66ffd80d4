"""Adaptive pair scheduling for pairwise blocks (plain Python, no Django).

The next pair is the one whose comparison is expected to teach most about the ranking, in
the spirit of active sampling for Bradley-Terry models (ASAP, Mikhailiuk et al. 2021;
Crowd-BT, Chen et al. 2013): strengths are estimated from the answers so far (a
Bradley-Terry fit with a weak Gaussian prior, so it exists from the first answer), every
comparison already given out adds Fisher information p(1 - p) along its pair's
direction, and the pair chosen is the one with the largest expected information gain,
the expected drop in the number of system pairs ranked the wrong way round (the sum over
pairs of Phi(-|beta_a - beta_b| / sd_ab)) that one more comparison of it brings, through
the covariance of the strengths, so a comparison counts for every difference it informs.
Pairs given out but not yet answered count as information to come (so the listeners
in progress do not all get the same pair), with their outcomes still unknown.

An exploration floor keeps every pair heard: a pair with fewer than ``FLOOR_SHARE`` of
the mean comparisons per pair (and at least one) is given out before any other.

Written here rather than imported from metrics (whose Bradley-Terry fit reports the
study): the assignment runs below the analysis layer, and this fit is a scheduling
estimate with a prior, not an inference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy.special import ndtr

PRIOR_VARIANCE = 4.0  # on the log-odds scale: strengths within about +-4 a priori
FLOOR_SHARE = 0.25
NEWTON_STEPS = 25


def strengths(
    systems: Sequence[str], wins: Mapping[tuple[str, str], int]
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mode of the log-strengths (centred by the prior) and the Hessian of the
    negative log posterior there. ``wins[(a, b)]``: times a was preferred to b."""
    index = {s: i for i, s in enumerate(systems)}
    k = len(systems)
    beta = np.zeros(k)
    counts = [
        (index[a], index[b], n) for (a, b), n in wins.items() if n and a in index and b in index
    ]
    hessian = np.eye(k) / PRIOR_VARIANCE
    for _ in range(NEWTON_STEPS):
        gradient = beta / PRIOR_VARIANCE
        hessian = np.eye(k) / PRIOR_VARIANCE
        for winner, loser, n in counts:
            p = 1 / (1 + np.exp(-(beta[winner] - beta[loser])))  # P(winner beats loser)
            direction = np.zeros(k)
            direction[winner], direction[loser] = 1, -1
            gradient -= n * (1 - p) * direction
            hessian += n * p * (1 - p) * np.outer(direction, direction)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return beta, hessian


def next_pair(
    pairs: Sequence[tuple[str, str]],
    given: Mapping[tuple[str, str], int],
    wins: Mapping[tuple[str, str], int],
) -> tuple[str, str]:
    """The pair to give out next. ``given[pair]``: comparisons of the pair given out so
    far (answered or not), keyed as ``pairs`` are; ``wins``: the answers."""
    counts = [given.get(pair, 0) for pair in pairs]
    floor = max(1.0, FLOOR_SHARE * (sum(counts) / len(pairs)))
    starved = [pair for pair, n in zip(pairs, counts, strict=True) if n < floor]
    if starved:
        return min(starved, key=lambda pair: (given.get(pair, 0), pairs.index(pair)))
    systems = sorted({s for pair in pairs for s in pair})
    index = {s: i for i, s in enumerate(systems)}
    beta, _ = strengths(systems, wins)
    # Information from every comparison given out, answered or still to come.
    information = np.eye(len(systems)) / PRIOR_VARIANCE
    closeness = {}
    for pair, n in zip(pairs, counts, strict=True):
        i, j = index[pair[0]], index[pair[1]]
        p = 1 / (1 + np.exp(-(beta[i] - beta[j])))
        closeness[pair] = p * (1 - p)
        direction = np.zeros(len(systems))
        direction[i], direction[j] = 1, -1
        information += n * closeness[pair] * np.outer(direction, direction)
    covariance = np.linalg.inv(information)
    directions = np.zeros((len(pairs), len(systems)))
    for row, (a, b) in enumerate(pairs):
        directions[row, index[a]], directions[row, index[b]] = 1, -1

    def misordered(strength: np.ndarray, cov: np.ndarray) -> float:
        """Expected number of system pairs ranked the wrong way round."""
        spread = np.einsum("pk,kl,pl->p", directions, cov, directions)
        return float(np.sum(ndtr(-np.abs(directions @ strength) / np.sqrt(spread))))

    before = misordered(beta, covariance)

    def gain(pair) -> float:
        """The expected cut in misordering from one more comparison of this pair, over its
        two outcomes (each moves the strengths by one Newton step)."""
        d = directions[pairs.index(pair)]
        p = 1 / (1 + np.exp(-(d @ beta)))
        shared = covariance @ d
        after = covariance - np.outer(shared, shared) * closeness[pair] / (
            1 + closeness[pair] * d @ shared
        )
        move = after @ d
        expected = p * misordered(beta + move * (1 - p), after) + (1 - p) * misordered(
            beta - move * p, after
        )
        return before - expected

    return max(pairs, key=lambda pair: (gain(pair), -given.get(pair, 0)))
