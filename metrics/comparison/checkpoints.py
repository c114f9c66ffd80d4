"""What the comparison says about each checkpoint: its label, loss unit, training figures,
learning curve and music metrics; and which checkpoints and reference it starts from."""

from __future__ import annotations

from collections import defaultdict

from generation.models import Checkpoint, CrossValidation, Dataset, SampleSet
from generation.selectors import best_checkpoint
from generation.services.training import get_family
from metrics import music
from metrics.comparison.results import (
    CheckpointFacts,
    Curve,
    FeatureDistance,
    FeatureSummary,
    MusicFigures,
    TrainingFigures,
)
from studies.models import Study


def row_key(checkpoint: Checkpoint, sample_set: SampleSet | None) -> str:
    suffix = f"/{sample_set.name}" if sample_set else ""
    return f"checkpoint {checkpoint.pk}{suffix}"


def loss_units(checkpoints: list[Checkpoint]) -> dict[int, str]:
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


def checkpoint_label(checkpoint: Checkpoint) -> str:
    if checkpoint.run_id:
        run = checkpoint.run
        config = "/".join(v for v in (run.config_name, run.preset) if v)
        return f"{run.family} {config} step {checkpoint.step}".replace("  ", " ")
    return checkpoint.label or f"{checkpoint.family} (imported)"


def checkpoint_facts(checkpoint: Checkpoint) -> CheckpointFacts:
    run = checkpoint.run
    best = best_checkpoint(run) if run else None
    return CheckpointFacts(
        id=checkpoint.pk,
        family=checkpoint.family,
        config=run.config_name if run else "",
        preset=run.preset if run else "",
        step=checkpoint.step,
        run=run.pk if run else None,
        run_label=run.label if run else None,
        run_best_step=best.step if best else None,
        dataset=checkpoint.dataset.name if checkpoint.dataset_id else None,
    )


def sample_set_label(sample_set: SampleSet | None) -> str:
    if sample_set is None:
        return ""
    style = (sample_set.settings.get("sampling") or {}).get("style")
    if style:
        return "style " + ", ".join(f"{k} {v:g}" if v != 1 else k for k, v in style.items())
    return sample_set.name


def training_figures(checkpoint: Checkpoint) -> TrainingFigures:
    def metric(split, *names):
        for name in names:
            value = checkpoint.metric(split, name)
            if value is not None:
                return value
        return None

    cross_validation = None
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
    return TrainingFigures(
        train_loss=metric("train", "loss"),
        valid_loss=metric("valid", "loss"),
        test_loss=metric("test", "loss"),
        perplexity=metric("valid", "perplexity"),
        # Piano-roll families report frame accuracy: every note of a step right.
        accuracy=metric("valid", "accuracy", "frame_accuracy"),
        note_event_accuracy=metric("valid", "note_event_accuracy"),
        cv_loss=cross_validation.mean_loss if cross_validation else None,
        cv_sd=cross_validation.sd_loss if cross_validation else None,
        cv_k=cross_validation.k if cross_validation else None,
    )


def music_figures(metrics: music.SetMetrics, distances: dict | None) -> MusicFigures:
    return MusicFigures(
        pieces=metrics.n_pieces,
        features={
            name: FeatureSummary(mean=s.mean, sd=s.sd, n=s.n)
            for name, s in metrics.summaries.items()
        },
        histograms={name: list(h) for name, h in metrics.histograms.items()},
        distances=None
        if distances is None
        else {
            name: FeatureDistance(
                overlap=d.overlap,
                kl_divergence=d.kl_divergence,
                intra_mean=d.intra_mean,
                inter_mean=d.inter_mean,
            )
            for name, d in distances.items()
        },
        mean_overlap=None if distances is None else music.mean_overlap(distances),
    )


def learning_curves(checkpoints: list[Checkpoint], units: dict[int, str]) -> list[Curve]:
    """Each compared run's validation loss over its steps, the compared steps marked."""
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
            Curve(
                run=run.pk,
                label=f"{run.family} {run.config_name}".strip() + f" #{run.pk}",
                loss_unit=units[checkpoint.pk],
                points=points,
                marked_steps=sorted(c.step for c in checkpoints if c.run_id == run.pk),
            )
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
