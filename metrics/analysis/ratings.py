"""Rating blocks: a linear mixed model of the ratings (Satterthwaite t and F, as
lmerTest), per-listener non-parametric checks, effect sizes, and an ordinal model."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from itertools import combinations

import numpy as np
from scipy import stats

from metrics.analysis.agreement import rating_agreement
from metrics.analysis.binary import shares_by_system
from metrics.analysis.common import (
    codes,
    crossed_groups,
    effect_of,
    finite,
    listener_group,
    system_indicators,
)
from metrics.analysis.design import BlockDesign, Options
from metrics.analysis.results import (
    FTest,
    LinearModelSummary,
    OmnibusTest,
    OrdinalEffect,
    OrdinalSummary,
    RatingOmnibus,
    RatingPair,
    SystemRating,
)
from metrics.analysis.rows import known_listener_rows, listener_known
from metrics.analysis.wording import interval_text, number_text, p_text, plural
from metrics.statistics.effect_sizes import (
    cliffs_delta,
    cohens_d,
    cohens_dz,
    hedges_g,
    rank_biserial_paired,
)
from metrics.statistics.mixed import fit_crossed_intercepts
from metrics.statistics.multiple import adjust_p_values
from metrics.statistics.ordinal import fit_cumulative_logit
from metrics.statistics.ordinal_mixed import fit_cumulative_logit_mixed


def _listener_means(rows: list[dict]) -> dict[str, dict[str, float]]:
    """system -> listener -> that listener's mean rating of the system."""
    ratings = defaultdict(lambda: defaultdict(list))
    for r in rows:
        ratings[r["system"]][r["participant"]].append(r["rating"])
    return {
        system: {p: float(np.mean(v)) for p, v in by_listener.items()}
        for system, by_listener in ratings.items()
    }


def analyse_ratings(
    block: BlockDesign, rows: list[dict], options: Options, *, ordinal: bool = True
) -> dict:
    """The rating block's own fields of a RatingBlock; ``ordinal=False`` for a scale too
    fine for an ordinal model (MUSHRA's 101 points)."""
    rows = [r for r in rows if r.get("rating") is not None]
    systems = [s for s in block.systems if any(r["system"] == s for r in rows)]
    notes = []
    model = _rating_model(rows, systems, options, notes)
    listener_means = _listener_means(known_listener_rows(rows))
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
                model_df=finite(contrast.df),
            )
        entry["sentence"] = _rating_sentence(entry)
        per_system.append(SystemRating(**entry))
    if len(systems) < 2:
        notes.append("Fewer than 2 systems have ratings: nothing to compare.")
    omnibus = _rating_omnibus(listener_means, systems, model, notes, options)
    pairwise = _rating_pairs(listener_means, systems, model, options)
    ordinal = _rating_ordinal(rows, systems, block, notes) if ordinal else None
    believability = shares_by_system(
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
        "agreement": rating_agreement(rows),
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
    X = system_indicators(rows, systems)
    groups, listeners, _ = crossed_groups(rows, len(systems))
    all_known = all(map(listener_known, rows))
    if "listener" not in groups and all_known:
        notes.append("Fewer than 2 listeners: listener variation cannot be estimated.")
    if "clip" not in groups:
        notes.append("One clip per system: clip variation cannot be told from the systems'.")
    cells = Counter((r["participant"], r["system"]) for r in rows)
    # A listener's own taste for a system is estimable only when listeners rated several
    # systems and some rated a system more than once.
    if all_known and listeners >= 2 and len(systems) >= 2 and max(cells.values()) >= 2:
        cell_codes, _ = codes([(r["participant"], r["system"]) for r in rows])
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


def _model_summary(model) -> LinearModelSummary | None:
    if model is None:
        return None
    terms = " + ".join(f"(1 | {name})" for name in model.group_variances)
    tests = (
        "Satterthwaite t and F (degrees of freedom as R's lmerTest)"
        if model.covariance_gradients is not None
        else "Wald z (large-sample): Satterthwaite degrees of freedom could not be computed"
    )
    return LinearModelSummary(
        formula=f"rating ~ 0 + system{' + ' + terms if terms else ''}, REML",
        listener_variance=model.group_variances.get("listener"),
        clip_variance=model.group_variances.get("clip"),
        listener_system_variance=model.group_variances.get("listener:system"),
        residual_variance=model.residual_variance,
        reml_criterion=model.reml_criterion,
        observations=model.n_observations,
        tests=tests,
    )


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


def _rating_omnibus(listener_means, systems, model, notes, options) -> RatingOmnibus | None:
    if len(systems) < 2:
        return None
    f_test, sentence = None, None
    if model is not None:
        # Every system against the first: zero for all rows iff all means are equal.
        contrasts = np.zeros((len(systems) - 1, len(systems)))
        contrasts[:, 0] = 1
        contrasts[np.arange(len(systems) - 1), np.arange(1, len(systems))] = -1
        test = model.f_test(contrasts)
        f_test = FTest(
            test=test.method,
            f=finite(test.f),
            df=test.numerator_df,
            denominator_df=finite(test.denominator_df),
            p_value=finite(test.p_value),
        )
        alpha = 1 - options.confidence
        ddf = number_text(test.denominator_df, 1) if test.denominator_df else "inf"
        said = f"F({test.numerator_df}, {ddf}) = {number_text(test.f)}, {p_text(test.p_value)}"
        sentence = (
            f"The systems' mean ratings differ: {said}."
            if test.p_value < alpha
            else f"No evidence that the systems' mean ratings differ ({said})."
        )
    return RatingOmnibus(
        model=f_test,
        nonparametric=_nonparametric_omnibus(listener_means, systems, notes),
        sentence=sentence,
    )


def _nonparametric_omnibus(listener_means, systems, notes) -> OmnibusTest | None:
    """Friedman (or Wilcoxon for two systems) on the per-listener means of listeners who
    rated every system; Kruskal-Wallis when too few did."""
    means = {s: listener_means[s] for s in systems}
    complete = sorted(set.intersection(*(set(m) for m in means.values())))
    values = [v for m in means.values() for v in m.values()]
    if len(set(values)) < 2:
        notes.append("Every listener gave every system the same mean: no non-parametric test.")
        return None
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
            return None
    except ValueError as error:  # e.g. every listener gave every system the same mean
        notes.append(f"No non-parametric omnibus test: {error}.")
        return None
    return OmnibusTest(
        test=label, statistic=finite(outcome.statistic), p_value=finite(outcome.pvalue)
    )


def _rating_pairs(listener_means, systems, model, options) -> list[RatingPair]:
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
                df=finite(c.df),
                method=c.method,
                p_model=c.p_value,
            )
        if len(both) >= 2:
            differences = np.array([means_a[p] - means_b[p] for p in both])
            entry["nonparametric_test"] = f"Wilcoxon signed-rank, {len(both)} listeners"
            if np.any(differences != 0):
                entry["p_nonparametric"] = float(stats.wilcoxon(differences).pvalue)
            entry["effect_sizes"] = [
                effect_of(cohens_dz(differences, confidence=options.confidence)),
                effect_of(rank_biserial_paired(differences, confidence=options.confidence)),
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
                effect_of(cohens_d(values_a, values_b, confidence=options.confidence)),
                effect_of(hedges_g(values_a, values_b, confidence=options.confidence)),
                effect_of(cliffs_delta(values_a, values_b, confidence=options.confidence)),
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
    return [RatingPair(**p) for p in pairs]


def _rating_ordinal(rows, systems, block, notes) -> OrdinalSummary | None:
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
    listener_codes, _ = listener_group(rows)
    y = [level[r["rating"]] for r in rows]
    mixed = listener_codes is not None
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
        OrdinalEffect(
            system=system,
            log_odds=finite(fit.coefficients[k]),
            standard_error=finite(fit.standard_errors[k]),
            odds_ratio=finite(math.exp(fit.coefficients[k])),
            p_value=finite(fit.p_values[k]),
        )
        for k, system in enumerate(systems[1:])
    ]
    model = (
        "cumulative logit mixed model (as ordinal::clmm), rating ~ system + (1 | listener), Laplace"
        if mixed
        else "cumulative logit (proportional odds), rating ~ system; one listener, so no "
        "listener effect"
    )
    return OrdinalSummary(
        model=model,
        reference=systems[0],
        effects=effects,
        listener_sd=finite(fit.listener_sd) if mixed else None,
        converged=fit.converged,
    )
