"""A linear mixed model with crossed random intercepts, fitted by REML.

Listening-test ratings are clustered twice over: by listener (some rate everything
higher) and by clip (some clips of a system are better than others). Treating 40 answers
from one listener as 40 independent observations makes every interval far too narrow,
so the headline intervals and system comparisons come from

    rating = X beta + listener effect + clip effect + noise,
    listener effect ~ N(0, s_l^2), clip effect ~ N(0, s_c^2), noise ~ N(0, s^2).

statsmodels' MixedLM fits crossed effects only as variance components inside a single
group, which builds dense n x q design matrices and is slow at study scale. This module
instead follows lme4's formulation (Bates, Maechler, Bolker & Walker 2015, "Fitting
linear mixed-effects models using lme4", JSS 67(1), section 3): the relative covariance
factor Lambda(theta), the sparse-structured Cholesky factor of Lambda'Z'Z Lambda + I, and
the profiled REML criterion, minimised over theta >= 0 with scipy. Everything is q x q
where q is the number of listeners plus clips, never n x n.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize, stats


@dataclass(frozen=True)
class MixedModelFit:
    coefficients: np.ndarray  # (p,)
    covariance: np.ndarray  # (p, p), of the coefficient estimates
    residual_variance: float
    group_variances: dict[str, float]  # grouping factor name -> variance of its intercepts
    reml_criterion: float  # -2 * REML log-likelihood, as lme4 prints "REML criterion"
    n_observations: int
    group_levels: dict[str, int]

    @property
    def standard_errors(self) -> np.ndarray:
        return np.sqrt(np.diag(self.covariance))

    def contrast(self, weights, *, confidence: float = 0.95) -> Contrast:
        """A Wald test of weights @ beta = 0, with a normal-theory interval."""
        c = np.asarray(weights, float)
        estimate = float(c @ self.coefficients)
        se = float(math.sqrt(c @ self.covariance @ c))
        z = estimate / se if se > 0 else 0.0
        q = float(stats.norm.ppf(0.5 + confidence / 2))
        p = float(2 * stats.norm.sf(abs(z)))
        return Contrast(estimate, se, estimate - q * se, estimate + q * se, z, p, confidence)

    def wald_test(self, contrast_matrix) -> WaldTest:
        """Joint Wald chi-square test that every row of contrast_matrix @ beta is zero."""
        c = np.atleast_2d(np.asarray(contrast_matrix, float))
        values = c @ self.coefficients
        covariance = c @ self.covariance @ c.T
        chi2 = float(values @ np.linalg.solve(covariance, values))
        df = c.shape[0]
        return WaldTest(chi2, df, float(stats.chi2.sf(chi2, df)))


@dataclass(frozen=True)
class Contrast:
    estimate: float
    standard_error: float
    low: float
    high: float
    z: float
    p_value: float
    confidence: float


@dataclass(frozen=True)
class WaldTest:
    chi2: float
    df: int
    p_value: float


def _indicator_counts(codes: list[np.ndarray], sizes: list[int]) -> np.ndarray:
    """Z'Z for stacked indicator matrices, built from co-occurrence counts."""
    q = sum(sizes)
    offsets = np.cumsum([0, *sizes[:-1]])
    ztz = np.zeros((q, q))
    for i, (ci, oi) in enumerate(zip(codes, offsets, strict=True)):
        for j, (cj, oj) in enumerate(zip(codes, offsets, strict=True)):
            if j < i:
                continue
            np.add.at(ztz, (ci + oi, cj + oj), 1.0)
            if j > i:
                ztz[oj : oj + sizes[j], oi : oi + sizes[i]] = ztz[
                    oi : oi + sizes[i], oj : oj + sizes[j]
                ].T
    return ztz


def _sum_by(codes: np.ndarray, size: int, values: np.ndarray) -> np.ndarray:
    out = np.zeros((size, *values.shape[1:]))
    np.add.at(out, codes, values)
    return out


def fit_crossed_intercepts(y, X, groups: dict[str, np.ndarray]) -> MixedModelFit:
    """REML fit of y ~ X + (1 | g) for every grouping factor g in ``groups``.

    y: (n,) responses; X: (n, p) fixed-effects design of full column rank;
    groups: name -> (n,) integer codes 0..levels-1. A factor with fewer than two levels
    carries no information about its variance and must be left out by the caller.
    """
    y = np.asarray(y, float)
    X = np.asarray(X, float)
    n, p = X.shape
    if n <= p:
        raise ValueError(f"{n} observations cannot estimate {p} coefficients and a variance")
    names = list(groups)
    codes = [np.asarray(groups[name], int) for name in names]
    sizes = [int(c.max()) + 1 for c in codes]
    ztz = _indicator_counts(codes, sizes)  # (q, q)
    ztx = np.vstack([_sum_by(c, s, X) for c, s in zip(codes, sizes, strict=True)])  # (q, p)
    zty = np.concatenate([_sum_by(c, s, y) for c, s in zip(codes, sizes, strict=True)])
    xtx, xty, yty = X.T @ X, X.T @ y, float(y @ y)
    q = ztz.shape[0]
    identity = np.eye(q)

    def solve(theta: np.ndarray):
        lam = np.repeat(theta, sizes)  # the diagonal of Lambda
        a = lam[:, None] * ztz * lam[None, :] + identity
        chol = linalg.cholesky(a, lower=True)
        cu = linalg.solve_triangular(chol, lam * zty, lower=True)
        rzx = linalg.solve_triangular(chol, lam[:, None] * ztx, lower=True)
        rxtrx = xtx - rzx.T @ rzx
        rx = linalg.cholesky(rxtrx, lower=False)
        cbeta = linalg.solve_triangular(rx, xty - rzx.T @ cu, trans="T", lower=False)
        beta = linalg.solve_triangular(rx, cbeta, lower=False)
        penalised_rss = max(yty - cu @ cu - cbeta @ cbeta, 1e-300)
        logdet = 2 * np.log(np.diag(chol)).sum() + 2 * np.log(np.diag(rx)).sum()
        deviance = logdet + (n - p) * (1 + math.log(2 * math.pi * penalised_rss / (n - p)))
        return deviance, beta, penalised_rss, rx

    start = np.ones(len(names))
    if names:
        best = optimize.minimize(
            lambda t: solve(t)[0],
            start,
            # Derivative-free like lme4's default (bobyqa): the criterion is cheap and
            # finite-difference gradients stall short of the optimum near a boundary.
            method="Nelder-Mead",
            bounds=[(0.0, None)] * len(names),
            options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000},
        )
        theta = best.x
    else:
        theta = start
    deviance, beta, penalised_rss, rx = solve(theta)
    sigma2 = penalised_rss / (n - p)
    rx_inverse = linalg.solve_triangular(rx, np.eye(p), lower=False)
    covariance = sigma2 * rx_inverse @ rx_inverse.T
    return MixedModelFit(
        coefficients=beta,
        covariance=covariance,
        residual_variance=float(sigma2),
        group_variances={name: float(sigma2 * t * t) for name, t in zip(names, theta, strict=True)},
        reml_criterion=float(deviance),
        n_observations=n,
        group_levels=dict(zip(names, sizes, strict=True)),
    )
