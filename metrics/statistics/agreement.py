"""How far listeners agree: Krippendorff's alpha (beyond chance, missing answers allowed) and
intraclass correlations of ratings from a crossed mixed model."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from metrics.statistics.mixed import fit_crossed_intercepts

LEVELS = ("nominal", "ordinal", "interval", "ratio")


def krippendorff_alpha(reliability_data, *, level: str = "interval") -> float | None:
    """alpha = 1 - D_observed / D_expected over the coincidence matrix (Krippendorff 2011,
    "Computing Krippendorff's alpha-reliability").

    reliability_data: (coders, units), NaN where a coder did not judge a unit. Units judged
    by fewer than two coders carry no pairs and drop out. Returns None when fewer than two
    pairable values remain or all values are identical (alpha is undefined then).
    """
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; choose one of {LEVELS}")
    data = np.asarray(reliability_data, float)
    values = np.unique(data[~np.isnan(data)])
    index = {v: i for i, v in enumerate(values)}
    v = len(values)
    coincidences = np.zeros((v, v))
    for unit in data.T:
        present = unit[~np.isnan(unit)]
        m = len(present)
        if m < 2:
            continue
        counts = np.zeros(v)
        for value in present:
            counts[index[value]] += 1
        # All ordered pairs of values from different coders, each weighted 1/(m - 1).
        coincidences += (np.outer(counts, counts) - np.diag(counts)) / (m - 1)
    totals = coincidences.sum(axis=1)
    n = totals.sum()
    if n < 2 or v < 2:
        return None
    c, k = np.meshgrid(values, values, indexing="ij")
    if level == "nominal":
        delta = (c != k).astype(float)
    elif level == "interval":
        delta = (c - k) ** 2
    elif level == "ratio":
        with np.errstate(invalid="ignore", divide="ignore"):
            delta = np.nan_to_num(((c - k) / (c + k)) ** 2)
    else:
        cumulative = np.concatenate([[0.0], np.cumsum(totals)])
        ci, ki = np.meshgrid(np.arange(v), np.arange(v), indexing="ij")
        low, high = np.minimum(ci, ki), np.maximum(ci, ki)
        between = cumulative[high + 1] - cumulative[low]
        delta = (between - (totals[ci] + totals[ki]) / 2) ** 2
    observed = (coincidences * delta).sum() / n
    expected = (np.outer(totals, totals) * delta).sum() / (n * (n - 1))
    if expected == 0 or math.isnan(expected):
        return None
    return float(1 - observed / expected)


@dataclass(frozen=True)
class IntraclassCorrelation:
    """How far listeners agree on which clips deserve which rating, from variance components.

    agreement: ICC(A,1) in McGraw & Wong's (1996) terms (Shrout & Fleiss's ICC(2,1)), one
    listener's rating against another's, listeners' own leniency counted as disagreement;
    consistency: ICC(C,1) (Shrout & Fleiss's ICC(3,1)), leniency forgiven; average_agreement:
    ICC(A,k), the reliability of a clip's mean over its k listeners (k the mean count)."""

    agreement: float
    consistency: float
    average_agreement: float
    listeners_per_clip: float
    clip_variance: float
    listener_variance: float
    residual_variance: float


def intraclass_correlation(ratings, listeners, clips) -> IntraclassCorrelation | None:
    """ICCs from ``rating ~ 1 + (1 | clip) + (1 | listener)`` fitted by REML.

    Listening studies are incomplete (no listener hears every clip), where the ANOVA mean
    squares behind Shrout & Fleiss's formulas are not defined; the variance components of
    the crossed mixed model are, and on complete, balanced data they equal the ANOVA
    estimates (REML and ANOVA agree there unless a component would be negative). None when
    fewer than 2 listeners or 2 clips, or the ratings do not vary.
    """
    ratings = np.asarray(ratings, float)
    listener_codes = np.unique(np.asarray(listeners), return_inverse=True)[1]
    clip_codes = np.unique(np.asarray(clips), return_inverse=True)[1]
    if listener_codes.max(initial=0) < 1 or clip_codes.max(initial=0) < 1:
        return None
    if np.ptp(ratings) == 0:
        return None
    try:
        fit = fit_crossed_intercepts(
            ratings,
            np.ones((len(ratings), 1)),
            {"clip": clip_codes, "listener": listener_codes},
            degrees_of_freedom=False,
        )
    except (ValueError, np.linalg.LinAlgError):
        return None
    clip, listener = fit.group_variances["clip"], fit.group_variances["listener"]
    residual = fit.residual_variance
    k = len(ratings) / (clip_codes.max() + 1)
    return IntraclassCorrelation(
        agreement=clip / (clip + listener + residual),
        consistency=clip / (clip + residual),
        average_agreement=clip / (clip + (listener + residual) / k),
        listeners_per_clip=float(k),
        clip_variance=clip,
        listener_variance=listener,
        residual_variance=residual,
    )
