"""Cumulative-logit (proportional odds) regression, the ordinal check on Likert ratings.

A 1-10 or 1-5 rating is ordered categories, not a measurement with equal steps; the
ordinal model asks the same question as the linear one without assuming equal steps.
Fitted by maximum likelihood with statsmodels' OrderedModel, parameterised as R's
MASS::polr and ordinal::clm: logit P(Y <= j) = threshold_j - x'beta, so a positive
coefficient means higher ratings.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class OrdinalFit:
    coefficients: np.ndarray  # (k,)
    standard_errors: np.ndarray  # (k,)
    p_values: np.ndarray  # (k,) Wald, two-sided
    thresholds: np.ndarray  # (levels - 1,)
    log_likelihood: float
    converged: bool


def fit_cumulative_logit(levels, X) -> OrdinalFit:
    """levels: (n,) ordered category codes 0..m-1 (every code must occur); X: (n, k), no
    constant column (the thresholds play the intercept's part)."""
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    y = np.asarray(levels, int)
    X = np.asarray(X, float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence is reported in the result instead
        model = OrderedModel(y, X, distr="logit")
        result = model.fit(method="newton", disp=False, maxiter=200)
    k = X.shape[1]
    params = np.asarray(result.params)
    bse = np.asarray(result.bse)
    thresholds = model.transform_threshold_params(params)[1:-1]
    z = params[:k] / bse[:k]
    return OrdinalFit(
        coefficients=params[:k],
        standard_errors=bse[:k],
        p_values=2 * stats.norm.sf(np.abs(z)),
        thresholds=np.asarray(thresholds),
        log_likelihood=float(result.llf),
        converged=bool(result.mle_retvals.get("converged", True)),
    )
