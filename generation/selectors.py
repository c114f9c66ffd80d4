"""Reads for pages and commands."""

from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Count, Q, QuerySet
from natsort import natsort_keygen, ns

from generation.jobs.running import may_see_job
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
from generation.zoo.base import read_checkpoint


def visible_datasets(user) -> QuerySet[Dataset]:
    """Every dataset for experimenters; for anyone else only those marked public."""
    if user.is_authenticated and user.is_staff:
        return Dataset.objects.all()
    return Dataset.objects.filter(is_public=True)


def datasets_with_counts(user) -> QuerySet[Dataset]:
    return visible_datasets(user).annotate(
        piece_count=Count("pieces"),
        train_count=Count("pieces", filter=Q(pieces__split="train")),
        valid_count=Count("pieces", filter=Q(pieces__split="valid")),
        test_count=Count("pieces", filter=Q(pieces__split="test")),
    )


def dataset_pieces(dataset: Dataset, split: str | None = None) -> QuerySet[Piece]:
    pieces = dataset.pieces.defer("quantized")
    return pieces.filter(split=split) if split else pieces


# What a person expects of names with numbers in them: bwv10.7, bwv101.7, bwv11.6 as strings
# sort bwv10.7, bwv11.6, ... bwv101.7 naturally; and "Bach" beside "bach".
_NATURAL = natsort_keygen(alg=ns.IGNORECASE)


def dataset_pieces_page(
    dataset: Dataset, split: str | None, page_number, *, per_page: int = 50
) -> Page:
    """One page of the dataset's pieces in natural order of the name the page shows. The
    database sorts names as strings, so the order is found here over (id, name) pairs and
    only the page's pieces are read whole."""
    names = dataset_pieces(dataset, split).values_list("pk", "title", "identifier")
    ordered = sorted(names, key=lambda row: (_NATURAL(row[1] or row[2]), _NATURAL(row[2])))
    page = Paginator([pk for pk, _, _ in ordered], per_page).get_page(page_number)
    found = dataset_pieces(dataset, split).in_bulk(list(page.object_list))
    page.object_list = [found[pk] for pk in page.object_list]
    return page


def recent_jobs(user, limit: int = 10) -> list[Job]:
    """The newest jobs this user may see (another experimenter's study builds are left out)."""
    visible = []
    for job in Job.objects.all().iterator(chunk_size=4 * limit):
        if may_see_job(user, job):
            visible.append(job)
            if len(visible) == limit:
                break
    return visible


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


@dataclass(frozen=True)
class RunSummary:
    """A training run as the models page lists it."""

    run: TrainingRun
    # The lowest validation loss so far (None before the first validation).
    best: Checkpoint | None

    @property
    def best_loss(self) -> float | None:
        return self.best.metric("valid", "loss") if self.best else None


def run_summaries(limit: int | None = None) -> list[RunSummary]:
    runs = training_runs(limit).prefetch_related("extra_datasets", "checkpoints")
    return [
        RunSummary(
            run=run,
            best=_lowest_validation_loss(run.checkpoints.all()),
        )
        for run in runs
    ]


def run_with_extra_datasets(runs: QuerySet[TrainingRun], extra_datasets) -> TrainingRun | None:
    """The first of `runs` trained on exactly these extra datasets (besides its first one)."""
    wanted = sorted(dataset.pk for dataset in extra_datasets)
    for run in runs.prefetch_related("extra_datasets"):
        if sorted(dataset.pk for dataset in run.extra_datasets.all()) == wanted:
            return run
    return None


def run_checkpoints(run: TrainingRun) -> QuerySet[Checkpoint]:
    return run.checkpoints.order_by("step")


def best_checkpoint(run: TrainingRun) -> Checkpoint | None:
    """The checkpoint with the lowest validation loss (ties: the earlier step)."""
    return _lowest_validation_loss(run_checkpoints(run))


def _lowest_validation_loss(checkpoints) -> Checkpoint | None:
    scored = [c for c in checkpoints if c.metric("valid", "loss") is not None]
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


# Known metrics in the order the tables show them: (key, heading, decimals).
METRIC_COLUMNS = (
    ("loss", "Loss", 4),
    ("perplexity", "Perplexity", 2),
    ("accuracy", "Accuracy", 3),
    ("note_event_accuracy", "Note-event acc.", 3),
    ("no_event_accuracy", "No-event acc.", 3),
    ("no_event_share", "No-event share", 3),
    ("n_events", "Events", 0),
    ("play_loss", "Play loss", 4),
    ("articulate_loss", "Articulate loss", 4),
    ("replay_loss", "Replay loss", 4),
    ("dynamics_loss", "Dynamics loss", 4),
    ("play_precision", "Play precision", 3),
    ("play_recall", "Play recall", 3),
    ("play_f1", "Play F1", 3),
    ("frame_accuracy", "Frame accuracy", 3),
    ("play_density", "Notes sounding", 3),
    ("n_steps", "Steps", 0),
)


def metric_columns(metric_sets) -> list[dict]:
    """The columns a table of these metric dicts needs: known ones in order, then any others a
    custom family reports."""
    present = {key for metrics in metric_sets if metrics for key in metrics}
    columns = [
        {"key": key, "label": label, "digits": digits}
        for key, label, digits in METRIC_COLUMNS
        if key in present
    ]
    known = {key for key, _, _ in METRIC_COLUMNS}
    columns += [{"key": k, "label": k, "digits": 3} for k in sorted(present - known)]
    return columns


@lru_cache(maxsize=64)
def _checkpoint_file_capabilities(path: str, sha256: str) -> tuple[tuple[str, ...], bool]:
    try:
        payload = read_checkpoint(path)
    except (OSError, ValueError, RuntimeError, EOFError):  # missing, foreign or broken file
        return (), False
    return tuple(payload.get("styles") or ()), "styles" in payload


def checkpoint_capabilities(checkpoint: Checkpoint) -> dict:
    """{"styles": the style labels it knows, "polyphonic": whether it is a piano-roll model}."""
    styles, polyphonic = _checkpoint_file_capabilities(str(checkpoint.path), checkpoint.sha256)
    return {"styles": list(styles), "polyphonic": polyphonic}


def generate_command(sample_set: SampleSet) -> str:
    """The `manage.py generate` line that draws this set again (same files, same checksums)."""
    sampling = sample_set.settings.get("sampling", {})
    primer = sample_set.settings.get("primer", {})
    parts = [
        f"python manage.py generate --checkpoint {sample_set.checkpoint_id}",
        f"--n {sampling.get('n')} --bars {sampling.get('bars')}",
        f"--temperature {sampling.get('temperature')}",
    ]
    if sampling.get("top_k"):
        parts.append(f"--top-k {sampling['top_k']}")
    parts.append(f"--seed {sampling.get('seed')} --tempo {sampling.get('tempo_qpm')}")
    parts.append(f"--program {sampling.get('program')}")
    if sampling.get("style"):
        mixture = ",".join(f"{name}={weight:g}" for name, weight in sampling["style"].items())
        parts.append(f"--style {mixture}")
    if sampling.get("adaptive_temperature") is False:
        parts.append("--no-adaptive-temperature")
    if primer.get("kind") == "piece":
        parts.append(f"--primer-piece {primer['piece_id']} --primer-bars {primer['bars']}")
    elif primer.get("kind") == "midi":
        path = settings.SAMPLE_DIR / primer["file"]
        parts.append(f"--primer-midi {path} --primer-bars {primer['bars']}")
    return " ".join(parts)
