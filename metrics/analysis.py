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

from metrics.statistics.agreement import intraclass_correlation, krippendorff_alpha
from metrics.statistics.bradley_terry import Comparison, fit_bradley_terry
from metrics.statistics.detection import sensitivity
from metrics.statistics.effect_sizes import (
    cliffs_delta,
    cohens_d,
    cohens_dz,
    hedges_g,
    rank_biserial_paired,
)
from metrics.statistics.glmm import fit_binary_mixed
from metrics.statistics.mixed import fit_crossed_intercepts
from metrics.statistics.multiple import METHODS, adjust_p_values
from metrics.statistics.ordinal import fit_cumulative_logit
from metrics.statistics.ordinal_mixed import fit_cumulative_logit_mixed
from metrics.statistics.proportions import binomial_test, two_proportions, wilson_interval
from studies.answers import MUSICAL_TRAINING

# Musical training answers (0-5, see studies.answers.MUSICAL_TRAINING), each level its own
# group: merging levels hides which listeners the result rests on.
TRAINING_GROUPS = {label: (level,) for level, label in MUSICAL_TRAINING.items()}


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
    correction: str = "holm"  # or "bh", "bonferroni"
    dprime_correction: str = "log-linear"  # or "none"

    def __post_init__(self):
        if self.correction not in METHODS:
            raise ValueError(f"correction must be one of {sorted(METHODS)}")
        if self.dprime_correction not in ("log-linear", "none"):
            raise ValueError("dprime_correction must be 'log-linear' or 'none'")
        if not 0.5 <= self.confidence < 1:
            raise ValueError("confidence must lie in [0.5, 1)")


# --- wording -----------------------------------------------------------------------------


def percent(share: float | None, digits: int = 1) -> str:
    return "n/a" if share is None else f"{share * 100:.{digits}f}%"


def p_text(p: float | None) -> str:
    if p is None:
        return "no test"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def number_text(value: float | None, digits: int = 2) -> str:
    """A statistic for a sentence: never hundreds of digits, never 'nan'."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.{digits}f}" if abs(value) < 1e4 else f"{value:.3g}"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


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


def clip_name(row: dict) -> str:
    """Where a clip came from, as a reader can find it: the piece's file name, or the sample
    set and the sample's index in it."""
    if row.get("piece"):
        return str(row["piece"])
    if row.get("sample_set") is not None:
        index = row.get("sample_index")
        return f"{row['sample_set']} #{index}" if index is not None else str(row["sample_set"])
    return f"clip {row['stimulus']}"


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
        result["headline"] = headline(result, options) if block_rows else None
        result["checks"] = _checks_and_repeats(
            block, [r for r in kept if r["block"] == block.number]
        )
        analysed.append(result)
    return {
        "confidence": options.confidence,
        "dprime_correction": options.dprime_correction,
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
                model_mean=contrast.estimate,
                model_low=contrast.low,
                model_high=contrast.high,
                model_df=_finite(contrast.df),
            )
        entry["sentence"] = _rating_sentence(entry)
        per_system.append(entry)
    if len(systems) < 2:
        notes.append("Fewer than 2 systems have ratings: nothing to compare.")
    omnibus = _rating_omnibus(listener_means, systems, model, notes, options)
    pairwise = _rating_pairs(listener_means, systems, model, options)
    ordinal = _rating_ordinal(rows, systems, block, notes)
    believability = _shares_by_system(
        rows,
        systems,
        block,
        "could_be_human",
        "could have been composed by a human",
        options,
        notes,
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
        "agreement": {**_agreement(rows, "rating", "interval"), "icc": _rating_icc(rows)},
    }


def _rating_model(rows, systems, options, notes):
    ratings = [r["rating"] for r in rows]
    if len(set(ratings)) < 2:
        notes.append(
            f"Every rating was {number_text(float(ratings[0]), 0) if ratings else 'missing'}: "
            "there is no variation to model, so the block has no intervals and no tests."
        )
        return None
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
    else:
        notes.append("One clip per system: clip variation cannot be told from the systems'.")
    cells = Counter((r["participant"], r["system"]) for r in rows)
    # A listener's own taste for a system is estimable only when listeners rated several
    # systems and some rated a system more than once.
    if len(listeners) >= 2 and len(systems) >= 2 and max(cells.values()) >= 2:
        cell_codes, _ = _codes([(r["participant"], r["system"]) for r in rows])
        with_cells = {**groups, "listener:system": cell_codes}
    else:
        with_cells = None
    try:
        if with_cells is not None:
            fit = fit_crossed_intercepts(ratings, X, with_cells)
            if "listener:system" not in fit.singular:
                return fit
            notes.append(
                "The listener-by-system variance was estimated at zero (a singular fit), so "
                "the model was simplified to listener and clip intercepts."
            )
        fit = fit_crossed_intercepts(ratings, X, groups)
    except (ValueError, np.linalg.LinAlgError) as error:
        notes.append(f"The mixed model could not be fitted ({error}).")
        return None
    for name in fit.singular:
        notes.append(
            f"The {name} variance was estimated at zero (a boundary fit): the data show no "
            f"{name}-to-{name} spread beyond the residual."
        )
    return fit


def _model_summary(model) -> dict | None:
    if model is None:
        return None
    terms = " + ".join(f"(1 | {name})" for name in model.group_variances)
    tests = (
        "Satterthwaite t and F (degrees of freedom as R's lmerTest)"
        if model.covariance_gradients is not None
        else "Wald z (large-sample): Satterthwaite degrees of freedom could not be computed"
    )
    return {
        "formula": f"rating ~ 0 + system{' + ' + terms if terms else ''}, REML",
        "listener_variance": model.group_variances.get("listener"),
        "clip_variance": model.group_variances.get("clip"),
        "listener_system_variance": model.group_variances.get("listener:system"),
        "residual_variance": model.residual_variance,
        "reml_criterion": model.reml_criterion,
        "observations": model.n_observations,
        "tests": tests,
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
        f"{plural(entry['listeners'], 'listener')}, {plural(entry['answers'], 'rating')})."
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
        test = model.f_test(contrasts)
        result["model"] = {
            "test": test.method,
            "f": _finite(test.f),
            "df": test.numerator_df,
            "denominator_df": _finite(test.denominator_df),
            "p_value": _finite(test.p_value),
        }
        alpha = 1 - options.confidence
        ddf = number_text(test.denominator_df, 1) if test.denominator_df else "inf"
        said = f"F({test.numerator_df}, {ddf}) = {number_text(test.f)}, {p_text(test.p_value)}"
        result["sentence"] = (
            f"The systems' mean ratings differ: {said}."
            if test.p_value < alpha
            else f"No evidence that the systems' mean ratings differ ({said})."
        )
    means = {s: listener_means[s] for s in systems}
    complete = sorted(set.intersection(*(set(m) for m in means.values())))
    values = [v for m in means.values() for v in m.values()]
    if len(set(values)) < 2:
        notes.append("Every listener gave every system the same mean: no non-parametric test.")
        return result
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
            entry.update(
                difference=c.estimate,
                low=c.low,
                high=c.high,
                statistic=c.statistic,
                df=_finite(c.df),
                method=c.method,
                p_model=c.p_value,
            )
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
                _effect(hedges_g(values_a, values_b, confidence=options.confidence)),
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
    listener_codes, listeners = _codes([r["participant"] for r in rows])
    y = [level[r["rating"]] for r in rows]
    mixed = len(listeners) >= 2
    try:
        fit = (
            fit_cumulative_logit_mixed(y, X, listener_codes)
            if mixed
            else fit_cumulative_logit(y, X)
        )
    except Exception as error:  # degenerate data make either optimiser fail in several ways
        notes.append(f"The ordinal model could not be fitted ({type(error).__name__}).")
        return None
    if np.any(np.abs(fit.coefficients) > 15):
        notes.append(
            "The ordinal model ran off to infinity (some system's ratings all sit above or "
            "below another's): no ordinal check."
        )
        return None
    effects = [
        {
            "system": system,
            "log_odds": _finite(fit.coefficients[k]),
            "standard_error": _finite(fit.standard_errors[k]),
            "odds_ratio": _finite(math.exp(fit.coefficients[k])),
            "p_value": _finite(fit.p_values[k]),
        }
        for k, system in enumerate(systems[1:])
    ]
    model = (
        "cumulative logit mixed model (as ordinal::clmm), rating ~ system + (1 | listener), Laplace"
        if mixed
        else "cumulative logit (proportional odds), rating ~ system; one listener, so no "
        "listener effect"
    )
    return {
        "model": model,
        "reference": systems[0],
        "effects": effects,
        "listener_sd": _finite(fit.listener_sd) if mixed else None,
        "converged": fit.converged,
    }


# --- binary answers: listener- and clip-aware models -----------------------------------

POPULATION_NOTE = (
    "population-averaged: the share over listeners and clips like these, from a logit mixed "
    "model with crossed random intercepts for listener and clip (Laplace, as lme4's glmer)"
)


@dataclass(frozen=True)
class BinaryModel:
    """A logit mixed model of yes/no answers with one coefficient per system."""

    fit: object  # BinaryMixedFit
    systems: list[str]  # the modelled systems, in coefficient order
    listeners: int
    clips: int
    df: float | None  # for t tests; see small_sample_df

    def weights(self, system: str) -> np.ndarray:
        return np.eye(len(self.systems))[self.systems.index(system)]

    def share(self, weights, *, confidence: float, null: float = 0.0) -> dict:
        """Population-averaged share for a logit contrast, its interval and Wald test."""
        c = self.fit.contrast(weights, null=null, confidence=confidence, df=self.df)
        return {
            "share": self.fit.population_share(c.estimate),
            "low": self.fit.population_share(c.low),
            "high": self.fit.population_share(c.high),
            "typical_share": self.fit.conditional_share(c.estimate),
            "logit": c.estimate,
            "standard_error": c.standard_error,
            "z": c.z,
            "p_value": c.p_value,
        }


def _binary_model(rows, systems, outcome, notes, *, what: str) -> BinaryModel | None:
    """Fit outcome(row) in {0, 1} ~ 0 + system + (1 | listener) + (1 | clip).

    Systems whose answers all went one way cannot be modelled (their logit is infinite):
    they are named in a note and left out of the model, never given an absurd interval."""
    modelled, one_way = [], {}
    for system in systems:
        values = {outcome(r) for r in rows if r["system"] == system}
        if len(values) == 1:
            one_way[system] = "yes" if values == {1} else "no"
        elif values:
            modelled.append(system)
    if one_way:
        listed = ", ".join(f"{system} '{answer}'" for system, answer in one_way.items())
        notes.append(
            f"Every answer {what} went one way for {listed}: a share at the edge of the scale "
            "has no finite logit, so the model leaves "
            + ("that system" if len(one_way) == 1 else "those systems")
            + " out and reports only the count."
        )
    rows = [r for r in rows if r["system"] in modelled]
    if not modelled or len(rows) < 2 * len(modelled):
        return None
    index = {s: i for i, s in enumerate(modelled)}
    X = np.zeros((len(rows), len(modelled)))
    X[np.arange(len(rows)), [index[r["system"]] for r in rows]] = 1
    groups = {}
    listener_codes, listeners = _codes([r["participant"] for r in rows])
    if len(listeners) >= 2:
        groups["listener"] = listener_codes
    clip_codes, clips = _codes([r["stimulus"] for r in rows])
    if len(clips) > len(modelled):
        groups["clip"] = clip_codes
    try:
        fit = fit_binary_mixed([outcome(r) for r in rows], X, groups)
    except (ValueError, np.linalg.LinAlgError) as error:
        notes.append(f"The logit mixed model could not be fitted ({error}).")
        return None
    if fit.separated:
        notes.append(
            "The logit mixed model ran off to infinity (nearly every answer went one way): "
            "no model-based shares."
        )
        return None
    for name in fit.singular:
        notes.append(
            f"The {name} variance of the logit model for the answers {what} was estimated at "
            f"zero (a boundary fit): they show no {name}-to-{name} spread beyond chance."
        )
    if len(listeners) < 2:
        notes.append("Fewer than 2 listeners: listener variation cannot be estimated.")
    per_system = min(len({r["stimulus"] for r in rows if r["system"] == s}) for s in modelled)
    df = small_sample_df(groups, len(listeners), per_system, fit.singular)
    return BinaryModel(fit, modelled, len(listeners), len(clips), df)


def small_sample_df(
    groups: dict, listeners: int, clips_per_system: int, singular: tuple = ()
) -> float | None:
    """Degrees of freedom for the logit models' t tests: one less than the smaller of the
    listener count and the clip count behind a system, the sampling units a share
    generalises over (a between-within rule, like SAS's containment method). glmer prints
    z, which with 12 listeners rejected a true 50% in 9% of simulated studies at nominal 5%
    (benchmarks/inference_calibration.py). A factor whose variance was estimated at zero
    limits nothing; None (z) when no random effect is left."""
    units = []
    if "listener" in groups and "listener" not in singular:
        units.append(listeners)
    clip_factor = "clip" if "clip" in groups else "clip pair"
    if clip_factor in groups and clip_factor not in singular:
        units.append(clips_per_system)
    return float(min(units) - 1) if units and min(units) > 1 else None


# --- shares judged human -----------------------------------------------------------------


def _shares_by_system(rows, systems, block, key, what, options, notes) -> dict | None:
    answered = [r for r in rows if r.get(key) is not None]
    if not answered:
        return None
    humans = [s for s in systems if s in block.human_systems]
    human_rows = [r for r in answered if r["system"] in humans]
    human_share = wilson_interval(sum(bool(r[key]) for r in human_rows), len(human_rows))
    model = _binary_model(
        answered, systems, lambda r: int(bool(r[key])), notes, what=f"to 'they {what}?'"
    )
    modelled_humans = [s for s in humans if model and s in model.systems]
    human_weights = (
        sum(model.weights(s) for s in modelled_humans) / len(modelled_humans)
        if modelled_humans
        else None
    )
    table = []
    for system in systems:
        mine = [r for r in answered if r["system"] == system]
        yes = sum(bool(r[key]) for r in mine)
        share = wilson_interval(yes, len(mine))
        entry = {"system": system, "human": system in humans, **_share(share)}
        entry["p_vs_half"] = binomial_test(yes, len(mine)).p_value
        entry["p_vs_human"] = None
        entry["sensitivity"] = None
        entry.update(
            model_share=None, model_low=None, model_high=None, typical_share=None,
            p_model_vs_half=None, p_model_vs_human=None,
        )  # fmt: skip
        if system not in humans and human_share.n:
            entry["p_vs_human"] = binomial_test(
                yes, len(mine), null_share=human_share.share
            ).p_value
            detect = sensitivity(
                human_share.successes,
                human_share.n,
                yes,
                len(mine),
                correction=options.dprime_correction,
            )
            if detect is not None:
                entry["sensitivity"] = {"d_prime": detect.d_prime, "criterion": detect.criterion}
        if model and system in model.systems:
            weights = model.weights(system)
            estimate = model.share(weights, confidence=options.confidence)
            entry.update(
                model_share=estimate["share"],
                model_low=estimate["low"],
                model_high=estimate["high"],
                typical_share=estimate["typical_share"],
                # A population-averaged share is 50% exactly when the logit is 0.
                p_model_vs_half=estimate["p_value"],
            )
            if system not in humans and human_weights is not None:
                entry["p_model_vs_human"] = model.fit.contrast(
                    weights - human_weights, confidence=options.confidence, df=model.df
                ).p_value
        entry["sentence"] = _share_sentence(entry, what, human_share, humans)
        table.append(entry)
    return {
        "question": what,
        "human_reference": _share(human_share) if human_share.n else None,
        "systems_table": table,
        "model": _binary_summary(model),
        "by_training": _shares_by_training(answered, systems, key, options),
    }


def _share_sentence(entry, what, human_share, humans) -> str:
    system = entry["system"]
    if entry["model_share"] is not None:
        said = (
            f"Listeners said {system}'s clips {what} in {percent(entry['model_share'])} of "
            f"answers (population-averaged, 95% CI "
            f"{interval_text(entry['model_low'], entry['model_high'], as_percent=True)}, "
            f"{entry['n']} answers"
        )
        if entry["p_model_vs_human"] is not None:
            said += f"; vs human clips {p_text(entry['p_model_vs_human'])}"
        return said + ")."
    return (
        f"Listeners said {system}'s clips {what} in {percent(entry['share'])} of "
        f"{entry['n']} answers (95% CI "
        f"{interval_text(entry['low'], entry['high'], as_percent=True)}, pooled, no model)"
        + (
            f"; human clips: {percent(human_share.share)}."
            if system not in humans and human_share.n
            else "."
        )
    )


def _binary_summary(model: BinaryModel | None) -> dict | None:
    if model is None:
        return None
    terms = " + ".join(f"(1 | {name})" for name in model.fit.group_variances)
    return {
        "formula": f"answer ~ 0 + system{' + ' + terms if terms else ''}, logit, Laplace",
        "listener_variance": model.fit.group_variances.get("listener"),
        "clip_variance": model.fit.group_variances.get("clip"),
        "listeners": model.listeners,
        "clips": model.clips,
        "measure": POPULATION_NOTE,
        "tests": (
            f"Wald t on the logit scale with {model.df:.0f} degrees of freedom (the smaller "
            "of listeners and clips per system, less one)"
            if model.df is not None
            else "Wald z on the logit scale"
        ),
    }


def _shares_by_training(rows, systems, key, options: Options) -> list[dict]:
    """Per musical-training level and system: the pooled count, and the share with its t
    interval and test against 50% over the level's listeners, each listener's own share
    counting once (pooling a level's answers would treat one listener's many answers as
    independent, as the headline models avoid)."""
    split = []
    for group, levels in TRAINING_GROUPS.items():
        mine = [r for r in rows if r.get("musical_training") in levels]
        if not mine:
            continue
        cells = {}
        for s in systems:
            answers = [r for r in mine if r["system"] == s]
            per_listener = defaultdict(list)
            for r in answers:
                per_listener[r["participant"]].append(bool(r[key]))
            cells[s] = {
                **_share(wilson_interval(sum(bool(r[key]) for r in answers), len(answers))),
                **_listener_share([np.mean(v) for v in per_listener.values()], options),
            }
        split.append(
            {
                "group": group,
                "listeners": len({r["participant"] for r in mine}),
                "systems": cells,
            }
        )
    return split


def _listener_share(shares, options: Options) -> dict:
    """Mean of listeners' shares, its t interval and the one-sample t test against 50%."""
    out = {
        "listener_share": float(np.mean(shares)) if shares else None,
        "listener_low": None,
        "listener_high": None,
        "listener_p": None,
    }
    values = np.asarray(shares, float)
    if len(values) < 2 or np.ptp(values) == 0:
        return out
    low, high = stats.t.interval(
        options.confidence, len(values) - 1, loc=values.mean(), scale=stats.sem(values)
    )
    out.update(
        listener_low=max(float(low), 0.0),
        listener_high=min(float(high), 1.0),
        listener_p=float(stats.ttest_1samp(values, 0.5).pvalue),
    )
    return out


def analyse_turing(block: BlockDesign, rows: list[dict], options: Options) -> dict:
    rows = [r for r in rows if r.get("judged_human") is not None]
    systems = [s for s in block.systems if any(r["system"] == s for r in rows)]
    notes = []
    if not any(s in block.human_systems for s in systems):
        notes.append("No human clips answered yet: no comparison with human music.")
    shares = _shares_by_system(rows, systems, block, "judged_human", "were human", options, notes)
    stimuli = defaultdict(list)
    for r in rows:
        stimuli[(r["system"], r["stimulus"], clip_name(r))].append(bool(r["judged_human"]))
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
    majority = Counter(c["system"] for c in per_stimulus if c["share"] and c["share"] > 0.5)
    return {
        "notes": notes,
        **(shares or {}),
        "per_stimulus": per_stimulus,
        "clips_judged_human_by_majority": {
            s: {
                "clips": majority[s],
                "of": sum(1 for c in per_stimulus if c["system"] == s),
            }
            for s in systems
        },
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
    listener_codes, listeners = _codes([r["participant"] for r in mine])
    if len(listeners) >= 2:
        groups["listener"] = listener_codes
    unit_codes, units = _codes([_pair_unit(r) for r in mine])
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
    df = small_sample_df(groups, len(listeners), len(units), fit.singular)
    c = fit.contrast(np.eye(X.shape[1])[0], confidence=options.confidence, df=df)
    result = {
        "model_share": fit.population_share(c.estimate),
        "model_low": fit.population_share(c.low),
        "model_high": fit.population_share(c.high),
        "p_model": c.p_value,
        "listeners_modelled": len(listeners),
        "first_position_odds_ratio": None,
        "p_first_position": None,
    }
    if X.shape[1] == 2:
        order_effect = fit.contrast([0, 1], confidence=options.confidence, df=df)
        result["first_position_odds_ratio"] = _finite(math.exp(order_effect.estimate))
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
    model = _binary_model(
        rows,
        systems,
        lambda r: int(r["style_answer"] == r["true_style"]),
        notes,
        what="to 'was the style named right?'",
    )
    chance_logit = model.fit.logit_for_population_share(chance) if model and chance else None
    for entry in by_system:
        entry.update(model_share=None, model_low=None, model_high=None, p_model_vs_chance=None)
        if model and entry["label"] in model.systems:
            estimate = model.share(
                model.weights(entry["label"]), confidence=options.confidence, null=chance_logit
            )
            entry.update(
                model_share=estimate["share"],
                model_low=estimate["low"],
                model_high=estimate["high"],
                p_model_vs_chance=estimate["p_value"],
            )
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
        if entry["model_share"] is not None:
            entry["sentence"] = (
                f"{entry['label']}: style named correctly in {percent(entry['model_share'])} of "
                f"answers (population-averaged, 95% CI "
                f"{interval_text(entry['model_low'], entry['model_high'], as_percent=True)}; "
                f"chance {percent(chance)}, {p_text(entry['p_model_vs_chance'])}; "
                f"{entry['n']} answers)."
            )
            continue
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
        "model": _binary_summary(model),
        "confusion": confusion,
        "generated_vs_human": comparison,
        "agreement": _agreement(rows, "style_answer", "nominal"),
    }


# --- the one-screen summary --------------------------------------------------------------


def headline(block: dict, options: Options) -> dict | None:
    """One table and one sentence per block: the estimate a reader looks for first."""
    kind = block["kind"]
    alpha = 1 - options.confidence
    rows, measure, method, finding = [], "", "", ""
    if kind == "rating" and block.get("systems_table"):
        for s in block["systems_table"]:
            modelled = s["model_mean"] is not None
            rows.append(
                {
                    "label": s["system"],
                    "human": s["human"],
                    "estimate": s["model_mean"] if modelled else s["mean"],
                    "low": s["model_low"] if modelled else s["listener_t_low"],
                    "high": s["model_high"] if modelled else s["listener_t_high"],
                    "n": s["answers"],
                    "percent": False,
                }
            )
        model = block.get("model")
        measure = "mean rating"
        method = (
            f"linear mixed model {model['formula']}; {model['tests']}"
            if model
            else "no model (see the notes): per-listener t intervals where there are any"
        )
        significant = _significant_sentences(block.get("pairwise") or [], alpha)
        finding = (block.get("omnibus") or {}).get("sentence", "")
        block["significant_pairs"] = significant
    elif kind in ("turing",) and block.get("systems_table"):
        for s in block["systems_table"]:
            rows.append(_share_row(s, s["system"], s["human"], p=s.get("p_model_vs_human")))
        measure = "share judged human"
        method = _binary_method(block.get("model"))
        machine = [r for r in rows if not r["human"] and r["p"] is not None and r["p"] < alpha]
        finding = (
            f"{plural(len(machine), 'system')} judged human less (or more) often than the "
            f"human clips at the {percent(alpha, 0)} level."
            if any(r["human"] for r in rows)
            else "No human reference answered: shares are compared with 50% only."
        )
    elif kind == "pairwise" and block.get("pairs"):
        for p in block["pairs"]:
            row = _share_row(p, f"{p['first']} over {p['second']}", False)
            row["p"] = p.get("p_model_adjusted", p.get("p_adjusted"))
            rows.append(row)
        measure = "share preferring the first-named system"
        method = (
            "logit mixed model per pair, answer ~ 1 + order + (1 | listener) + (1 | clip pair), "
            "Laplace; order balanced out; Wald t on the smaller of listeners and clip pairs "
            "less one degrees of freedom, "
            f"{METHODS[options.correction]}-adjusted"
        )
        finding = (
            " ".join(_significant_sentences(block["pairs"], alpha))
            or "No pair shows a preference after correction."
        )
    elif kind == "style" and block.get("by_system"):
        for s in block["by_system"]:
            rows.append(
                _share_row(s, s["label"], s.get("human", False), p=s.get("p_model_vs_chance"))
            )
        measure = f"share of styles named right (chance {percent(block.get('chance'))})"
        method = _binary_method(block.get("model"))
        finding = (block.get("generated_vs_human") or {}).get("sentence", "")
    else:
        return None
    return {
        "measure": measure,
        "method": method,
        "rows": rows,
        "finding": finding,
        "listeners": block["listeners"],
        "answers": block["answers"],
    }


def _significant_sentences(comparisons: list[dict], alpha: float) -> list[str]:
    """The sentences of the comparisons whose model test survives the correction."""
    return [
        c["sentence"]
        for c in comparisons
        if c.get("p_model_adjusted") is not None and c["p_model_adjusted"] < alpha
    ]


def _share_row(entry, label, human, *, p=None) -> dict:
    modelled = entry.get("model_share") is not None
    return {
        "label": label,
        "human": human,
        "estimate": entry["model_share"] if modelled else entry["share"],
        "low": entry["model_low"] if modelled else entry["low"],
        "high": entry["model_high"] if modelled else entry["high"],
        "n": entry["n"],
        "p": p,
        "percent": True,
        "pooled": not modelled,
    }


def _binary_method(model: dict | None) -> str:
    if model is None:
        return "pooled Wilson intervals (no model could be fitted; see the notes)"
    return (
        f"logit mixed model {model['formula']} over {plural(model['listeners'], 'listener')} "
        f"and {plural(model['clips'], 'clip')}; shares are {model['measure'].split(':')[0]}; "
        f"{model['tests']}"
    )


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


def _rating_icc(rows) -> dict:
    icc = intraclass_correlation(
        [r["rating"] for r in rows], [r["participant"] for r in rows], [r["stimulus"] for r in rows]
    )
    if icc is None:
        return {
            "agreement": None,
            "note": "no intraclass correlation: it needs 2 listeners, 2 clips and ratings "
            "that vary",
        }
    return {
        "agreement": icc.agreement,
        "consistency": icc.consistency,
        "average_agreement": icc.average_agreement,
        "listeners_per_clip": icc.listeners_per_clip,
        "note": None,
    }


ANALYSERS = {
    "rating": analyse_ratings,
    "turing": analyse_turing,
    "pairwise": analyse_pairwise,
    "style": analyse_style,
}
