"""A cumulative-logit model with a listener random intercept, by the Laplace approximation.

The analogue of R's ``ordinal::clmm(rating ~ system + (1 | listener))`` (Christensen 2019,
"A tutorial on fitting cumulative link mixed models with clmm2"): the ordinal robustness
check on ratings, which does not assume equal steps between scale points and, unlike a
fixed-effects ordinal model, does not treat one listener's forty ratings as forty
independent people. Parameterised as clmm:

    logit P(Y <= j) = threshold_j - x'beta - u_listener,   u ~ N(0, sigma^2),

so a positive coefficient means higher ratings. With one grouping factor the Laplace
approximation separates by listener: each listener's conditional mode is a one-dimensional
Newton iteration, all listeners at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats

from metrics.statistics.mixed import _hessian


@dataclass(frozen=True)
class OrdinalMixedFit:
    coefficients: np.ndarray  # (k,)
    standard_errors: np.ndarray  # (k,)
    p_values: np.ndarray  # (k,) Wald, two-sided
    thresholds: np.ndarray  # (levels - 1,)
    threshold_standard_errors: np.ndarray
    listener_sd: float
    log_likelihood: float  # Laplace, as clmm's logLik
    converged: bool


def _logistic_density(x):
    f = special.expit(x)
    return f * (1 - f)


class _Problem:
    def __init__(self, levels, X, groups):
        self.y = np.asarray(levels, int)
        self.X = np.asarray(X, float)
        self.groups = np.asarray(groups, int)
        self.n_groups = int(self.groups.max()) + 1
        self.n_thresholds = int(self.y.max())
        self.k = self.X.shape[1]

    def _bounds(self, thresholds, eta_fixed, u):
        """The linear predictors at each answer's upper and lower threshold."""
        padded = np.concatenate([[-np.inf], thresholds, [np.inf]])
        shift = eta_fixed + u[self.groups]
        return padded[self.y + 1] - shift, padded[self.y] - shift

    def _terms(self, thresholds, eta_fixed, u):
        upper, lower = self._bounds(thresholds, eta_fixed, u)
        fu = np.where(np.isfinite(upper), special.expit(upper), 1.0)
        fl = np.where(np.isfinite(lower), special.expit(lower), 0.0)
        probability = np.maximum(fu - fl, 1e-300)
        du = np.where(np.isfinite(upper), _logistic_density(upper), 0.0)
        dl = np.where(np.isfinite(lower), _logistic_density(lower), 0.0)
        ddu = np.where(np.isfinite(upper), du * (1 - 2 * fu), 0.0)
        ddl = np.where(np.isfinite(lower), dl * (1 - 2 * fl), 0.0)
        first = (du - dl) / probability  # d log P / d(-u)
        loglik = np.log(probability)
        # d log P / du = -first; d^2 log P / du^2 = (ddu - ddl) / P - first^2
        second = (ddu - ddl) / probability - first**2
        return loglik, -first, second

    def laplace(self, thresholds, beta, sigma) -> float:
        """-2 log-likelihood, Laplace-approximated over each listener's intercept."""
        eta_fixed = self.X @ beta
        v = np.zeros(self.n_groups)  # standardised: u = sigma v
        for _ in range(50):
            _, d1, d2 = self._terms(thresholds, eta_fixed, sigma * v)
            gradient = sigma * np.bincount(self.groups, d1, self.n_groups) - v
            curvature = sigma**2 * np.bincount(self.groups, d2, self.n_groups) - 1
            step = -gradient / curvature
            v = v + step
            if np.max(np.abs(step)) < 1e-12:
                break
        loglik, _, d2 = self._terms(thresholds, eta_fixed, sigma * v)
        per_group = np.bincount(self.groups, loglik, self.n_groups)
        information = 1 - sigma**2 * np.bincount(self.groups, d2, self.n_groups)
        return float(-2 * per_group.sum() + v @ v + np.log(information).sum())


def fit_cumulative_logit_mixed(levels, X, groups) -> OrdinalMixedFit:
    """levels: (n,) ordered codes 0..m-1, every code present; X: (n, k), no constant;
    groups: (n,) listener codes 0..g-1, at least two listeners."""
    problem = _Problem(levels, X, groups)
    m, k = problem.n_thresholds, problem.k
    counts = np.bincount(problem.y, minlength=m + 1)
    start_thresholds = special.logit(np.cumsum(counts)[:-1] / counts.sum())

    def unpack(params):
        # Ordered thresholds: the first, then log increments.
        thresholds = np.cumsum(np.concatenate([[params[0]], np.exp(params[1:m])]))
        return thresholds, params[m : m + k], params[m + k]

    def objective(params):
        thresholds, beta, log_sigma = unpack(params)
        return problem.laplace(thresholds, beta, math.exp(log_sigma))

    start = np.concatenate(
        [[start_thresholds[0]], np.log(np.diff(start_thresholds)), np.zeros(k), [0.0]]
    )
    best = optimize.minimize(
        objective, start, method="BFGS", options={"gtol": 1e-7, "maxiter": 1000}
    )
    thresholds, beta, log_sigma = unpack(best.x)
    sigma = math.exp(log_sigma)

    def natural(params):
        # The Hessian in clmm's own parameters: thresholds, beta, log sigma.
        t, b, s = params[:m], params[m : m + k], params[m + k]
        if np.any(np.diff(t) <= 0):
            return np.inf
        return problem.laplace(t, b, math.exp(s))

    point = np.concatenate([thresholds, beta, [log_sigma]])
    hessian = _hessian(natural, point, 1e-3 * np.maximum(np.abs(point), 1e-1))
    covariance = 2 * np.linalg.pinv((hessian + hessian.T) / 2)
    se = np.sqrt(np.maximum(np.diag(covariance), 0))
    beta_se = se[m : m + k]
    # A zero SE means a flat Hessian (degenerate data): no test rather than z = inf.
    z = np.divide(beta, beta_se, out=np.full(k, np.nan), where=beta_se > 0)
    return OrdinalMixedFit(
        coefficients=beta,
        standard_errors=se[m : m + k],
        p_values=2 * stats.norm.sf(np.abs(z)),
        thresholds=thresholds,
        threshold_standard_errors=se[:m],
        listener_sd=sigma,
        log_likelihood=-best.fun / 2,
        converged=bool(best.success),
    )
