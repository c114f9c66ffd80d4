"""Krippendorff's alpha: how far listeners agree beyond chance, with missing answers allowed."""

from __future__ import annotations

import math

import numpy as np

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
