"""Yes/no answers (judged human, could be human, style named right): logit mixed models
with crossed listener and clip intercepts, and the per-system shares built on them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from scipy import stats

from metrics.analysis.common import crossed_groups, share_fields, share_of, system_indicators
from metrics.analysis.design import TRAINING_GROUPS, Options
from metrics.analysis.results import (
    BinaryModelSummary,
    Sensitivity,
    SharesBySystem,
    SystemShare,
    TrainingCell,
    TrainingGroup,
)
from metrics.analysis.rows import known_listener_rows
from metrics.analysis.wording import interval_text, p_text, percent
from metrics.statistics.detection import sensitivity
from metrics.statistics.glmm import fit_binary_mixed
from metrics.statistics.proportions import binomial_test, wilson_interval

POPULATION_NOTE = (
    "population-averaged: the share over listeners and clips like these, from a logit mixed "
    "model with crossed random intercepts for listener and clip (Laplace, as lme4's glmer)"
)


@dataclass(frozen=True)
class ModelShare:
    share: float  # population-averaged
    low: float
    high: float
    typical_share: float  # the typical listener and clip
    p_value: float  # the logit contrast against its null


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

    def share(self, weights, *, confidence: float, null: float = 0.0) -> ModelShare:
        """Population-averaged share for a logit contrast, its interval and Wald test."""
        c = self.fit.contrast(weights, null=null, confidence=confidence, df=self.df)
        return ModelShare(
            share=self.fit.population_share(c.estimate),
            low=self.fit.population_share(c.low),
            high=self.fit.population_share(c.high),
            typical_share=self.fit.conditional_share(c.estimate),
            p_value=c.p_value,
        )


def fit_binary_model(rows, systems, outcome, notes, *, what: str) -> BinaryModel | None:
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
    X = system_indicators(rows, modelled)
    groups, listeners, clips = crossed_groups(rows, len(modelled))
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
    if listeners < 2:
        notes.append("Fewer than 2 listeners: listener variation cannot be estimated.")
    per_system = min(len({r["stimulus"] for r in rows if r["system"] == s}) for s in modelled)
    df = small_sample_df(groups, listeners, per_system, fit.singular)
    return BinaryModel(fit, modelled, listeners, clips, df)


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


def shares_by_system(rows, systems, block, key, what, options, notes) -> SharesBySystem | None:
    """The answers ``key`` (yes/no) system by system: pooled counts beside the logit mixed
    model's population-averaged shares, tested against 50% and against the human clips."""
    answered = [r for r in rows if r.get(key) is not None]
    if not answered:
        return None
    humans = [s for s in systems if s in block.human_systems]
    human_rows = [r for r in answered if r["system"] in humans]
    human_share = wilson_interval(sum(bool(r[key]) for r in human_rows), len(human_rows))
    model = fit_binary_model(
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
        entry = {
            "system": system,
            "human": system in humans,
            **share_fields(wilson_interval(yes, len(mine))),
            "p_vs_half": binomial_test(yes, len(mine)).p_value,
            "p_vs_human": None,
            "sensitivity": None,
            "model_share": None,
            "model_low": None,
            "model_high": None,
            "typical_share": None,
            "p_model_vs_half": None,
            "p_model_vs_human": None,
        }
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
                entry["sensitivity"] = Sensitivity(
                    d_prime=detect.d_prime, criterion=detect.criterion
                )
        if model and system in model.systems:
            weights = model.weights(system)
            estimate = model.share(weights, confidence=options.confidence)
            entry.update(
                model_share=estimate.share,
                model_low=estimate.low,
                model_high=estimate.high,
                typical_share=estimate.typical_share,
                # A population-averaged share is 50% exactly when the logit is 0.
                p_model_vs_half=estimate.p_value,
            )
            if system not in humans and human_weights is not None:
                entry["p_model_vs_human"] = model.fit.contrast(
                    weights - human_weights, confidence=options.confidence, df=model.df
                ).p_value
        entry["sentence"] = share_sentence(entry, what, human_share, humans)
        table.append(SystemShare(**entry))
    return SharesBySystem(
        question=what,
        human_reference=share_of(human_share) if human_share.n else None,
        systems_table=table,
        model=binary_summary(model),
        by_training=shares_by_training(answered, systems, key, options),
    )


def share_sentence(entry: dict, what, human_share, humans) -> str:
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


def binary_summary(model: BinaryModel | None) -> BinaryModelSummary | None:
    if model is None:
        return None
    terms = " + ".join(f"(1 | {name})" for name in model.fit.group_variances)
    return BinaryModelSummary(
        formula=f"answer ~ 0 + system{' + ' + terms if terms else ''}, logit, Laplace",
        listener_variance=model.fit.group_variances.get("listener"),
        clip_variance=model.fit.group_variances.get("clip"),
        listeners=model.listeners,
        clips=model.clips,
        measure=POPULATION_NOTE,
        tests=(
            f"Wald t on the logit scale with {model.df:.0f} degrees of freedom (the smaller "
            "of listeners and clips per system, less one)"
            if model.df is not None
            else "Wald z on the logit scale"
        ),
    )


def shares_by_training(rows, systems, key, options: Options) -> list[TrainingGroup]:
    """Per musical-training level and system: the pooled count, and the share with its t
    interval and test against 50% over the level's listeners, each listener's own share
    counting once (pooling a level's answers would treat one listener's many answers as
    independent, as the headline models avoid)."""
    split = []
    for group, levels in TRAINING_GROUPS.items():
        mine = [r for r in known_listener_rows(rows) if r.get("musical_training") in levels]
        if not mine:
            continue
        cells = {}
        for s in systems:
            answers = [r for r in mine if r["system"] == s]
            per_listener = defaultdict(list)
            for r in answers:
                per_listener[r["participant"]].append(bool(r[key]))
            cells[s] = TrainingCell(
                **share_fields(wilson_interval(sum(bool(r[key]) for r in answers), len(answers))),
                **listener_share([np.mean(v) for v in per_listener.values()], options),
            )
        split.append(
            TrainingGroup(
                group=group, listeners=len({r["participant"] for r in mine}), systems=cells
            )
        )
    return split


def listener_share(shares, options: Options) -> dict:
    """Mean of listeners' shares, its t interval and the one-sample t test against 50%
    (the listener_* fields of a TrainingCell)."""
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
