"""A study's answers, analysed block by block: the numbers every report format shows.

Plain Python, no Django: it takes the long table of answers (one dict per answer, the
columns of studies' export) and a description of each block, and returns plain dicts of
numbers and sentences, ready for HTML, LaTeX, CSV or JSON. Missing numbers are None and
every gap has a sentence saying why, so no format ever prints NaN.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
from scipy import stats

from metrics.statistics.agreement import krippendorff_alpha
from metrics.statistics.bradley_terry import Comparison, fit_bradley_terry
from metrics.statistics.detection import sensitivity
from metrics.statistics.effect_sizes import (
    cliffs_delta,
    cohens_d,
    cohens_dz,
    rank_biserial_paired,
)
from metrics.statistics.mixed import fit_crossed_intercepts
from metrics.statistics.multiple import METHODS, adjust_p_values
from metrics.statistics.ordinal import fit_cumulative_logit
from metrics.statistics.proportions import binomial_test, two_proportions, wilson_interval

# Musical training answers (0-5, see studies.answers.MUSICAL_TRAINING) in three groups
# large enough to compare.
TRAINING_GROUPS = {
    "none or under a year": (0, 1),
    "1-5 years": (2, 3),
    "over 5 years": (4, 5),
}


@dataclass(frozen=True)
class BlockDesign:
    number: int  # 1-based, as in the export's "block" column
    kind: str  # rating, turing, pairwise, style
    title: str
    systems: list[str]
    human_systems: list[str] = field(default_factory=list)
    scale_values: list[int] = field(default_factory=list)  # rating blocks
    pairs: list[tuple[str, str]] = field(default_factory=list)  # pairwise blocks
    styles: list[str] = field(default_factory=list)  # style blocks: the answer options


@dataclass(frozen=True)
class Options:
    confidence: float = 0.95
    correction: str = "holm"  # or "bh"

    def __post_init__(self):
        if self.correction not in METHODS:
            raise ValueError(f"correction must be one of {sorted(METHODS)}")
        if not 0.5 <= self.confidence < 1:
            raise ValueError("confidence must lie in [0.5, 1)")


# --- wording -----------------------------------------------------------------------------


def percent(share: float | None, digits: int = 1) -> str:
    return "n/a" if share is None else f"{share * 100:.{digits}f}%"


def p_text(p: float | None) -> str:
    if p is None:
        return "no test"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def interval_text(low: float | None, high: float | None, *, as_percent: bool = False) -> str:
    if low is None or high is None:
        return "no interval"
    if as_percent:
        return f"{low * 100:.1f}-{high * 100:.1f}%"
    return f"{low:.2f} to {high:.2f}"


def _share(proportion) -> dict:
    return {
        "successes": proportion.successes,
        "n": proportion.n,
        "share": proportion.share,
        "low": proportion.low,
        "high": proportion.high,
    }


def _effect(effect) -> dict:
    return {
        "name": effect.name,
        "estimate": effect.estimate,
        "low": effect.low,
        "high": effect.high,
        "interval": effect.interval_method,
    }


def _finite(value) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


# --- the study ---------------------------------------------------------------------------


def kept_rows(rows: list[dict], *, include_simulated: bool) -> list[dict]:
    """The answers an analysis counts: none from excluded listeners, and none from simulated
    listeners unless asked."""
    return [
        r for r in rows if not r.get("excluded") and (include_simulated or not r.get("simulated"))
    ]


def main_trials(rows: list[dict]) -> list[dict]:
    """Answers to main trials (checks and repeats left out)."""
    return [r for r in rows if r.get("trial_kind", "main") == "main"]


def analyse(
    rows: list[dict],
    blocks: list[BlockDesign],
    *,
    include_simulated: bool = False,
    options: Options | None = None,
) -> dict:
    """Analyse every block. ``rows`` are all answers, previews already left out; answers
    from excluded listeners (failed screen or checks, when the study excludes them) and
    from simulated listeners (unless asked) are dropped here, and counted."""
    options = options or Options()
    listeners = _listener_summary(rows, include_simulated)
    kept = kept_rows(rows, include_simulated=include_simulated)
    main = main_trials(kept)
    analysed = []
    for block in blocks:
        block_rows = [r for r in main if r["block"] == block.number]
        analyser = ANALYSERS[block.kind]
        result = {
            "number": block.number,
            "kind": block.kind,
            "title": block.title,
            "systems": block.systems,
            "human_systems": block.human_systems,
            "answers": len(block_rows),
            "listeners": len({r["participant"] for r in block_rows}),
            "notes": [],
        }
        if not block_rows:
            result["notes"].append("No answers yet.")
        else:
            result.update(analyser(block, block_rows, options))
        result["checks"] = _checks_and_repeats(
            block, [r for r in kept if r["block"] == block.number]
        )
        analysed.append(result)
    return {
        "confidence": options.confidence,
        "correction": METHODS[options.correction],
        "include_simulated": include_simulated,
        "listeners": listeners,
        "blocks": analysed,
    }


def _listener_summary(rows: list[dict], include_simulated: bool) -> dict:
    by_listener: dict[str, dict] = {}
    for r in rows:
        by_listener.setdefault(r["participant"], r)
    simulated = sum(1 for r in by_listener.values() if r.get("simulated"))
    considered = [r for r in by_listener.values() if include_simulated or not r.get("simulated")]
    excluded = [r for r in considered if r.get("excluded")]
    reasons = Counter()
    for r in excluded:
        for reason in (r.get("exclusion_reasons") or "").split("; "):
            if reason:
                reasons[reason] += 1
    training = Counter(
        next(
            (
                name
                for name, levels in TRAINING_GROUPS.items()
                if r.get("musical_training") in levels
            ),
            "not asked",
        )
        for r in considered
        if not r.get("excluded")
    )
    return {
        "with_answers": len(considered),
        "analysed": len(considered) - len(excluded),
        "excluded": len(excluded),
        "exclusion_reasons": dict(reasons.most_common()),
        "simulated": simulated,
        "simulated_left_out": 0 if include_simulated else simulated,
        "musical_training": dict(training),
    }


def _checks_and_repeats(block: BlockDesign, rows: list[dict]) -> dict:
    checks = [r for r in rows if r.get("trial_kind") == "instructed"]
    repeats = [r for r in rows if r.get("trial_kind") == "repeat"]
    by_trial = {(r["participant"], r["trial"]): r for r in rows}
    agreements, differences = [], []
    for r in repeats:
        original = by_trial.get((r["participant"], r.get("repeat_of_trial")))
        if original is None:
            continue
        if block.kind == "rating" and r.get("rating") is not None:
            differences.append(abs(r["rating"] - original["rating"]))
        else:
            key = {"turing": "judged_human", "pairwise": "preferred_system"}.get(
                block.kind, "style_answer"
            )
            agreements.append(r.get(key) == original.get(key))
    passed = sum(1 for r in checks if r.get("passed_check"))
    return {
        "instructed": len(checks),
        "instructed_passed": passed,
        "repeats": len(agreements) + len(differences),
        "repeat_same_answer": _share(wilson_interval(sum(agreements), len(agreements)))
        if agreements
        else None,
        "repeat_mean_rating_change": float(np.mean(differences)) if differences else None,
    }


# --- ratings -----------------------------------------------------------------------------


def _codes(values) -> tuple[np.ndarray, list]:
    levels = list(dict.fromkeys(values))
    index = {v: i for i, v in enumerate(levels)}
    return np.array([index[v] for v in values]), levels


def _listener_means(rows: list[dict]) -> dict[str, dict[str, float]]:
    """system -> listener -> that listener's mean rating of the system."""
    ratings = defaultdict(lambda: defaultdict(list))
    for r in rows:
        ratings[r["system"]][r["participant"]].append(r["rating"])
    return {
        system: {p: float(np.mean(v)) for p, v in by_listener.items()}
        for system, by_listener in ratings.items()
    }


def analyse_ratings(block: BlockDesign, rows: list[dict], options: Options) -> dict:
    rows = [r for r in rows if r.get("rating") is not None]
    systems = [s for s in block.systems if any(r["system"] == s for r in rows)]
    notes = []
    model = _rating_model(rows, systems, options, notes)
    listener_means = _listener_means(rows)
    per_system = []
    for i, system in enumerate(systems):
        ratings = np.array([r["rating"] for r in rows if r["system"] == system], float)
        means = listener_means[system]
        values = np.array(list(means.values()))
        entry = {
            "system": system,
            "human": system in block.human_systems,
            "answers": len(ratings),
            "listeners": len(means),
            "stimuli": len({r["stimulus"] for r in rows if r["system"] == system}),
            "mean": float(ratings.mean()),
            "sd": float(ratings.std(ddof=1)) if len(ratings) > 1 else None,
            "median": float(np.median(ratings)),
            "listener_t_low": None,
            "listener_t_high": None,
            "model_mean": None,
            "model_low": None,
            "model_high": None,
        }
        if len(values) >= 2:
            low, high = stats.t.interval(
                options.confidence,
                len(values) - 1,
                loc=values.mean(),
                scale=stats.sem(values),
            )
            if math.isfinite(low):
                entry["listener_t_low"], entry["listener_t_high"] = float(low), float(high)
        if model is not None:
            weights = np.eye(len(systems))[i]
            contrast = model.contrast(weights, confidence=options.confidence)
            entry.update(
                model_mean=contrast.estimate, model_low=contrast.low, model_high=contrast.high
            )
        entry["sentence"] = _rating_sentence(entry)
        per_system.append(entry)
    if len(systems) < 2:
        notes.append("Fewer than 2 systems have ratings: nothing to compare.")
    omnibus = _rating_omnibus(listener_means, systems, model, notes, options)
    pairwise = _rating_pairs(listener_means, systems, model, options)
    ordinal = _rating_ordinal(rows, systems, block, notes)
    believability = _shares_by_system(
        rows, systems, block, "could_be_human", "could have been composed by a human"
    )
    return {
        "notes": notes,
        "scale": [min(block.scale_values), max(block.scale_values)] if block.scale_values else None,
        "systems_table": per_system,
        "model": _model_summary(model),
        "omnibus": omnibus,
        "pairwise": pairwise,
        "ordinal": ordinal,
        "believability": believability,
        "agreement": _agreement(rows, "rating", "interval"),
    }


def _rating_model(rows, systems, options, notes):
    if len(rows) <= len(systems) + 1:
        notes.append("Too few ratings for the mixed model: no model-based intervals.")
        return None
    system_codes = {s: i for i, s in enumerate(systems)}
    X = np.zeros((len(rows), len(systems)))
    X[np.arange(len(rows)), [system_codes[r["system"]] for r in rows]] = 1
    groups = {}
    listener_codes, listeners = _codes([r["participant"] for r in rows])
    if len(listeners) >= 2:
        groups["listener"] = listener_codes
    else:
        notes.append("Fewer than 2 listeners: listener variation cannot be estimated.")
    stimulus_codes, stimuli = _codes([r["stimulus"] for r in rows])
    # Clips are nested in systems; with one clip per system their spread is the systems'.
    if len(stimuli) > len(systems):
        groups["clip"] = stimulus_codes
    try:
        return fit_crossed_intercepts([r["rating"] for r in rows], X, groups)
    except (ValueError, np.linalg.LinAlgError) as error:
        notes.append(f"The mixed model could not be fitted ({error}).")
        return None


def _model_summary(model) -> dict | None:
    if model is None:
        return None
    return {
        "formula": "rating ~ 0 + system + (1 | listener) + (1 | clip), REML",
        "listener_variance": model.group_variances.get("listener"),
        "clip_variance": model.group_variances.get("clip"),
        "residual_variance": model.residual_variance,
        "reml_criterion": model.reml_criterion,
        "observations": model.n_observations,
        "tests": "Wald z (large-sample); no small-sample degrees-of-freedom correction",
    }


def _rating_sentence(entry: dict) -> str:
    if entry["model_mean"] is not None:
        how = f"95% CI {interval_text(entry['model_low'], entry['model_high'])}, mixed model"
        mean = entry["model_mean"]
    elif entry["listener_t_low"] is not None:
        how = f"95% CI {interval_text(entry['listener_t_low'], entry['listener_t_high'])}"
        mean = entry["mean"]
    else:
        how = "fewer than 2 listeners: no interval"
        mean = entry["mean"]
    return (
        f"{entry['system']} was rated {mean:.2f} on average ({how}; "
        f"{entry['listeners']} listeners, {entry['answers']} ratings)."
    )


def _rating_omnibus(listener_means, systems, model, notes, options) -> dict | None:
    if len(systems) < 2:
        return None
    result = {"model": None, "nonparametric": None}
    if model is not None:
        # Every system against the first: zero for all rows iff all means are equal.
        contrasts = np.zeros((len(systems) - 1, len(systems)))
        contrasts[:, 0] = 1
        contrasts[np.arange(len(systems) - 1), np.arange(1, len(systems))] = -1
        wald = model.wald_test(contrasts)
        result["model"] = {
            "test": "Wald chi-square",
            "chi2": wald.chi2,
            "df": wald.df,
            "p_value": wald.p_value,
        }
        alpha = 1 - options.confidence
        said = f"chi2({wald.df}) = {wald.chi2:.2f}, {p_text(wald.p_value)}"
        result["sentence"] = (
            f"The systems' mean ratings differ: {said}."
            if wald.p_value < alpha
            else f"No evidence that the systems' mean ratings differ ({said})."
        )
    means = {s: listener_means[s] for s in systems}
    complete = sorted(set.intersection(*(set(m) for m in means.values())))
    try:
        if len(complete) >= 2:
            per_system = [[means[s][listener] for listener in complete] for s in systems]
            if len(systems) >= 3:
                test, outcome = "Friedman", stats.friedmanchisquare(*per_system)
            else:
                differences = np.subtract(*per_system)
                test, outcome = "Wilcoxon signed-rank", stats.wilcoxon(differences)
            label = f"{test} on per-listener means ({len(complete)} who rated every system)"
        elif sum(len(m) for m in means.values()) > len(systems):
            test, outcome = (
                "Kruskal-Wallis",
                stats.kruskal(*(list(m.values()) for m in means.values())),
            )
            label = f"{test} on per-listener means"
        else:
            return result
        result["nonparametric"] = {
            "test": label,
            "statistic": _finite(outcome.statistic),
            "p_value": _finite(outcome.pvalue),
        }
    except ValueError as error:  # e.g. every listener gave every system the same mean
        notes.append(f"No non-parametric omnibus test: {error}.")
    return result


def _rating_pairs(listener_means, systems, model, options) -> list[dict]:
    pairs = []
    for (i, a), (j, b) in combinations(enumerate(systems), 2):
        means_a, means_b = listener_means[a], listener_means[b]
        both = sorted(set(means_a) & set(means_b))
        entry = {
            "first": a,
            "second": b,
            "difference": None,
            "low": None,
            "high": None,
            "p_model": None,
            "p_nonparametric": None,
            "effect_sizes": [],
        }
        if model is not None:
            weights = np.zeros(len(systems))
            weights[i], weights[j] = 1, -1
            c = model.contrast(weights, confidence=options.confidence)
            entry.update(difference=c.estimate, low=c.low, high=c.high, z=c.z, p_model=c.p_value)
        if len(both) >= 2:
            differences = np.array([means_a[p] - means_b[p] for p in both])
            entry["nonparametric_test"] = f"Wilcoxon signed-rank, {len(both)} listeners"
            if np.any(differences != 0):
                entry["p_nonparametric"] = float(stats.wilcoxon(differences).pvalue)
            entry["effect_sizes"] = [
                _effect(cohens_dz(differences, confidence=options.confidence)),
                _effect(rank_biserial_paired(differences, confidence=options.confidence)),
            ]
        elif len(means_a) >= 2 and len(means_b) >= 2:
            values_a, values_b = list(means_a.values()), list(means_b.values())
            entry["nonparametric_test"] = (
                f"Mann-Whitney U, {len(values_a)} and {len(values_b)} listeners"
            )
            entry["p_nonparametric"] = float(
                stats.mannwhitneyu(values_a, values_b, alternative="two-sided").pvalue
            )
            entry["effect_sizes"] = [
                _effect(cohens_d(values_a, values_b, confidence=options.confidence)),
                _effect(cliffs_delta(values_a, values_b, confidence=options.confidence)),
            ]
        else:
            entry["nonparametric_test"] = "too few listeners for a test"
        pairs.append(entry)
    for key in ("p_model", "p_nonparametric"):
        present = [p for p in pairs if p[key] is not None]
        adjusted = adjust_p_values([p[key] for p in present], method=options.correction)
        for p, value in zip(present, adjusted, strict=True):
            p[key + "_adjusted"] = value
    for p in pairs:
        if p["difference"] is None:
            p["sentence"] = f"{p['first']} vs {p['second']}: too few ratings to compare."
            continue
        if p["difference"] >= 0:
            better, worse, low, high = p["first"], p["second"], p["low"], p["high"]
        else:
            better, worse, low, high = p["second"], p["first"], -p["high"], -p["low"]
        p["sentence"] = (
            f"{better} was rated {abs(p['difference']):.2f} points above {worse} (95% CI "
            f"{interval_text(low, high)}, {p_text(p.get('p_model_adjusted'))} adjusted)."
        )
    return pairs


def _rating_ordinal(rows, systems, block, notes) -> dict | None:
    if len(systems) < 2:
        return None
    present = sorted({r["rating"] for r in rows})
    if len(present) < 3:
        notes.append("Fewer than 3 distinct ratings: no ordinal model.")
        return None
    level = {v: i for i, v in enumerate(present)}
    X = np.zeros((len(rows), len(systems) - 1))
    for n, r in enumerate(rows):
        k = systems.index(r["system"])
        if k:
            X[n, k - 1] = 1
    try:
        fit = fit_cumulative_logit([level[r["rating"]] for r in rows], X)
    except Exception as error:  # statsmodels raises several kinds on degenerate data
        notes.append(f"The ordinal model could not be fitted ({type(error).__name__}).")
        return None
    effects = [
        {
            "system": system,
            "log_odds": _finite(fit.coefficients[k]),
            "standard_error": _finite(fit.standard_errors[k]),
            "odds_ratio": _finite(math.exp(fit.coefficients[k]))
            if abs(fit.coefficients[k]) < 700
            else None,
            "p_value": _finite(fit.p_values[k]),
        }
        for k, system in enumerate(systems[1:])
    ]
    return {
        "model": "cumulative logit (proportional odds), rating ~ system; listeners not modelled",
        "reference": systems[0],
        "effects": effects,
        "converged": fit.converged,
    }


# --- shares judged human -----------------------------------------------------------------


def _shares_by_system(rows, systems, block, key, what) -> dict | None:
    answered = [r for r in rows if r.get(key) is not None]
    if not answered:
        return None
    humans = [s for s in systems if s in block.human_systems]
    human_rows = [r for r in answered if r["system"] in humans]
    human_share = wilson_interval(sum(bool(r[key]) for r in human_rows), len(human_rows))
    table = []
    for system in systems:
        mine = [r for r in answered if r["system"] == system]
        yes = sum(bool(r[key]) for r in mine)
        share = wilson_interval(yes, len(mine))
        entry = {"system": system, "human": system in humans, **_share(share)}
        entry["p_vs_half"] = binomial_test(yes, len(mine)).p_value
        entry["p_vs_human"] = None
        entry["sensitivity"] = None
        if system not in humans and human_share.n:
            entry["p_vs_human"] = binomial_test(
                yes, len(mine), null_share=human_share.share
            ).p_value
            detect = sensitivity(human_share.successes, human_share.n, yes, len(mine))
            if detect is not None:
                entry["sensitivity"] = {"d_prime": detect.d_prime, "criterion": detect.criterion}
        entry["sentence"] = (
            f"Listeners said {system}'s clips {what} in {percent(share.share)} of "
            f"{share.n} answers (95% CI {interval_text(share.low, share.high, as_percent=True)})"
            + (
                f"; human clips: {percent(human_share.share)}."
                if system not in humans and human_share.n
                else "."
            )
        )
        table.append(entry)
    return {
        "question": what,
        "human_reference": _share(human_share) if human_share.n else None,
        "systems_table": table,
        "by_training": _shares_by_training(answered, systems, key),
    }


def _shares_by_training(rows, systems, key) -> list[dict]:
    split = []
    for group, levels in TRAINING_GROUPS.items():
        mine = [r for r in rows if r.get("musical_training") in levels]
        if not mine:
            continue
        split.append(
            {
                "group": group,
                "listeners": len({r["participant"] for r in mine}),
                "systems": {
                    s: _share(
                        wilson_interval(
                            sum(bool(r[key]) for r in mine if r["system"] == s),
                            sum(1 for r in mine if r["system"] == s),
                        )
                    )
                    for s in systems
                },
            }
        )
    return split


def analyse_turing(block: BlockDesign, rows: list[dict], options: Options) -> dict:
    rows = [r for r in rows if r.get("judged_human") is not None]
    systems = [s for s in block.systems if any(r["system"] == s for r in rows)]
    notes = []
    if not any(s in block.human_systems for s in systems):
        notes.append("No human clips answered yet: no comparison with human music.")
    shares = _shares_by_system(rows, systems, block, "judged_human", "were human")
    stimuli = defaultdict(list)
    for r in rows:
        stimuli[(r["system"], r["stimulus"], r.get("piece") or r.get("sample_set"))].append(
            bool(r["judged_human"])
        )
    per_stimulus = [
        {
            "system": system,
            "stimulus": stimulus,
            "source": source,
            **_share(wilson_interval(sum(v), len(v))),
        }
        for (system, stimulus, source), v in sorted(
            stimuli.items(), key=lambda item: (item[0][0], -np.mean(item[1]))
        )
    ]
    sureness = defaultdict(list)
    for r in rows:
        if r.get("confidence") is not None:
            sureness[r["system"]].append(r["confidence"])
    confidence = {s: float(np.mean(sureness[s])) if sureness[s] else None for s in systems}
    return {
        "notes": notes,
        **(shares or {}),
        "per_stimulus": per_stimulus,
        "mean_confidence": confidence,
        "agreement": _agreement(rows, "judged_human", "nominal"),
    }


# --- pairwise preference -----------------------------------------------------------------


def analyse_pairwise(block: BlockDesign, rows: list[dict], options: Options) -> dict:
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
                **_share(share),
                "p_value": binomial_test(a_wins, decided).p_value,
            }
        )
    adjusted = adjust_p_values(
        [p["p_value"] for p in pairs if p["p_value"] is not None], method=options.correction
    )
    for p, value in zip([p for p in pairs if p["p_value"] is not None], adjusted, strict=True):
        p["p_adjusted"] = value
    for p in pairs:
        p["sentence"] = _preference_sentence(p)
    comparisons = [
        Comparison(index[key[0]], index[key[1]], counts[key[0]], counts[key[1]], listener)
        for (key, listener), counts in per_listener.items()
    ]
    bt = fit_bradley_terry(systems, comparisons, confidence=options.confidence)
    notes = []
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
            "pair_unit": f"{min(r['stimulus'], r['second_stimulus'])}-"
            f"{max(r['stimulus'], r['second_stimulus'])}",
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
        "bradley_terry": {
            "estimable": bt.estimable,
            "reference": bt.reference,
            "strengths": [
                {
                    "system": s.name,
                    "ability": s.ability,
                    "standard_error": s.standard_error,
                    "low": s.low,
                    "high": s.high,
                    "robust_standard_error": s.robust_standard_error,
                }
                for s in bt.strengths
            ],
        },
        "agreement": _agreement(units, "prefers_lower", "nominal", unit="pair_unit"),
    }


def _preference_sentence(p: dict) -> str:
    if not p["n"]:
        return f"{p['first']} vs {p['second']}: no decided answers yet."
    first_ahead = p["share"] >= 0.5
    winner, loser = (p["first"], p["second"]) if first_ahead else (p["second"], p["first"])
    share = p["share"] if first_ahead else 1 - p["share"]
    low, high = (p["low"], p["high"]) if first_ahead else (1 - p["high"], 1 - p["low"])
    return (
        f"Listeners preferred {winner} over {loser} in {percent(share)} of {p['n']} trials "
        f"(95% CI {interval_text(low, high, as_percent=True)}, {p_text(p['p_value'])})."
    )


# --- style identification ----------------------------------------------------------------


def analyse_style(block: BlockDesign, rows: list[dict], options: Options) -> dict:
    rows = [r for r in rows if r.get("style_answer") and r.get("true_style")]
    styles = block.styles or sorted({r["true_style"] for r in rows})
    chance = 1 / len(styles) if styles else None
    notes = []

    def accuracy(subset, label, human=None) -> dict:
        correct = sum(r["style_answer"] == r["true_style"] for r in subset)
        share = wilson_interval(correct, len(subset), confidence=options.confidence)
        entry = {
            "label": label,
            **_share(share),
            "p_vs_chance": binomial_test(correct, len(subset), null_share=chance).p_value
            if chance
            else None,
        }
        if human is not None:
            entry["human"] = human
        return entry

    systems = [s for s in block.systems if any(r["system"] == s for r in rows)]
    by_system = [
        accuracy([r for r in rows if r["system"] == s], s, s in block.human_systems)
        for s in systems
    ]
    by_style = [accuracy([r for r in rows if r["true_style"] == s], s) for s in styles]
    confusion = [
        [sum(1 for r in rows if r["true_style"] == t and r["style_answer"] == a) for a in styles]
        for t in styles
    ]
    generated = [r for r in rows if r["system"] not in block.human_systems]
    human = [r for r in rows if r["system"] in block.human_systems]
    comparison = None
    if generated and human:
        g = sum(r["style_answer"] == r["true_style"] for r in generated)
        h = sum(r["style_answer"] == r["true_style"] for r in human)
        result = two_proportions(g, len(generated), h, len(human), confidence=options.confidence)
        comparison = {
            "generated": _share(result.first),
            "human": _share(result.second),
            "difference": result.difference,
            "z": result.z,
            "p_value_z": result.p_value_z,
            "p_value_fisher": result.p_value_fisher,
        }
        comparison["sentence"] = (
            f"Listeners named the style of generated clips correctly in "
            f"{percent(result.first.share)} of {result.first.n} answers and of human clips in "
            f"{percent(result.second.share)} of {result.second.n} (z = {result.z:.2f}, "
            f"{p_text(result.p_value_z)}; Fisher's exact {p_text(result.p_value_fisher)})."
        )
    else:
        notes.append("Generated and human clips are both needed for their comparison.")
    for entry in by_system:
        entry["sentence"] = (
            f"{entry['label']}: style named correctly in {percent(entry['share'])} of "
            f"{entry['n']} answers (95% CI "
            f"{interval_text(entry['low'], entry['high'], as_percent=True)}; chance "
            f"{percent(chance)}, {p_text(entry['p_vs_chance'])})."
        )
    return {
        "notes": notes,
        "styles": styles,
        "chance": chance,
        "by_system": by_system,
        "by_style": by_style,
        "confusion": confusion,
        "generated_vs_human": comparison,
        "agreement": _agreement(rows, "style_answer", "nominal"),
    }


# --- agreement ---------------------------------------------------------------------------


def _agreement(rows, key: str, level: str, *, unit: str = "stimulus") -> dict:
    listeners = {p: i for i, p in enumerate(dict.fromkeys(r["participant"] for r in rows))}
    units = {u: i for i, u in enumerate(dict.fromkeys(r[unit] for r in rows))}
    if len(listeners) < 2 or not units:
        return {"alpha": None, "level": level, "note": "fewer than 2 listeners: no alpha"}
    data = np.full((len(listeners), len(units)), np.nan)
    values: dict = {}
    for r in rows:
        value = r.get(key)
        if value is None:
            continue
        if not isinstance(value, (int, float)):
            value = values.setdefault(value, len(values))
        data[listeners[r["participant"]], units[r[unit]]] = float(value)
    alpha = krippendorff_alpha(data, level=level)
    return {
        "alpha": alpha,
        "level": level,
        "note": None if alpha is not None else "no clip was judged by 2 listeners: no alpha",
    }


ANALYSERS = {
    "rating": analyse_ratings,
    "turing": analyse_turing,
    "pairwise": analyse_pairwise,
    "style": analyse_style,
}
