"""Reads for pages and commands."""

from django.db.models import Count, Q, QuerySet

from generation.models import (
    Checkpoint,
    Dataset,
    Job,
    Piece,
    Rendering,
    Sample,
    SampleSet,
    TrainingRun,
)


def datasets_with_counts() -> QuerySet[Dataset]:
    return Dataset.objects.annotate(
        piece_count=Count("pieces"),
        train_count=Count("pieces", filter=Q(pieces__split="train")),
        valid_count=Count("pieces", filter=Q(pieces__split="valid")),
        test_count=Count("pieces", filter=Q(pieces__split="test")),
    )


def dataset_pieces(dataset: Dataset, split: str | None = None) -> QuerySet[Piece]:
    pieces = dataset.pieces.defer("quantized")
    return pieces.filter(split=split) if split else pieces


def recent_jobs(limit: int = 10) -> QuerySet[Job]:
    return Job.objects.all()[:limit]


def playable_rendering(piece: Piece, profile: str = "default") -> Rendering | None:
    return (
        piece.renderings.filter(status=Rendering.Status.OK, profile__name=profile)
        .order_by("-created_at")
        .first()
    )


def training_runs(limit: int | None = None) -> QuerySet[TrainingRun]:
    runs = TrainingRun.objects.select_related("dataset").annotate(
        checkpoint_count=Count("checkpoints")
    )
    return runs[:limit] if limit else runs


def run_checkpoints(run: TrainingRun) -> QuerySet[Checkpoint]:
    return run.checkpoints.order_by("step")


def best_checkpoint(run: TrainingRun) -> Checkpoint | None:
    """The checkpoint with the lowest validation loss (ties: the earlier step)."""
    scored = [c for c in run_checkpoints(run) if c.metric("valid", "loss") is not None]
    return min(scored, key=lambda c: (c.metric("valid", "loss"), c.step), default=None)


def sample_sets(limit: int | None = None) -> QuerySet[SampleSet]:
    sets = SampleSet.objects.select_related("checkpoint__run__dataset").annotate(
        sample_count=Count("samples")
    )
    return sets[:limit] if limit else sets


def sample_rendering(sample: Sample, profile: str = "default") -> Rendering | None:
    return (
        Rendering.objects.filter(
            midi_sha256=sample.midi_sha256, status=Rendering.Status.OK, profile__name=profile
        )
        .order_by("-created_at")
        .first()
    )
