"""Pairwise blocks: which of two clips do listeners prefer? Per pair a logit mixed model
with presentation order balanced out; over all pairs a Bradley-Terry model."""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import numpy as np

from metrics.analysis.agreement import listener_agreement
from metrics.analysis.binary import small_sample_df
from metrics.analysis.common import codes, finite, listener_group, share_fields
from metrics.analysis.design import BlockDesign, Options
from metrics.analysis.results import BradleyTerrySummary, PairPreference, Strength
from metrics.analysis.rows import listener_known
from metrics.analysis.wording import interval_text, p_text, percent
from metrics.statistics.bradley_terry import Comparison, fit_bradley_terry
from metrics.statistics.glmm import fit_binary_mixed
from metrics.statistics.multiple import adjust_p_values
from metrics.statistics.proportions import binomial_test, wilson_interval


def analyse_pairwise(block: BlockDesign, rows: list[dict], options: Options) -> dict:
    """The pairwise block's own fields of a PairwiseBlock."""
    systems = list(dict.fromkeys(s for pair in block.pairs for s in pair))
    index = {s: i for i, s in enumerate(systems)}
    wins = np.zeros((len(systems), len(systems)), int)
    ties = Counter()
    per_listener = defaultdict(Counter)  # (i, j, listener) -> wins of i, wins of j
    for r in rows:
        a, b = r["system"], r.get("second_system")
        if a not in index or b not in index:
            continue
        key = tuple(sorted((a, b), key=index.get))
        if r.get("preferred_system") is None:
            ties[key] += 1
            continue
        winner = r["preferred_system"]
        loser = b if winner == a else a
        wins[index[winner], index[loser]] += 1
        if listener_known(r):
            per_listener[(key, r["participant"])][winner] += 1
    pairs = []
    for a, b in block.pairs:
        a_wins, b_wins = int(wins[index[a], index[b]]), int(wins[index[b], index[a]])
        decided = a_wins + b_wins
        share = wilson_interval(a_wins, decided, confidence=options.confidence)
        key = tuple(sorted((a, b), key=index.get))
        pairs.append(
            {
                "first": a,
                "second": b,
                "first_wins": a_wins,
                "second_wins": b_wins,
                "ties": ties[key],
                **share_fields(share),
                "p_value": binomial_test(a_wins, decided).p_value,
            }
        )
    notes = []
    for p in pairs:
        p.update(_pair_model(rows, p["first"], p["second"], options, notes))
    for key in ("p_value", "p_model"):
        present = [p for p in pairs if p.get(key) is not None]
        adjusted = adjust_p_values([p[key] for p in present], method=options.correction)
        suffix = "p_adjusted" if key == "p_value" else "p_model_adjusted"
        for p, value in zip(present, adjusted, strict=True):
            p[suffix] = value
    for p in pairs:
        p["sentence"] = _preference_sentence(p)
    pairs = [PairPreference(**p) for p in pairs]
    comparisons = [
        Comparison(index[key[0]], index[key[1]], counts[key[0]], counts[key[1]], listener)
        for (key, listener), counts in per_listener.items()
    ]
    bt = fit_bradley_terry(systems, comparisons, confidence=options.confidence)
    if not bt.estimable:
        notes.append(f"No Bradley-Terry strengths: {bt.problem}.")
    if sum(ties.values()):
        notes.append(
            f"{sum(ties.values())} answers said 'no preference'; they are reported per pair "
            "and left out of the shares, binomial tests and Bradley-Terry model."
        )
    units = [
        {
            **r,
            "pair_unit": _pair_unit(r),
            "prefers_lower": (r["preferred_system"] == min(r["system"], r["second_system"])),
        }
        for r in rows
        if r.get("preferred_system") is not None
    ]
    return {
        "notes": notes,
        "systems": systems,
        "pairs": pairs,
        "win_matrix": wins.tolist(),
        "bradley_terry": BradleyTerrySummary(
            estimable=bt.estimable,
            reference=bt.reference,
            strengths=[
                Strength(
                    system=s.name,
                    ability=s.ability,
                    standard_error=s.standard_error,
                    low=s.low,
                    high=s.high,
                    robust_standard_error=s.robust_standard_error,
                )
                for s in bt.strengths
            ],
        ),
        "agreement": listener_agreement(units, "prefers_lower", "nominal", unit="pair_unit"),
    }


def _pair_unit(r: dict) -> str:
    first, second = sorted((r["stimulus"], r["second_stimulus"]))
    return f"{first}-{second}"


def _pair_model(rows, a, b, options, notes) -> dict:
    """logit P(a preferred) = b0 + b1 * (a heard first ? 1/2 : -1/2) + listener + clip pair.

    The intercept is the preference with presentation order balanced out; b1 is the
    first-position effect. Ties are left out, as in the counts."""
    empty = {"model_share": None, "model_low": None, "model_high": None, "p_model": None}
    mine = [
        r
        for r in rows
        if {r["system"], r.get("second_system")} == {a, b} and r.get("preferred_system")
    ]
    if not mine:
        return empty
    y = np.array([r["preferred_system"] == a for r in mine], float)
    if y.min() == y.max():
        notes.append(
            f"Every decided answer between {a} and {b} preferred "
            f"{a if y[0] else b}: the share is at the edge, so no model for this pair."
        )
        return empty
    order = np.array([0.5 if r["system"] == a else -0.5 for r in mine])
    X = (
        np.column_stack([np.ones(len(mine)), order])
        if len(set(order)) > 1
        else np.ones((len(mine), 1))
    )
    groups = {}
    listener_codes, listeners = listener_group(mine)
    if listener_codes is not None:
        groups["listener"] = listener_codes
    unit_codes, units = codes([_pair_unit(r) for r in mine])
    if len(units) >= 2:
        groups["clip pair"] = unit_codes
    try:
        fit = fit_binary_mixed(y, X, groups)
    except (ValueError, np.linalg.LinAlgError) as error:
        notes.append(f"{a} vs {b}: the logit mixed model could not be fitted ({error}).")
        return empty
    if fit.separated:
        notes.append(f"{a} vs {b}: nearly every answer went one way, so no model-based share.")
        return empty
    df = small_sample_df(groups, listeners, len(units), fit.singular)
    c = fit.contrast(np.eye(X.shape[1])[0], confidence=options.confidence, df=df)
    result = {
        "model_share": fit.population_share(c.estimate),
        "model_low": fit.population_share(c.low),
        "model_high": fit.population_share(c.high),
        "p_model": c.p_value,
        "listeners_modelled": listeners,
        "first_position_odds_ratio": None,
        "p_first_position": None,
    }
    if X.shape[1] == 2:
        order_effect = fit.contrast([0, 1], confidence=options.confidence, df=df)
        result["first_position_odds_ratio"] = finite(math.exp(order_effect.estimate))
        result["p_first_position"] = order_effect.p_value
    return result


def _preference_sentence(p: dict) -> str:
    if not p["n"]:
        return f"{p['first']} vs {p['second']}: no decided answers yet."
    if p.get("model_share") is not None:
        first_ahead = p["model_share"] >= 0.5
        winner, loser = (p["first"], p["second"]) if first_ahead else (p["second"], p["first"])
        share = p["model_share"] if first_ahead else 1 - p["model_share"]
        low, high = (
            (p["model_low"], p["model_high"])
            if first_ahead
            else (1 - p["model_high"], 1 - p["model_low"])
        )
        return (
            f"Listeners preferred {winner} over {loser} in {percent(share)} of trials "
            f"(population-averaged, 95% CI {interval_text(low, high, as_percent=True)}, "
            f"{p_text(p.get('p_model_adjusted'))} adjusted; {p['n']} decided trials)."
        )
    first_ahead = p["share"] >= 0.5
    winner, loser = (p["first"], p["second"]) if first_ahead else (p["second"], p["first"])
    share = p["share"] if first_ahead else 1 - p["share"]
    low, high = (p["low"], p["high"]) if first_ahead else (1 - p["high"], 1 - p["low"])
    return (
        f"Listeners preferred {winner} over {loser} in {percent(share)} of {p['n']} trials "
        f"(95% CI {interval_text(low, high, as_percent=True)}, {p_text(p['p_value'])})."
    )
