"""A binary (logit) mixed model with crossed random intercepts, by the Laplace approximation.

The analogue of lme4's ``glmer(cbind(y, m - y) ~ X + (1 | listener) + (1 | clip),
family = binomial)``. A Turing answer ("human" or not), a pairwise preference and a style
identification are yes/no answers; each listener gives many and each clip gets many, and
both vary. Pooling them into one binomial test treats every answer as independent, which at
nominal 5% rejects a true 50% share in a quarter to a half of studies (measured in
``benchmarks/inference_calibration.py``). This model carries both sources of variation.

The fit follows lme4 (Bates et al. 2015, JSS 67(1); ``glmer`` with ``nAGQ = 1``): for
given variance parameters theta and coefficients beta, penalised iteratively reweighted
least squares finds the conditional mode of the spherical random effects u; the Laplace
deviance is the binomial deviance plus |u|^2 plus log|Lambda'Z'WZ Lambda + I|. A first
stage optimises theta with beta found jointly with u (lme4's ``nAGQ = 0``), a second
optimises theta and beta together. Standard errors come from the Hessian of the Laplace
deviance over (theta, beta), as lme4's ``vcov(use.hessian = TRUE)``, the default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats

from metrics.statistics.crossed import (
    InterceptFactors,
    factor,
    gauss_hermite_logistic_mean,
    single_threaded_blas,
)
from metrics.statistics.mixed import SINGULAR_THETA, _hessian

# A logit beyond this means every answer went one way (complete separation): the estimate
# is running off to infinity and its interval means nothing.
SEPARATED_LOGIT = 10.0


@dataclass(frozen=True)
class LogitContrast:
    estimate: float  # on the logit scale
    standard_error: float
    low: float
    high: float
    z: float  # the Wald statistic; compared with t(df) where df is given
    p_value: float
    confidence: float
    df: float | None = None


@dataclass(frozen=True)
class BinaryMixedFit:
    coefficients: np.ndarray  # (p,), logits
    covariance: np.ndarray  # (p, p)
    group_variances: dict[str, float]  # on the logit scale
    log_likelihood: float  # Laplace approximation, with the binomial constants (R's logLik)
    n_observations: int
    group_levels: dict[str, int]
    singular: tuple[str, ...]  # factors whose variance was estimated at zero
    separated: bool  # some coefficient ran off (every answer of a cell alike)
    converged: bool

    @property
    def standard_errors(self) -> np.ndarray:
        return np.sqrt(np.diag(self.covariance))

    @property
    def random_variance(self) -> float:
        return float(sum(self.group_variances.values()))

    def contrast(
        self, weights, *, null: float = 0.0, confidence: float = 0.95, df: float | None = None
    ) -> LogitContrast:
        """Wald test of weights @ beta = null (on the logit scale), with its interval: z as
        glmer prints it, or t on ``df`` degrees of freedom for few listeners or clips."""
        c = np.asarray(weights, float)
        estimate = float(c @ self.coefficients)
        se = float(math.sqrt(max(c @ self.covariance @ c, 0.0)))
        z = (estimate - null) / se if se > 0 else 0.0
        reference = stats.t(df) if df is not None else stats.norm()
        q = float(reference.ppf(0.5 + confidence / 2))
        return LogitContrast(
            estimate,
            se,
            estimate - q * se,
            estimate + q * se,
            z,
            float(2 * reference.sf(abs(z))),
            confidence,
            df,
        )

    def conditional_share(self, logit: float) -> float:
        """The share for a typical listener and clip (random effects at zero)."""
        return float(special.expit(logit))

    def population_share(self, logit: float) -> float:
        """The share averaged over listeners and clips: what a new study would observe."""
        return gauss_hermite_logistic_mean(logit, self.random_variance)

    def logit_for_population_share(self, share: float) -> float:
        """The logit whose population-averaged share is ``share`` (to test against chance)."""
        if self.random_variance <= 0:
            return float(special.logit(share))
        return float(
            optimize.brentq(lambda eta: self.population_share(eta) - share, -30, 30, xtol=1e-12)
        )


class _Problem:
    def __init__(self, successes, trials, X, groups):
        self.y = np.asarray(successes, float)
        self.m = np.ones_like(self.y) if trials is None else np.asarray(trials, float)
        self.X = np.asarray(X, float)
        self.n, self.p = self.X.shape
        self.factors = InterceptFactors(groups)
        # log C(m, y): constant in the parameters, kept so log_likelihood is R's logLik.
        self.constant = float(
            (
                special.gammaln(self.m + 1)
                - special.gammaln(self.y + 1)
                - special.gammaln(self.m - self.y + 1)
            ).sum()
        )

    def minus_two_loglik(self, eta) -> float:
        # log P(y | eta) = y eta - m log(1 + e^eta) + log C(m, y)
        return -2 * float(self.y @ eta - self.m @ np.logaddexp(0, eta) + self.constant)

    def mode(self, theta, beta, u, *, joint: bool):
        """Penalised IRLS: the conditional mode of u (and of beta too when joint).

        Returns (laplace deviance, beta, u)."""
        scale = self.factors.level_scale(theta)

        def eta_of(b, v):
            return self.X @ b + self.factors.times(scale * v) if self.factors.q else self.X @ b

        def objective(b, v):
            return self.minus_two_loglik(eta_of(b, v)) + float(v @ v)

        current = objective(beta, u)
        chol = None
        for _ in range(60):
            eta = eta_of(beta, u)
            mu = special.expit(eta)
            w = self.m * mu * (1 - mu)
            residual = self.y - self.m * mu
            chol, _ = factor(self.factors, theta, w)
            grad_u = scale * self.factors.transpose_times(residual) - u
            if joint:
                g = scale[:, None] * self.factors.transpose_times(w[:, None] * self.X)  # (q, p)
                a_inv_g = chol.solve(g) if self.factors.q else g
                schur = self.X.T @ (w[:, None] * self.X) - g.T @ a_inv_g
                rhs = self.X.T @ residual - a_inv_g.T @ grad_u
                step_beta = np.linalg.solve(schur, rhs)
                step_u = chol.solve(grad_u - g @ step_beta) if self.factors.q else grad_u
            else:
                step_beta = np.zeros_like(beta)
                step_u = chol.solve(grad_u)
            fraction = 1.0
            while True:
                trial_beta, trial_u = beta + fraction * step_beta, u + fraction * step_u
                value = objective(trial_beta, trial_u)
                if value <= current + 1e-12 * abs(current) or fraction < 1e-6:
                    break
                fraction /= 2
            done = abs(current - value) < 1e-12 * (abs(current) + 1)
            beta, u, current = trial_beta, trial_u, value
            if done and np.max(np.abs(step_u), initial=0) < 1e-7:
                break
        # The log-determinant at the mode itself.
        eta = eta_of(beta, u)
        mu = special.expit(eta)
        chol, _ = factor(self.factors, theta, self.m * mu * (1 - mu))
        return current + chol.logdet, beta, u


@single_threaded_blas
def fit_binary_mixed(successes, X, groups: dict[str, np.ndarray], *, trials=None) -> BinaryMixedFit:
    """Laplace fit of cbind(successes, trials - successes) ~ X + (1 | g) for each g.

    successes: (n,) counts (0/1 for single answers); trials: (n,) or None for all 1;
    X: (n, p) of full column rank; groups: name -> (n,) integer codes, each with >= 2 levels.
    """
    problem = _Problem(successes, trials, X, groups)
    k, p = len(problem.factors.names), problem.p
    start_u = np.zeros(problem.factors.q)
    state = {"u": start_u, "beta": np.zeros(p)}

    def stage_one(theta):
        value, beta, u = problem.mode(theta, state["beta"], state["u"], joint=True)
        state["beta"], state["u"] = beta, u
        return value

    theta = np.ones(k)
    if k:
        # Derivative-free with quadratic models, as lme4's BOBYQA (Nelder-Mead needed about
        # twice the evaluations, each a penalised IRLS run).
        first = optimize.minimize(
            stage_one,
            theta,
            method="COBYQA",
            bounds=[(0.0, None)] * k,
            options={"initial_tr_radius": 0.5, "final_tr_radius": 1e-4, "maxfev": 2000},
        )
        theta = first.x
    _, beta, u = problem.mode(theta, state["beta"], state["u"], joint=True)
    state["u"] = u

    def stage_two(params):
        t, b = np.abs(params[:k]), params[k:]
        value, _, mode_u = problem.mode(t, b, state["u"], joint=False)
        state["u"] = mode_u
        return value

    # The same for theta and beta together: on 40,000 answers COBYQA reached L-BFGS-B's
    # optimum (with 3-point gradients) to 1e-7 in half the evaluations.
    second = optimize.minimize(
        stage_two,
        np.concatenate([theta, beta]),
        method="COBYQA",
        bounds=[(0.0, None)] * k + [(None, None)] * p,
        options={"initial_tr_radius": 0.1, "final_tr_radius": 1e-6, "maxfev": 4000},
    )
    params = second.x
    theta, beta = params[:k], params[k:]
    deviance = stage_two(params)
    singular = tuple(
        name for name, t in zip(problem.factors.names, theta, strict=True) if t < SINGULAR_THETA
    )
    separated = bool(np.any(np.abs(beta) > SEPARATED_LOGIT))
    covariance = _coefficient_covariance(stage_two, params, k, theta)
    return BinaryMixedFit(
        coefficients=beta,
        covariance=covariance,
        group_variances={
            name: float(t * t) for name, t in zip(problem.factors.names, theta, strict=True)
        },
        log_likelihood=-deviance / 2,
        n_observations=problem.n,
        group_levels=dict(zip(problem.factors.names, problem.factors.sizes, strict=True)),
        singular=singular,
        separated=separated,
        converged=bool(second.success),
    )


def _coefficient_covariance(deviance, params, k, theta) -> np.ndarray:
    """beta's block of 2 H^-1, H the Hessian of the Laplace deviance over (theta, beta).

    A theta at zero is held there: the boundary has no curvature to read."""
    free = [i for i in range(k) if theta[i] >= SINGULAR_THETA] + list(range(k, len(params)))
    point = params[free]

    def restricted(v):
        full = np.array(params, float)
        full[free] = v
        return deviance(full)

    steps = 1e-3 * np.maximum(np.abs(point), 1e-1)
    # One central-difference pass: Richardson's second pass changed the SEs of the R
    # reference fits (cbpp, the crossed Turing data) by less than 1e-6 at twice the cost.
    hessian = _hessian(restricted, point, steps, richardson=False)
    inverse = 2 * np.linalg.pinv((hessian + hessian.T) / 2)
    n_theta = len(free) - (len(params) - k)
    return inverse[n_theta:, n_theta:]
