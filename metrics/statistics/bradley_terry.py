"""Bradley-Terry strengths from pairwise preferences, by maximum likelihood as a logistic GLM.

P(i preferred to j) = 1 / (1 + exp(-(lambda_i - lambda_j))), lambda_reference = 0, fitted
as a binomial GLM without intercept whose design row for a comparison of i with j is
+1 in column i and -1 in column j (Agresti 2002, section 10.6; as BradleyTerry2::BTm).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Strength:
    name: str
    ability: float  # log-odds scale, reference system = 0
    standard_error: float
    low: float
    high: float
    robust_standard_error: float | None  # clustered by listener, when listeners were given


@dataclass(frozen=True)
class BradleyTerryFit:
    reference: str
    strengths: list[Strength]
    confidence: float
    estimable: bool
    problem: str | None = None  # why the fit could not be made, in words


@dataclass(frozen=True)
class Comparison:
    first: int  # system index
    second: int
    first_wins: int
    second_wins: int
    cluster: object = None  # the listener who made these comparisons, for robust SEs


def _strongly_connected(k: int, beats: set[tuple[int, int]]) -> bool:
    """Ford (1957): the MLE exists iff every partition of the systems has a win each way."""

    def reach(edges) -> set[int]:
        seen, todo = {0}, [0]
        while todo:
            node = todo.pop()
            for a, b in edges:
                if a == node and b not in seen:
                    seen.add(b)
                    todo.append(b)
        return seen

    return len(reach(beats)) == k and len(reach({(b, a) for a, b in beats})) == k


def fit_bradley_terry(
    names: list[str], comparisons: list[Comparison], *, confidence: float = 0.95
) -> BradleyTerryFit:
    import statsmodels.api as sm

    k = len(names)
    beats = set()
    for c in comparisons:
        if c.first_wins:
            beats.add((c.first, c.second))
        if c.second_wins:
            beats.add((c.second, c.first))
    if k < 2 or not _strongly_connected(k, beats):
        return BradleyTerryFit(
            names[0] if names else "",
            [],
            confidence,
            estimable=False,
            problem="some system never won or never lost against the rest, so its strength "
            "is unbounded; collect more comparisons",
        )
    rows = [c for c in comparisons if c.first_wins + c.second_wins]
    X = np.zeros((len(rows), k))
    for r, c in enumerate(rows):
        X[r, c.first] += 1
        X[r, c.second] -= 1
    X = X[:, 1:]  # the first system is the reference
    endog = np.array([[c.first_wins, c.second_wins] for c in rows], float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = sm.GLM(endog, X, family=sm.families.Binomial())
        fit = model.fit()
        clusters = [c.cluster for c in rows]
        robust = None
        if all(cl is not None for cl in clusters) and len(set(clusters)) > 1:
            codes = {cl: i for i, cl in enumerate(dict.fromkeys(clusters))}
            groups = np.array([codes[cl] for cl in clusters])
            robust = model.fit(cov_type="cluster", cov_kwds={"groups": groups}).bse
    q = float(stats.norm.ppf(0.5 + confidence / 2))
    strengths = [Strength(names[0], 0.0, 0.0, 0.0, 0.0, 0.0 if robust is not None else None)]
    for i in range(1, k):
        ability, se = float(fit.params[i - 1]), float(fit.bse[i - 1])
        strengths.append(
            Strength(
                names[i],
                ability,
                se,
                ability - q * se,
                ability + q * se,
                float(robust[i - 1]) if robust is not None else None,
            )
        )
    return BradleyTerryFit(names[0], strengths, confidence, estimable=True)
