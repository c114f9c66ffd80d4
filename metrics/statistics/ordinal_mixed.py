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

from metrics.statistics.crossed import single_threaded_blas


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


def _interval_probability(upper, lower):
    """F(upper), F(lower) and P = F(upper) - F(lower) for the logistic F, infinite bounds
    allowed. P loses every digit when both sit near 1 (a listener far above a threshold):
    there the survival form F(-lower) - F(-upper) is exact."""
    finite_upper, finite_lower = np.isfinite(upper), np.isfinite(lower)
    fu = np.where(finite_upper, special.expit(np.where(finite_upper, upper, 0)), 1.0)
    fl = np.where(finite_lower, special.expit(np.where(finite_lower, lower, 0)), 0.0)
    high = lower > 0
    probability = np.where(
        high,
        special.expit(-np.where(high, lower, 0)) - special.expit(-np.where(high, upper, 0)),
        fu - fl,
    )
    return fu, fl, np.maximum(probability, 1e-300)


class _Problem:
    def __init__(self, levels, X, groups):
        self.y = np.asarray(levels, int)
        self.X = np.asarray(X, float)
        self.groups = np.asarray(groups, int)
        self.n_groups = int(self.groups.max()) + 1
        self.n_thresholds = int(self.y.max())
        self.k = self.X.shape[1]
        self._modes = None  # the listeners' conditional modes at the last evaluation

    def _bounds(self, thresholds, eta_fixed, u):
        """The linear predictors at each answer's upper and lower threshold."""
        padded = np.concatenate([[-np.inf], thresholds, [np.inf]])
        shift = eta_fixed + u[self.groups]
        return padded[self.y + 1] - shift, padded[self.y] - shift

    def _terms(self, thresholds, eta_fixed, u):
        """Per answer: log P, d log P / du and d^2 log P / du^2."""
        upper, lower = self._bounds(thresholds, eta_fixed, u)
        fu, fl, probability = _interval_probability(upper, lower)
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
        g = self.n_groups

        def per_group(v):
            loglik, d1, d2 = self._terms(thresholds, eta_fixed, sigma * v)
            # Each listener's own objective -log p(y_g | v) + v^2 / 2 (convex in v: the
            # cumulative logit is log-concave), its gradient and curvature.
            value = -np.bincount(self.groups, loglik, g) + v * v / 2
            gradient = -sigma * np.bincount(self.groups, d1, g) + v
            curvature = 1 - sigma**2 * np.bincount(self.groups, d2, g)
            return value, gradient, curvature

        # Newton from the last call's modes (the optimiser moves in small steps), each
        # listener's step halved until its own objective goes down: an undamped step
        # overshoots for a listener far from the thresholds and then oscillates.
        v = self._modes if self._modes is not None else np.zeros(g)
        value, gradient, curvature = per_group(v)
        for _ in range(100):
            if np.max(np.abs(gradient)) < 1e-10:
                break
            step = -gradient / curvature
            fraction = np.ones(g)
            for _ in range(40):
                trial = v + fraction * step
                trial_value, trial_gradient, trial_curvature = per_group(trial)
                worse = trial_value > value + 1e-12 * np.abs(value)
                if not worse.any():
                    break
                fraction = np.where(worse, fraction / 2, fraction)
            v, value, gradient, curvature = trial, trial_value, trial_gradient, trial_curvature
        self._modes = v
        return float(2 * value.sum() + np.log(curvature).sum())

    def laplace_gradient(self, thresholds, beta, sigma) -> tuple[float, np.ndarray]:
        """The Laplace deviance and its gradient over (thresholds, beta, log sigma).

        Exact, not by differences: per listener the deviance is 2 Q(v*) + log C(v*), with
        Q the listener's objective and C = Q'' its curvature, at the mode v*. Q's own
        derivatives need none of v*'s movement (v* minimises it); C's do, through
        dv*/dphi = -(d^2 Q / dv dphi) / C. With A and B an answer's upper and lower
        linear predictors, P = F(A) - F(B), G, H, K the first three derivatives of P
        along A = B (each divided by P), the chain needs log P's derivatives up to the
        third along u and the second's split between A and B."""
        value = self.laplace(thresholds, beta, sigma)
        v = self._modes
        g, m = self.n_groups, self.n_thresholds
        shift = self.X @ beta + sigma * v[self.groups]
        padded = np.concatenate([[-np.inf], thresholds, [np.inf]])
        A, B = padded[self.y + 1] - shift, padded[self.y] - shift
        has_a, has_b = np.isfinite(A), np.isfinite(B)
        FA, FB, P = _interval_probability(A, B)
        fA, fB = FA * (1 - FA), FB * (1 - FB)  # density (zero at an infinite bound)
        f1A, f1B = fA * (1 - 2 * FA), fB * (1 - 2 * FB)
        f2A, f2B = fA * (1 - 2 * FA) ** 2 - 2 * fA**2, fB * (1 - 2 * FB) ** 2 - 2 * fB**2
        gA, hB = fA / P, -fB / P  # d log P / dA, d log P / dB
        G = gA + hB
        H = (f1A - f1B) / P
        K = (f2A - f2B) / P
        S = H - G**2  # d^2 log P / du^2
        dS = K - 3 * H * G + 2 * G**3  # (d/dA + d/dB) S; d^3 log P / du^3 = -dS
        dG_dA, dG_dB = f1A / P - G * gA, -f1B / P - G * hB
        dS_dA = f2A / P - H * gA - 2 * G * dG_dA
        dS_dB = -f2B / P - H * hB - 2 * G * dG_dB

        def by_group(values):
            return np.bincount(self.groups, values, g)

        curvature = 1 - sigma**2 * by_group(S)
        dC_dv = sigma**3 * by_group(dS)
        # Per listener (rows) and parameter (columns): d Q / d phi, d^2 Q / dv dphi and
        # d C / d phi. An answer touches its upper (A) and lower (B) threshold.
        upper, lower = np.where(has_a, self.y, m), np.where(has_b, self.y - 1, m)
        weight = sigma * v[self.groups]

        cells = (m + 1) * g
        at_upper, at_lower = self.groups * (m + 1) + upper, self.groups * (m + 1) + lower

        def threshold_sums(at_a, at_b):
            out = np.bincount(at_upper, at_a, cells) + np.bincount(at_lower, at_b, cells)
            return out.reshape(g, m + 1)[:, :m]

        def beta_sums(values):
            return np.stack([by_group(self.X[:, j] * values) for j in range(self.k)], axis=1)

        dQ = np.hstack(
            [
                -threshold_sums(gA, hB),
                beta_sums(G).reshape(g, self.k),
                by_group(weight * G)[:, None],
            ]
        )
        dQv = np.hstack(
            [
                sigma * threshold_sums(dG_dA, dG_dB),
                -sigma * beta_sums(S).reshape(g, self.k),
                (sigma * by_group(G) - sigma**2 * v * by_group(S))[:, None],
            ]
        )
        dC = np.hstack(
            [
                -(sigma**2) * threshold_sums(dS_dA, dS_dB),
                sigma**2 * beta_sums(dS).reshape(g, self.k),
                (-2 * sigma**2 * by_group(S) + sigma**3 * v * by_group(dS))[:, None],
            ]
        )
        dv = -dQv / curvature[:, None]
        total = 2 * dQ + (dC + dC_dv[:, None] * dv) / curvature[:, None]
        return value, total.sum(axis=0)


@single_threaded_blas
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
        value, gradient = problem.laplace_gradient(thresholds, beta, math.exp(log_sigma))
        # From thresholds to (first threshold, log increments): t_j = t_0 + sum_{l<=j} e^p_l.
        from_tail = np.cumsum(gradient[:m][::-1])[::-1]
        chained = np.concatenate([[from_tail[0]], np.exp(params[1:m]) * from_tail[1:]])
        return value, np.concatenate([chained, gradient[m:]])

    start = np.concatenate(
        [[start_thresholds[0]], np.log(np.diff(start_thresholds)), np.zeros(k), [0.0]]
    )
    best = optimize.minimize(
        objective, start, jac=True, method="BFGS", options={"gtol": 1e-6, "maxiter": 1000}
    )
    thresholds, beta, log_sigma = unpack(best.x)
    sigma = math.exp(log_sigma)

    # The Hessian in clmm's own parameters (thresholds, beta, log sigma), by central
    # differences of the exact gradient: 2 gradients a parameter instead of the 4 deviances
    # a pair that differences of the deviance alone would need.
    point = np.concatenate([thresholds, beta, [log_sigma]])
    steps = 1e-4 * np.maximum(np.abs(point), 1e-1)

    def gradient_at(params):
        return problem.laplace_gradient(params[:m], params[m : m + k], math.exp(params[-1]))[1]

    hessian = np.column_stack(
        [
            (gradient_at(point + h * e) - gradient_at(point - h * e)) / (2 * h)
            for h, e in zip(steps, np.eye(len(point)), strict=True)
        ]
    )
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
        # BFGS stops with "precision loss" once the deviance (1e5 for 40,000 answers) no
        # longer resolves its steps; judged as clmm judges it, by the largest gradient.
        converged=bool(best.success or np.max(np.abs(best.jac)) < 1e-4),
    )
