"""Checkpoint comparison: training metrics, objective music metrics and listener results in
one table, and how far the objective measures agree with the listeners.

``build_comparison`` reads the checkpoints, their samples, a reference split and (optionally)
a study, and returns a JSON-ready dict; the page, the ``compare`` command and the exports
only format it, so every format shows the same numbers.
"""

from __future__ import annotations

import json
from collections import defaultdict
from html import escape

import numpy as np
from django.utils import timezone

from generation.charts.curves import line_chart_svg
from generation.models import Checkpoint, CrossValidation, Dataset, Piece, SampleSet
from generation.selectors import best_checkpoint
from generation.services.training import get_family
from metrics import music, plots
from metrics.analysis import Options, kept_rows, main_trials
from metrics.analysis.results import PairwiseBlock, RatingBlock, Report, plain, to_json_data
from metrics.reports import (
    Table,
    build_report,
    human_shares,
    software_versions,
    tables_to_csv_zip,
    tables_to_latex,
)
from metrics.statistics.correlation import spearman
from studies import selectors as study_selectors
from studies.models import Study

# Below this many checkpoints a correlation says little; the page says so in words.
FEW_CHECKPOINTS = 8
TRAINING_COLUMNS = {
    "train_loss": "training loss",
    "valid_loss": "validation loss",
    "test_loss": "test loss",
    "perplexity": "validation perplexity",
    "accuracy": "validation accuracy",
    "note_event_accuracy": "note-event accuracy",
    "cv_loss": "k-fold CV loss",
}
LISTENER_MEASURES = {
    "rating": "mean rating",
    "human_share": "judged human",
    "strength": "Bradley-Terry strength",
}
# A row's listener columns (the reference row has no Bradley-Terry strength).
RATING_AND_HUMAN_FIELDS = (
    "rating", "rating_low", "rating_high", "human_share", "human_low", "human_high",
)  # fmt: skip
STRENGTH_FIELDS = ("strength", "strength_low", "strength_high")
# The objective measures the scatter-plot matrix shows (the agreement table has them all).
HEADLINE_OBJECTIVES = (
    "valid_loss",
    "accuracy",
    "mean_overlap",
    "pitch_class_entropy",
    "scale_consistency",
    "repetition",
)


class ComparisonError(ValueError):
    """The comparison cannot be built as asked (unknown split, no checkpoints...)."""


def _row_key(checkpoint: Checkpoint, sample_set: SampleSet | None) -> str:
    suffix = f"/{sample_set.name}" if sample_set else ""
    return f"checkpoint {checkpoint.pk}{suffix}"


def _loss_units(checkpoints: list[Checkpoint]) -> dict[int, str]:
    """Per checkpoint, what one loss value is per: losses are comparable only within a unit."""
    families = {}
    for name in {c.family for c in checkpoints}:
        try:
            families[name] = get_family(name)
        except ValueError:  # a family no longer installed
            families[name] = None
    units = {}
    for checkpoint in checkpoints:
        family = families[checkpoint.family]
        if family is None:
            units[checkpoint.pk] = checkpoint.family
        elif hasattr(family, "codec_name"):
            units[checkpoint.pk] = f"nats per {family.codec_name(checkpoint.options)} token"
        else:
            units[checkpoint.pk] = f"{checkpoint.family} piano-roll loss"
    return units


def _checkpoint_label(checkpoint: Checkpoint) -> str:
    if checkpoint.run_id:
        run = checkpoint.run
        config = "/".join(v for v in (run.config_name, run.preset) if v)
        return f"{run.family} {config} step {checkpoint.step}".replace("  ", " ")
    return checkpoint.label or f"{checkpoint.family} (imported)"


def _about_checkpoint(checkpoint: Checkpoint, loss_unit: str) -> dict:
    """What a row says about its checkpoint: the same for each of its sample sets."""
    run = checkpoint.run
    best = best_checkpoint(run) if run else None
    return {
        "label": _checkpoint_label(checkpoint),
        "checkpoint": {
            "id": checkpoint.pk,
            "family": checkpoint.family,
            "config": run.config_name if run else "",
            "preset": run.preset if run else "",
            "step": checkpoint.step,
            "run": run.pk if run else None,
            "run_label": run.label if run else None,
            "run_best_step": best.step if best else None,
            "dataset": checkpoint.dataset.name if checkpoint.dataset_id else None,
        },
        "loss_unit": loss_unit,
        "training": _training(checkpoint),
    }


def _sample_set_label(sample_set: SampleSet | None) -> str:
    if sample_set is None:
        return ""
    style = (sample_set.settings.get("sampling") or {}).get("style")
    if style:
        return "style " + ", ".join(f"{k} {v:g}" if v != 1 else k for k, v in style.items())
    return sample_set.name


def _training(checkpoint: Checkpoint) -> dict:
    def metric(split, *names):
        for name in names:
            value = checkpoint.metric(split, name)
            if value is not None:
                return value
        return None

    row = {
        "train_loss": metric("train", "loss"),
        "valid_loss": metric("valid", "loss"),
        "test_loss": metric("test", "loss"),
        "perplexity": metric("valid", "perplexity"),
        # Piano-roll families report frame accuracy: every note of a step right.
        "accuracy": metric("valid", "accuracy", "frame_accuracy"),
        "note_event_accuracy": metric("valid", "note_event_accuracy"),
        "cv_loss": None,
        "cv_sd": None,
        "cv_k": None,
    }
    if checkpoint.run_id:
        run = checkpoint.run
        cross_validation = (
            CrossValidation.objects.filter(
                family=run.family,
                config_name=run.config_name,
                preset=run.preset,
                dataset=run.dataset_id,
                mean_loss__isnull=False,
            )
            .order_by("-created_at")
            .first()
        )
        if cross_validation:
            row.update(
                cv_loss=cross_validation.mean_loss,
                cv_sd=cross_validation.sd_loss,
                cv_k=cross_validation.k,
            )
    return row


def _music(metrics: music.SetMetrics, distances: dict | None) -> dict:
    out = {
        "pieces": metrics.n_pieces,
        "features": {
            name: {"mean": s.mean, "sd": s.sd, "n": s.n} for name, s in metrics.summaries.items()
        },
        "histograms": {name: list(h) for name, h in metrics.histograms.items()},
    }
    if distances is not None:
        out["distances"] = {
            name: {
                "overlap": d.overlap,
                "kl_divergence": d.kl_divergence,
                "intra_mean": d.intra_mean,
                "inter_mean": d.inter_mean,
            }
            for name, d in distances.items()
        }
        out["mean_overlap"] = music.mean_overlap(distances)
    return out


# --- listener results ----------------------------------------------------------------------


def studies_with(checkpoints, among=None) -> list[Study]:
    """Studies (of `among`, default all) in which any of these checkpoints' samples were
    heard, newest first."""
    studies = Study.objects.all() if among is None else among
    return list(
        studies.filter(systems__sample_set__checkpoint__in=checkpoints)
        .distinct()
        .order_by("-created_at")
    )


def _listener_results(report: Report) -> dict[str, dict]:
    """Per system name: the first rating block's mean (mixed-model CI), the judged-human
    share (a Turing block's, else a rating block's "could a human have composed this?"),
    and the first pairwise block's Bradley-Terry strength."""
    results: dict[str, dict] = defaultdict(dict)
    for block in report.blocks:
        if isinstance(block, RatingBlock):
            for row in block.systems_table:
                if "rating" in results[row.system]:
                    continue
                modelled = row.model_mean is not None
                results[row.system].update(
                    rating=row.model_mean if modelled else row.mean,
                    rating_low=row.model_low if modelled else row.listener_t_low,
                    rating_high=row.model_high if modelled else row.listener_t_high,
                    rating_answers=row.answers,
                    rating_scale=list(block.scale) if block.scale else None,
                )
        shares = human_shares(block)
        if shares and shares.systems_table:
            for row in shares.systems_table:
                current = results[row.system]
                # The first Turing block's direct question wins over a rating block's side
                # question; a rating block counts only when nothing came before it.
                taken_from = current.get("human_from")
                if taken_from == "turing" or (taken_from and block.kind != "turing"):
                    continue
                # The listener- and clip-aware share where the model could be fitted.
                modelled = row.model_share is not None
                current.update(
                    human_share=row.model_share if modelled else row.share,
                    human_low=row.model_low if modelled else row.low,
                    human_high=row.model_high if modelled else row.high,
                    human_answers=row.n,
                    human_from=block.kind,
                    human_question=shares.question,
                )
        if isinstance(block, PairwiseBlock):
            bt = block.bradley_terry
            if not bt.estimable:
                continue
            for row in bt.strengths:
                if "strength" in results[row.system]:
                    continue
                is_reference = row.system == bt.reference
                results[row.system].update(
                    strength=row.ability,
                    # The reference is fixed at 0: it has no interval of its own.
                    strength_low=None if is_reference else row.low,
                    strength_high=None if is_reference else row.high,
                    strength_reference=bt.reference,
                )
    return dict(results)


def _stimulus_answers(answer_rows: list[dict], include_simulated: bool) -> dict[int, dict]:
    """Per stimulus: its mean rating (in the first rating block that played it) and its
    judged-human share (Turing answers, else "could a human..." answers), from the answers
    the report counts."""
    rows = main_trials(kept_rows(answer_rows, include_simulated=include_simulated))
    ratings: dict[int, list] = defaultdict(list)
    judged: dict[int, list] = defaultdict(list)
    could_be: dict[int, list] = defaultdict(list)
    # Two rating blocks may use different scales: a clip's ratings come from one block.
    rating_block: dict[int, int] = {}
    for row in rows:
        stimulus = row["stimulus"]
        if row.get("rating") is not None:
            block = rating_block.setdefault(stimulus, row["block"])
            if block > row["block"]:
                rating_block[stimulus] = row["block"]
                ratings[stimulus] = []
            if row["block"] == rating_block[stimulus]:
                ratings[stimulus].append(row["rating"])
        if row.get("judged_human") is not None:
            judged[stimulus].append(bool(row["judged_human"]))
        if row.get("could_be_human") is not None:
            could_be[stimulus].append(bool(row["could_be_human"]))
    out = {}
    for stimulus in set(ratings) | set(judged) | set(could_be):
        human = judged.get(stimulus) or could_be.get(stimulus)
        out[stimulus] = {
            "rating": float(np.mean(ratings[stimulus])) if ratings.get(stimulus) else None,
            "human_share": float(np.mean(human)) if human else None,
            "answers": len(ratings.get(stimulus, [])) + len(human or []),
        }
    return out


# --- agreement -----------------------------------------------------------------------------


def _objective_measures(row: dict) -> dict[str, float | None]:
    measures = {name: row["training"].get(name) for name in ("valid_loss", "accuracy")}
    music_part = row.get("music") or {}
    measures["mean_overlap"] = music_part.get("mean_overlap")
    for name, summary in (music_part.get("features") or {}).items():
        measures[name] = summary["mean"]
    for name, distance in (music_part.get("distances") or {}).items():
        measures[f"overlap_{name}"] = distance["overlap"]
    return measures


def objective_title(name: str) -> str:
    if name in TRAINING_COLUMNS:
        return TRAINING_COLUMNS[name]
    if name == "mean_overlap":
        return "mean overlap with reference"
    if name.startswith("overlap_"):
        return f"overlap: {music.feature_title(name.removeprefix('overlap_'))}"
    return music.feature_title(name)


def _undefined_reason(xs, ys, rho) -> str | None:
    if rho is not None:
        return None
    if len(xs) < 3:
        return "fewer than 3 points: no correlation"
    if len(set(xs)) < 2 or len(set(ys)) < 2:
        return "one measure is the same for every point: a correlation is undefined"
    return "no correlation could be computed"


def _correlate(points: list[tuple], objective: str, listener: str, options: Options) -> dict:
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    result = spearman(xs, ys, confidence=options.confidence, seed=0)
    return {
        "objective": objective,
        "objective_title": objective_title(objective),
        "listener": listener,
        "listener_title": LISTENER_MEASURES[listener],
        "n": result.n,
        "rho": result.rho,
        "low": result.low,
        "high": result.high,
        "p_value": result.p_value,
        "p_method": result.p_method,
        "undefined": _undefined_reason(xs, ys, result.rho),
        "points": [[x, y] for x, y in points],
    }


def _agreement_across_checkpoints(entries: list[dict], options: Options) -> tuple[list, list]:
    notes = []
    heard = [e for e in entries if e.get("listeners")]
    units = defaultdict(list)
    for entry in heard:
        units[entry["loss_unit"]].append(entry)
    comparable = max(units.values(), key=len) if units else []
    if len(units) > 1:
        notes.append(
            "Losses and accuracies are in different units for different encodings; their "
            f"correlations use only the {len(comparable)} heard checkpoints measured in "
            f"{comparable[0]['loss_unit']}."
        )
    comparable_keys = {e["key"] for e in comparable}
    out = []
    # Every measure any heard checkpoint has (one without samples has no music metrics).
    objectives = list(dict.fromkeys(name for e in heard for name in _objective_measures(e)))
    for objective in objectives:
        for listener in LISTENER_MEASURES:
            points = []
            for entry in heard:
                if objective in ("valid_loss", "accuracy") and entry["key"] not in comparable_keys:
                    continue
                x = _objective_measures(entry).get(objective)
                y = entry["listeners"].get(listener)
                if x is not None and y is not None:
                    points.append((x, y))
            if len(points) >= 3:
                out.append(_correlate(points, objective, listener, options))
    n = len(heard)
    if 0 < n < FEW_CHECKPOINTS:
        notes.append(
            f"Only {n} heard checkpoint{'s' if n != 1 else ''}: a rank correlation over so few "
            "points is fragile (one checkpoint can flip its sign) and its interval is wide. "
            "Read these as a description of these checkpoints, not as evidence that a metric "
            "tracks what listeners hear."
        )
    elif n == 0:
        notes.append("None of these checkpoints was heard in the chosen study.")
    return out, notes


def _agreement_across_stimuli(stimuli: list[dict], options: Options) -> list[dict]:
    out = []
    for objective in music.SCALAR_FEATURES:
        for listener in ("rating", "human_share"):
            points = [
                (s["features"][objective], s[listener])
                for s in stimuli
                if s["features"].get(objective) is not None and s.get(listener) is not None
            ]
            if len(points) >= 3:
                out.append(_correlate(points, objective, listener, options))
    return out


# --- checkpoint chooser --------------------------------------------------------------------


def _listener_score(listeners: dict | None) -> tuple[str, float] | None:
    for measure in ("rating", "human_share", "strength"):
        if listeners and listeners.get(measure) is not None:
            return measure, listeners[measure]
    return None


def _choosers(entries: list[dict]) -> list[dict]:
    """Per run with two or more compared checkpoints: the best by validation loss and the
    best by what listeners said (the first measure all its heard checkpoints share)."""
    by_run = defaultdict(list)
    for entry in entries:
        if entry["checkpoint"]["run"]:
            by_run[entry["checkpoint"]["run"]].append(entry)
    out = []
    for run_id, run_entries in by_run.items():
        steps = {e["checkpoint"]["step"] for e in run_entries}
        if len(steps) < 2:
            continue
        with_loss = [e for e in run_entries if e["training"]["valid_loss"] is not None]
        best_loss = min(
            with_loss,
            key=lambda e: (e["training"]["valid_loss"], e["checkpoint"]["step"]),
            default=None,
        )
        best_listened = measure = None
        for candidate in ("rating", "human_share", "strength"):
            heard = [
                e for e in run_entries if (e.get("listeners") or {}).get(candidate) is not None
            ]
            if len({e["checkpoint"]["step"] for e in heard}) >= 2:
                measure = candidate
                best_listened = max(
                    heard, key=lambda e: (e["listeners"][candidate], -e["checkpoint"]["step"])
                )
                break
        agree = None
        verdict = None
        if best_loss and best_listened:
            agree = best_loss["checkpoint"]["step"] == best_listened["checkpoint"]["step"]
            verdict = "agree" if agree else _verdict(best_loss, best_listened, measure)
            if verdict == "tie":
                agree = None
        out.append(
            {
                "run": run_id,
                "run_label": run_entries[0]["checkpoint"]["run_label"],
                "steps": sorted(steps),
                "best_by_loss": best_loss["key"] if best_loss else None,
                "best_by_loss_step": best_loss["checkpoint"]["step"] if best_loss else None,
                "run_best_step": run_entries[0]["checkpoint"]["run_best_step"],
                "listener_measure": measure,
                "listener_measure_title": LISTENER_MEASURES.get(measure),
                "best_by_listeners": best_listened["key"] if best_listened else None,
                "best_by_listeners_step": best_listened["checkpoint"]["step"]
                if best_listened
                else None,
                "agree": agree,
                "verdict": verdict,
            }
        )
    return out


# The interval keys of each listener measure in _listener_results.
_INTERVALS = {
    "rating": ("rating_low", "rating_high"),
    "human_share": ("human_low", "human_high"),
    "strength": ("strength_low", "strength_high"),
}


def _verdict(best_loss: dict, best_listened: dict, measure: str) -> str:
    """ "disagree" only when listeners told the two checkpoints apart: equal values, or
    intervals that overlap, are a tie, not a disagreement."""
    by_loss = best_loss.get("listeners") or {}
    by_listeners = best_listened["listeners"]
    if by_loss.get(measure) is None:
        return "disagree"
    if by_loss[measure] == by_listeners[measure]:
        return "tie"
    low_key, high_key = _INTERVALS[measure]
    lows = (by_loss.get(low_key), by_listeners.get(low_key))
    highs = (by_loss.get(high_key), by_listeners.get(high_key))
    if None in lows or None in highs:
        return "disagree"
    # The loss's pick is worse by listeners; a tie if its upper end reaches the best's lower.
    return "tie" if highs[0] >= lows[1] else "disagree"


# --- the whole comparison ------------------------------------------------------------------


def _curves(checkpoints: list[Checkpoint], loss_units: dict[int, str]) -> list[dict]:
    curves, seen = [], set()
    for checkpoint in checkpoints:
        run = checkpoint.run
        if run is None or run.pk in seen:
            continue
        seen.add(run.pk)
        points = [
            [entry["step"], (entry.get("valid") or {}).get("loss")]
            for entry in run.history
            if (entry.get("valid") or {}).get("loss") is not None
        ]
        curves.append(
            {
                "run": run.pk,
                "label": f"{run.family} {run.config_name}".strip() + f" #{run.pk}",
                "loss_unit": loss_units[checkpoint.pk],
                "points": points,
                "marked_steps": sorted(c.step for c in checkpoints if c.run_id == run.pk),
            }
        )
    return curves


def checkpoints_with_samples() -> list[Checkpoint]:
    """What the comparison page shows before anything is picked: every checkpoint that has
    generated samples (music metrics need samples)."""
    return list(
        Checkpoint.objects.filter(sample_sets__kind=SampleSet.Kind.GENERATED)
        .distinct()
        .select_related("run")
    )


def checkpoints_in(study: Study) -> list[Checkpoint]:
    """The checkpoints whose samples a study played."""
    played = study.systems.filter(sample_set__checkpoint__isnull=False).values(
        "sample_set__checkpoint"
    )
    return list(Checkpoint.objects.filter(pk__in=played).select_related("run"))


def default_reference(checkpoints) -> Dataset | None:
    """The dataset most of these checkpoints learnt from."""
    counts: dict[int, int] = defaultdict(int)
    datasets = {}
    for checkpoint in checkpoints:
        for dataset in checkpoint.datasets[:1]:
            counts[dataset.pk] += 1
            datasets[dataset.pk] = dataset
    if not counts:
        return Dataset.objects.order_by("name").first()
    return datasets[max(counts, key=lambda pk: (counts[pk], -pk))]


def has_real_listeners(study: Study) -> bool:
    return study.participants.filter(
        is_preview=False, is_simulated=False, trials__response__isnull=False
    ).exists()


def build_comparison(
    checkpoints,
    *,
    dataset: Dataset,
    split: str = "test",
    study: Study | None = None,
    include_simulated: bool = False,
    options: Options | None = None,
) -> dict:
    options = options or Options()
    checkpoints = sorted(
        Checkpoint.objects.filter(pk__in=[c.pk for c in checkpoints]).select_related("run"),
        key=lambda c: (c.family, c.run_id or 0, c.step),
    )
    if not checkpoints:
        raise ComparisonError("Pick at least one checkpoint.")
    pieces = Piece.objects.filter(dataset=dataset)
    if split != "all":
        pieces = pieces.filter(split=split)
    reference_pieces = [p.load() for p in pieces.only("quantized")]
    if len(reference_pieces) < 2:
        raise ComparisonError(
            f"The {split} split of {dataset.name} has {len(reference_pieces)} pieces; "
            "the reference needs at least two."
        )
    reference = music.set_metrics(reference_pieces)

    report = None
    listener_by_system: dict[str, dict] = {}
    systems = []
    answers_by_stimulus: dict[int, dict] = {}
    if study is not None:
        answer_rows = study_selectors.answer_rows(study)
        report = build_report(
            study, include_simulated=include_simulated, options=options, rows=answer_rows
        )
        listener_by_system = _listener_results(report)
        systems = list(study.systems.all())
        answers_by_stimulus = _stimulus_answers(answer_rows, include_simulated)

    loss_units = _loss_units(checkpoints)
    stimuli_rows = []
    rows = []
    for checkpoint in checkpoints:
        about = _about_checkpoint(checkpoint, loss_units[checkpoint.pk])
        sample_sets = checkpoint.sample_sets.filter(kind=SampleSet.Kind.GENERATED)
        for sample_set in list(sample_sets.order_by("created_at")) or [None]:
            set_music = None
            features_of: dict[int, dict] = {}
            if sample_set is not None:
                samples = list(sample_set.samples.all())
                metrics = music.set_metrics(s.load() for s in samples)
                set_music = _music(metrics, music.feature_distances(metrics, reference))
                features_of = {
                    s.pk: (s.index, f) for s, f in zip(samples, metrics.pieces, strict=True)
                }
            system = next(
                (s for s in systems if sample_set and s.sample_set_id == sample_set.pk), None
            )
            listeners = None
            if system is not None:
                listeners = {"system": system.name, **listener_by_system.get(system.name, {})}
                for stimulus in system.stimuli.filter(sample__isnull=False).only("sample_id"):
                    answers = answers_by_stimulus.get(stimulus.pk)
                    if answers:
                        index, features = features_of[stimulus.sample_id]
                        stimuli_rows.append(
                            {
                                "stimulus": stimulus.pk,
                                "system": system.name,
                                "sample": index,
                                "features": {k: features[k] for k in music.SCALAR_FEATURES},
                                **answers,
                            }
                        )
            rows.append(
                {
                    "key": _row_key(checkpoint, sample_set),
                    "label": about["label"],
                    "sample_set": sample_set.name if sample_set else None,
                    "sample_set_label": _sample_set_label(sample_set),
                    "checkpoint": about["checkpoint"],
                    "loss_unit": about["loss_unit"],
                    "training": about["training"],
                    "music": set_music,
                    "listeners": listeners,
                }
            )

    reference_listeners = None
    for system in systems:
        if system.is_human and system.dataset_id == dataset.pk:
            reference_listeners = {"system": system.name, **listener_by_system.get(system.name, {})}
            break

    across_checkpoints, notes = _agreement_across_checkpoints(rows, options)
    across_stimuli = _agreement_across_stimuli(stimuli_rows, options)
    if across_stimuli:
        notes.append(
            "Across clips, each clip's music metrics are those of its whole sample; listeners "
            "heard an excerpt of at most "
            f"{study.design.clip_seconds:g} seconds."
        )
    if report and report.include_simulated and report.listeners.simulated:
        notes.append(
            "Listener results include simulated listeners: they show how the comparison "
            "reads, not what people heard."
        )
    return plain(
        {
            "generated_at": timezone.now().isoformat(timespec="seconds"),
            "versions": software_versions(),
            "confidence": options.confidence,
            "reference": {
                "dataset": dataset.name,
                "split": split,
                "pieces": reference.n_pieces,
                "music": _music(reference, None),
                "listeners": reference_listeners,
            },
            "study": {"slug": study.slug, "title": study.title} if study else None,
            "include_simulated": include_simulated,
            "listener_count": to_json_data(report.listeners) if report else None,
            "entries": rows,
            "curves": _curves(checkpoints, loss_units),
            "choosers": _choosers(rows),
            "agreement": {
                "across_checkpoints": across_checkpoints,
                "across_stimuli": across_stimuli,
                "notes": notes,
            },
        }
    )


# --- tables for CSV, LaTeX and the command line ---------------------------------------------


def _flat_row(entry: dict) -> dict:
    row = {
        "checkpoint": entry["checkpoint"]["id"],
        "model": entry["label"],
        "samples": entry["sample_set_label"] or entry["sample_set"],
        "sample_set": entry["sample_set"],
        "family": entry["checkpoint"]["family"],
        "config": entry["checkpoint"]["config"],
        "step": entry["checkpoint"]["step"],
        "loss_unit": entry["loss_unit"],
        **{name: entry["training"][name] for name in TRAINING_COLUMNS},
    }
    music_part = entry.get("music") or {}
    for name, summary in (music_part.get("features") or {}).items():
        row[name] = summary["mean"]
    row["mean_overlap"] = music_part.get("mean_overlap")
    for name, distance in (music_part.get("distances") or {}).items():
        row[f"overlap_{name}"] = distance["overlap"]
        row[f"kl_{name}"] = distance["kl_divergence"]
    listeners = entry.get("listeners") or {}
    row.update({name: listeners.get(name) for name in ("system", *RATING_AND_HUMAN_FIELDS)})
    row.update({name: listeners.get(name) for name in STRENGTH_FIELDS})
    return row


def _reference_row(comparison: dict) -> dict:
    reference = comparison["reference"]
    row = {
        "model": f"reference: {reference['dataset']} ({reference['split']})",
        "samples": f"{reference['pieces']} pieces",
    }
    for name, summary in reference["music"]["features"].items():
        row[name] = summary["mean"]
    listeners = reference.get("listeners") or {}
    row.update({name: listeners.get(name) for name in ("system", *RATING_AND_HUMAN_FIELDS)})
    return row


def tables(comparison: dict) -> list[Table]:
    entries = [_flat_row(e) for e in comparison["entries"]]
    reference = _reference_row(comparison)
    training_columns = ["checkpoint", "model", "family", "config", "step", "loss_unit",
                        *TRAINING_COLUMNS]  # fmt: skip
    music_columns = ["model", "samples", *music.SCALAR_FEATURES, "mean_overlap"]
    overlap_columns = ["model", "samples"] + [f"overlap_{n}" for n in music.FEATURES]
    listener_columns = ["model", "samples", "system", *RATING_AND_HUMAN_FIELDS, *STRENGTH_FIELDS]
    agreement_columns = [
        "objective_title",
        "listener_title",
        "n",
        "rho",
        "low",
        "high",
        "p_value",
        "p_method",
    ]
    out = [
        Table("training", "Training metrics per checkpoint (validation split unless named)",
              training_columns, [[r.get(c) for c in training_columns] for r in entries]),
        Table("music", "Music metrics: mean over each sample set's pieces, and the reference",
              music_columns, [[r.get(c) for c in music_columns] for r in [*entries, reference]]),
        Table("overlap", "Overlap of each feature's inter-set distances with the reference's "
              "intra-set distances (Yang & Lerch 2018; 1 = like the reference)",
              overlap_columns, [[r.get(c) for c in overlap_columns] for r in entries]),
    ]  # fmt: skip
    if comparison["study"]:
        out.append(Table(
            "listeners",
            f"Listener results in study {comparison['study']['slug']}",
            listener_columns,
            [[r.get(c) for c in listener_columns] for r in [*entries, reference]
             if r.get("system")],
        ))  # fmt: skip
        for scope in ("across_checkpoints", "across_stimuli"):
            records = comparison["agreement"][scope]
            if records:
                out.append(Table(
                    f"agreement_{scope}",
                    f"Spearman correlation {scope.replace('_', ' ')} "
                    "(bootstrap percentile interval)",
                    agreement_columns,
                    [[r.get(c) for c in agreement_columns] for r in records],
                ))  # fmt: skip
    return out


def to_text(comparison: dict) -> str:
    """The command line's table: training, music summary and listeners side by side."""
    columns = [
        ("model", "model", 40),
        ("samples", "samples", 30),
        ("valid_loss", "valid loss", 10),
        ("accuracy", "accuracy", 8),
        ("test_loss", "test loss", 9),
        ("cv_loss", "CV loss", 8),
        ("pitch_class_entropy", "PC entropy", 10),
        ("scale_consistency", "scale", 6),
        ("repetition", "repeats", 7),
        ("mean_overlap", "overlap", 7),
        ("rating", "rating", 6),
        ("human_share", "human", 6),
        ("strength", "BT", 6),
    ]

    def cell(value, width):
        if value is None:
            text = "-"
        elif isinstance(value, float):
            text = f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"
        else:
            text = str(value)
        return text[:width].ljust(width)

    rows = [_flat_row(e) for e in comparison["entries"]] + [_reference_row(comparison)]
    lines = ["  ".join(title.ljust(width) for _, title, width in columns)]
    for row in rows:
        lines.append("  ".join(cell(row.get(key), width) for key, _, width in columns))
    for chooser in comparison["choosers"]:
        line = (
            f"{chooser['run_label']}: best by validation loss step {chooser['best_by_loss_step']}"
        )
        if chooser["best_by_listeners_step"] is not None:
            line += (
                f", by {chooser['listener_measure_title']} step "
                f"{chooser['best_by_listeners_step']}"
                + {
                    "agree": " (they agree)",
                    "tie": " (listeners cannot tell these apart)",
                }.get(chooser.get("verdict"), " (they DISAGREE)")
            )
        lines.append(line)
    for note in comparison["agreement"]["notes"]:
        lines.append(f"note: {note}")
    return "\n".join(lines) + "\n"


def spearman_summary(record: dict) -> str:
    if record["rho"] is None:
        return "undefined"
    text = f"rho = {record['rho']:.2f}"
    if record["low"] is not None:
        text += f" [{record['low']:.2f}, {record['high']:.2f}]"
    return text


def to_csv_zip(comparison: dict) -> bytes:
    return tables_to_csv_zip(tables(comparison))


def to_latex(comparison: dict) -> str:
    heading = (
        f"earshot checkpoint comparison against {comparison['reference']['dataset']} "
        f"({comparison['reference']['split']}), generated {comparison['generated_at']}"
    )
    return tables_to_latex(tables(comparison), heading=heading, label_prefix="comparison")


def to_json(comparison: dict) -> str:
    return json.dumps(comparison, indent=2, allow_nan=False)


FORMATS = {
    "zip": ("application/zip", to_csv_zip),
    "tex": ("text/x-tex; charset=utf-8", to_latex),
    "json": ("application/json", to_json),
    "txt": ("text/plain; charset=utf-8", to_text),
}


# --- the page ------------------------------------------------------------------------------


def _curve_charts(comparison: dict) -> list[dict]:
    by_unit = defaultdict(list)
    for curve in comparison["curves"]:
        by_unit[curve["loss_unit"]].append(curve)
    charts = []
    for unit, curves in by_unit.items():
        series = [(escape(c["label"]), [tuple(p) for p in c["points"]]) for c in curves]
        charts.append(
            {
                "unit": unit,
                "svg": line_chart_svg(
                    series,
                    y_label="validation loss",
                    height=max(280, 60 + 18 * len(series)),
                ),
            }
        )
    return charts


def _scatter(comparison: dict) -> str | None:
    records = {
        (r["objective"], r["listener"]): r for r in comparison["agreement"]["across_checkpoints"]
    }
    listeners = [m for m in LISTENER_MEASURES if any(k[1] == m for k in records)]
    objectives = [o for o in HEADLINE_OBJECTIVES if any(k[0] == o for k in records)]
    if not listeners or not objectives:
        return None
    cells = [
        [
            {"points": records[(o, m)]["points"], "caption": spearman_summary(records[(o, m)])}
            if (o, m) in records
            else None
            for m in listeners
        ]
        for o in objectives
    ]
    return plots.scatter_matrix(
        cells,
        row_labels=[objective_title(o) for o in objectives],
        column_labels=[LISTENER_MEASURES[m] for m in listeners],
        title="Objective measures (rows) against listener results (columns), one dot per "
        "heard checkpoint",
    )


def page_context(comparison: dict) -> dict:
    return {
        "rows": [_flat_row(e) for e in comparison["entries"]],
        "reference_row": _reference_row(comparison),
        "music_features": [(n, t) for n, t in music.SCALAR_FEATURES.items()],
        "overlap_features": [(f"overlap_{n}", music.feature_title(n)) for n in music.FEATURES],
        "curve_charts": _curve_charts(comparison),
        "scatter": _scatter(comparison),
    }
