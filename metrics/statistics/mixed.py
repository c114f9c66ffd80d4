"""A linear mixed model with crossed random intercepts, fitted by REML, with Satterthwaite
degrees of freedom.

Listening-test ratings are clustered twice over: by listener (some rate everything
higher) and by clip (some clips of a system are better than others). Treating 40 answers
from one listener as 40 independent observations makes every interval far too narrow,
so the headline intervals and system comparisons come from

    rating = X beta + listener effect + clip effect [+ listener:system effect] + noise,

each effect a normal intercept per level. The fit follows lme4's formulation (Bates,
Maechler, Bolker & Walker 2015, JSS 67(1), section 3): the relative covariance factor
Lambda(theta), a factor of Lambda'Z'Z Lambda + I (see ``crossed``), and the profiled REML
criterion, minimised over theta >= 0.

With three clips per system a contrast between systems rests on a handful of clips, and a
normal (z) reference is far too optimistic. Every contrast therefore carries Satterthwaite
degrees of freedom as R's lmerTest computes them (Kuznetsova, Brockhoff & Christensen 2017,
JSS 82(13), section 3): the variance parameters are (theta, sigma), their asymptotic
covariance is twice the inverse Hessian of the REML deviance, and the gradient of the
contrast's variance with respect to them gives nu = 2 Var^2 / (g' A g).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from metrics.statistics.crossed import InterceptFactors, factor, single_threaded_blas

# A variance parameter this close to zero (relative to the residual SD) is a boundary fit:
# lme4 calls such a fit singular.
SINGULAR_THETA = 1e-4


@dataclass(frozen=True)
class Contrast:
    estimate: float
    standard_error: float
    low: float
    high: float
    statistic: float  # t, or z where no degrees of freedom could be had
    df: float | None  # Satterthwaite; None means a normal reference was used
    p_value: float
    confidence: float

    @property
    def method(self) -> str:
        return "Satterthwaite t" if self.df is not None else "Wald z"


@dataclass(frozen=True)
class FTest:
    f: float
    numerator_df: int
    denominator_df: float | None
    p_value: float

    @property
    def method(self) -> str:
        return "Satterthwaite F" if self.denominator_df is not None else "Wald chi-square / df"


@dataclass(frozen=True)
class MixedModelFit:
    coefficients: np.ndarray  # (p,)
    covariance: np.ndarray  # (p, p), of the coefficient estimates
    residual_variance: float
    group_variances: dict[str, float]  # grouping factor name -> variance of its intercepts
    reml_criterion: float  # -2 * REML log-likelihood, as lme4 prints "REML criterion"
    n_observations: int
    group_levels: dict[str, int]
    # For Satterthwaite: d covariance / d varpar (one (p, p) slice per free variance
    # parameter) and the asymptotic covariance of those parameters. None: no df.
    covariance_gradients: np.ndarray | None = None  # (m, p, p)
    varpar_covariance: np.ndarray | None = None  # (m, m)
    singular: tuple[str, ...] = ()  # factors whose variance was estimated at zero

    @property
    def standard_errors(self) -> np.ndarray:
        return np.sqrt(np.diag(self.covariance))

    def degrees_of_freedom(self, weights) -> float | None:
        if self.covariance_gradients is None:
            return None
        c = np.asarray(weights, float)
        variance = float(c @ self.covariance @ c)
        gradient = np.einsum("i,mij,j->m", c, self.covariance_gradients, c)
        spread = float(gradient @ self.varpar_covariance @ gradient)
        if spread <= 0 or variance <= 0:
            return None
        return 2 * variance**2 / spread

    def contrast(self, weights, *, confidence: float = 0.95) -> Contrast:
        """weights @ beta, with a t interval and test on Satterthwaite's degrees of freedom."""
        c = np.asarray(weights, float)
        estimate = float(c @ self.coefficients)
        se = float(math.sqrt(max(c @ self.covariance @ c, 0.0)))
        df = self.degrees_of_freedom(c)
        reference = stats.t(df) if df is not None else stats.norm()
        statistic = estimate / se if se > 0 else 0.0
        q = float(reference.ppf(0.5 + confidence / 2))
        p = float(2 * reference.sf(abs(statistic)))
        return Contrast(
            estimate, se, estimate - q * se, estimate + q * se, statistic, df, p, confidence
        )

    def f_test(self, contrast_matrix) -> FTest:
        """Joint test that every row of contrast_matrix @ beta is zero, with lmerTest's
        Satterthwaite denominator degrees of freedom (its ``contestMD``)."""
        L = np.atleast_2d(np.asarray(contrast_matrix, float))
        covariance = L @ self.covariance @ L.T
        eigenvalues, vectors = np.linalg.eigh(covariance)
        keep = eigenvalues > 1e-10 * max(eigenvalues.max(), 1e-300)
        eigenvalues, vectors = eigenvalues[keep], vectors[:, keep]
        rank = int(keep.sum())
        rotated = vectors.T @ L  # (rank, p)
        f = float(((rotated @ self.coefficients) ** 2 / eigenvalues).sum() / rank)
        nus = [self.degrees_of_freedom(row) for row in rotated]
        if any(nu is None for nu in nus):
            return FTest(f, rank, None, float(stats.chi2.sf(f * rank, rank)))
        nus = np.array(nus)
        if rank == 1 or np.all(np.abs(nus - nus[0]) < 1e-8):
            ddf = float(nus[0])
        elif np.any(nus <= 2):
            ddf = 2.0
        else:
            e = float((nus / (nus - 2)).sum())
            ddf = 2 * e / (e - rank)
        return FTest(f, rank, ddf, float(stats.f.sf(f, rank, ddf)))


class _Problem:
    """The pieces of the REML criterion that do not depend on theta."""

    def __init__(self, y, X, groups):
        self.y = np.asarray(y, float)
        self.X = np.asarray(X, float)
        self.n, self.p = self.X.shape
        self.factors = InterceptFactors(groups)
        self.zty = self.factors.transpose_times(self.y)
        self.ztx = self.factors.transpose_times(self.X)
        self.xtx, self.xty, self.yty = self.X.T @ self.X, self.X.T @ self.y, float(self.y @ self.y)

    def solve(self, theta):
        """For relative SDs theta: log|A|, log|M|, beta, the penalised RSS and M, where
        M = X'X - RZX'RZX is sigma^-2 times the inverse covariance of beta."""
        chol, scale = factor(self.factors, theta)
        lzy, lzx = scale * self.zty, scale[:, None] * self.ztx
        solved = chol.solve(np.column_stack([lzy, lzx]))
        sy, sx = solved[:, 0], solved[:, 1:]
        m = self.xtx - lzx.T @ sx
        m = (m + m.T) / 2
        rhs = self.xty - lzx.T @ sy
        sign, logdet_m = np.linalg.slogdet(m)
        if sign <= 0:
            raise np.linalg.LinAlgError("the fixed effects are not estimable")
        beta = np.linalg.solve(m, rhs)
        penalised_rss = self.yty - lzy @ sy - beta @ m @ beta
        return chol.logdet, logdet_m, beta, penalised_rss, m

    def profiled_deviance(self, theta) -> float:
        return self.profiled_from(self.solve(theta))

    def profiled_from(self, solved) -> float:
        """The profiled REML criterion from solve()'s pieces."""
        logdet_a, logdet_m, _, rss, _ = solved
        k = self.n - self.p
        return logdet_a + logdet_m + k * (1 + math.log(2 * math.pi * max(rss, 1e-300) / k))

    def deviance(self, theta, sigma) -> float:
        """-2 REML log-likelihood at (theta, sigma), not profiled."""
        logdet_a, logdet_m, _, rss, _ = self.solve(theta)
        k = self.n - self.p
        return logdet_a + logdet_m + k * math.log(2 * math.pi * sigma**2) + rss / sigma**2

    def covariance(self, theta, sigma) -> np.ndarray:
        return sigma**2 * np.linalg.inv(self.solve(theta)[4])


@single_threaded_blas
def fit_crossed_intercepts(
    y, X, groups: dict[str, np.ndarray], *, degrees_of_freedom: bool = True
) -> MixedModelFit:
    """REML fit of y ~ X + (1 | g) for every grouping factor g in ``groups``.

    y: (n,) responses; X: (n, p) fixed-effects design of full column rank;
    groups: name -> (n,) integer codes 0..levels-1. A factor with fewer than two levels
    carries no information about its variance and must be left out by the caller.
    Raises ValueError when the responses leave no residual variation to estimate.
    """
    problem = _Problem(y, X, groups)
    n, p = problem.n, problem.p
    if n <= p:
        raise ValueError(f"{n} observations cannot estimate {p} coefficients and a variance")
    names = problem.factors.names
    theta = np.ones(len(names))
    if names:
        best = optimize.minimize(
            problem.profiled_deviance,
            theta,
            # Derivative-free with a quadratic model, like lme4's default (BOBYQA): finite-
            # difference gradients stall short of the optimum near a boundary, and
            # Nelder-Mead needed five times the evaluations (260 against 47 measured on
            # 1,000 listeners x 200 clips, the same optimum to 1e-11).
            method="COBYQA",
            bounds=[(0.0, None)] * len(names),
            options={"initial_tr_radius": 0.5, "final_tr_radius": 1e-8, "maxfev": 4000},
        )
        theta = best.x
    solved = problem.solve(theta)
    _, _, beta, rss, m = solved
    sigma2 = rss / (n - p)
    if not sigma2 > 1e-12 * max(float(np.var(problem.y)), 1e-300) or sigma2 <= 0:
        raise ValueError("the responses leave no residual variation (every answer fits exactly)")
    deviance = problem.profiled_from(solved)
    covariance = sigma2 * np.linalg.inv(m)
    singular = tuple(name for name, t in zip(names, theta, strict=True) if t < SINGULAR_THETA)
    gradients = varpar_covariance = None
    if degrees_of_freedom:
        gradients, varpar_covariance = _satterthwaite_pieces(problem, theta, math.sqrt(sigma2))
    return MixedModelFit(
        coefficients=beta,
        covariance=covariance,
        residual_variance=float(sigma2),
        group_variances={name: float(sigma2 * t * t) for name, t in zip(names, theta, strict=True)},
        reml_criterion=float(deviance),
        n_observations=n,
        group_levels=dict(zip(names, problem.factors.sizes, strict=True)),
        covariance_gradients=gradients,
        varpar_covariance=varpar_covariance,
        singular=singular,
    )


def _satterthwaite_pieces(problem: _Problem, theta, sigma):
    """d Var(beta) / d varpar and 2 H^-1, for varpar = (free theta..., sigma).

    A theta estimated at zero is held there (a boundary fit has no Hessian in that
    direction): the contrast is then judged as in the simpler model the fit reduced to.
    """
    free = [i for i, t in enumerate(theta) if t >= SINGULAR_THETA]
    point = np.array([*(theta[i] for i in free), sigma])

    def unpack(v):
        full = np.array(theta, float)
        full[free] = v[:-1]
        return full, v[-1]

    def deviance(v):
        t, s = unpack(v)
        return problem.deviance(t, s)

    def covariance(v):
        t, s = unpack(v)
        return problem.covariance(t, s)

    # Relative steps of 1%, Richardson-extrapolated: the deviance carries rounding noise of
    # about 1e-10, which steps of 1e-4 would amplify into the second derivatives (measured
    # on lmerTest's ham data: steps of 1e-2, 1e-3, 1e-4 gave 240.0000, 240.004, 240.38 df
    # against lmerTest's 239.9997).
    steps = 1e-2 * np.maximum(np.abs(point), 1e-1)
    hessian = _hessian(deviance, point, steps)
    try:
        varpar_covariance = 2 * np.linalg.inv(hessian)
    except np.linalg.LinAlgError:
        return None, None
    if not np.all(np.isfinite(varpar_covariance)):
        return None, None
    gradients = np.stack([_derivative(covariance, point, i, steps[i]) for i in range(len(point))])
    return gradients, varpar_covariance


def _derivative(function, point, i, h):
    """Central difference in coordinate i, Richardson-extrapolated once."""
    e = np.eye(len(point))[i]

    def central(step):
        return (function(point + step * e) - function(point - step * e)) / (2 * step)

    return (4 * central(h / 2) - central(h)) / 3


def _hessian(function, point, steps, *, richardson: bool = True) -> np.ndarray:
    """Central-difference Hessian, Richardson-extrapolated once (steps h and h/2) unless
    told otherwise.

    The mixed terms reuse the one-coordinate steps: with f(x +- h_i e_i) already known, only
    f(x + h_i e_i + h_j e_j) and f(x - h_i e_i - h_j e_j) are new, 2 evaluations a pair
    instead of 4 (the error is O(h^2) either way)."""

    def estimate(h):
        k = len(point)
        out = np.zeros((k, k))
        f0 = function(point)
        steps = [np.eye(k)[i] * h[i] for i in range(k)]
        up = [function(point + e) for e in steps]
        down = [function(point - e) for e in steps]
        for i in range(k):
            out[i, i] = (up[i] - 2 * f0 + down[i]) / h[i] ** 2
        for i in range(k):
            for j in range(i + 1, k):
                both_up = function(point + steps[i] + steps[j])
                both_down = function(point - steps[i] - steps[j])
                value = (both_up - up[i] - up[j] + 2 * f0 - down[i] - down[j] + both_down) / (
                    2 * h[i] * h[j]
                )
                out[i, j] = out[j, i] = value
        return out

    if not richardson:
        return estimate(steps)
    coarse, fine = estimate(steps), estimate(steps / 2)
    return (4 * fine - coarse) / 3
