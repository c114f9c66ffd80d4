"""Writes around training: runs, checkpoints, evaluations and cross-validation."""

from __future__ import annotations

import hashlib
import logging
import math
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import torch
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.env import is_device_name
from generation import zoo
from generation.evaluation import jsb_chorales
from generation.jobs.running import ProgressCallback
from generation.models import (
    TRANSFER_KINDS,
    Checkpoint,
    CrossValidation,
    Dataset,
    Piece,
    TrainingRun,
)
from generation.music.scores import QuantizedPiece
from generation.music.splits import kfold
from generation.selectors import run_with_extra_datasets
from generation.zoo import ModelFamily, available_families, resolve_options
from generation.zoo.base import TRAINING_KEYS, parse_option_value, write_atomically
from generation.zoo.devices import pick_device
from generation.zoo.interface import (
    ChecksOptions,
    Evaluable,
    Placeable,
    Styled,
    Trainable,
    Transferable,
    check_generator,
    continues_training,
    fit_options,
    records_step,
)
from generation.zoo.trainer import RESUME_FORMAT, Shard, TrainingCallback, TrainingConfig

logger = logging.getLogger("earshot.training")


def families() -> dict[str, ModelFamily]:
    return available_families(settings.MODEL_FAMILIES)


def get_family(name: str) -> ModelFamily:
    return zoo.get_family(name, settings.MODEL_FAMILIES)


@cache
def code_version() -> str:
    """The git commit when run from a checkout, else the installed package version."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        try:
            return f"earshot {version('earshot')}"
        except PackageNotFoundError:
            return "unknown"


def device_for(name: str = ""):
    """The torch device for a run's or a command's device name; empty: EARSHOT_DEVICE.
    ValueError when this machine lacks it."""
    return pick_device(name or settings.DEVICE)


def check_device_name(name: str) -> str:
    """A device name a run may keep (checked on the machine that trains it, which may not be
    this one); ValueError for a name that is none."""
    name = (name or "").strip().lower()
    if name and not is_device_name(name):
        raise ValueError(f"unknown device {name!r}; choose auto, cpu, cuda, cuda:N or mps")
    return name


def use_torch_threads() -> None:
    if settings.TORCH_THREADS:
        torch.set_num_threads(settings.TORCH_THREADS)


def json_safe(value):
    """Metrics for JSON columns: PostgreSQL's jsonb refuses NaN and Infinity."""
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def parse_overrides(pairs: Sequence[str]) -> dict:
    """["hidden_size=64", "dropout=0.5"] -> {"hidden_size": 64, "dropout": 0.5}."""
    overrides = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key.strip():
            raise ValueError(f"--set takes key=value, got {pair!r}")
        overrides[key.strip()] = parse_option_value(value.strip())
    return overrides


def load_pieces(
    datasets: Dataset | Sequence[Dataset], split: str | Sequence[str]
) -> list[QuantizedPiece]:
    """The pieces of one or more datasets, each labelled with its style (the piece's own label,
    else its dataset's style, else the dataset's name) for the style-conditioned models."""
    datasets = [datasets] if isinstance(datasets, Dataset) else list(datasets)
    splits = [split] if isinstance(split, str) else list(split)
    pieces = []
    for dataset in datasets:
        rows = Piece.objects.filter(dataset=dataset, split__in=splits).order_by("identifier")
        for row in rows.only("quantized", "style"):
            piece = row.load()
            style = row.style or dataset.style or dataset.name
            pieces.append(replace(piece, extra={**piece.extra, "style": style}))
    return pieces


def resolve_configuration(
    family: str,
    *,
    config: str | None,
    preset: str | None,
    overrides: dict | None,
    seed: int,
) -> tuple[ModelFamily, dict, TrainingConfig]:
    """(family, model options, training config), every option checked before any work starts."""
    model_family = get_family(family)
    model_options, training_options = resolve_options(
        model_family, config=config, preset=preset, overrides=overrides
    )
    training = TrainingConfig.from_dict({**training_options, "seed": seed})
    if isinstance(model_family, ChecksOptions):
        model_family.split_options(model_options)
    return model_family, model_options, training


def create_run(
    *,
    family: str,
    dataset: Dataset,
    extra_datasets: Sequence[Dataset] = (),
    config: str | None = None,
    preset: str | None = None,
    overrides: dict | None = None,
    seed: int = 0,
    parent: Checkpoint | None = None,
    transfer: str = "",
    reuse_pending: bool = False,
    device: str = "",
) -> TrainingRun:
    """A queued run, its options checked now so that a typo fails here and not in the worker.

    extra_datasets: trained on together with `dataset` (DeepJ learns one style per label).
    parent + transfer: continue from a checkpoint on the new data, as it is ("extended") or
    with its output layer re-initialised ("fine-tune"); the model options are the parent's.
    reuse_pending: return an identical run that is still queued or running instead of a
    second one (a form submitted twice).
    device: where it trains (auto, cpu, cuda, cuda:N, mps); empty: the worker's EARSHOT_DEVICE.
    """
    device = check_device_name(device)
    if parent is not None:
        if transfer not in TRANSFER_KINDS:
            raise ValueError(
                f"transfer must be one of {', '.join(TRANSFER_KINDS)}, got {transfer!r}"
            )
        if parent.family != family:
            raise ValueError(f"checkpoint {parent.pk} is a {parent.family}, not a {family}")
        if not parent.path.exists():
            raise ValueError(f"the weights of checkpoint {parent.pk} are missing")
        model_keys = set(overrides or {}) - TRAINING_KEYS
        if model_keys:
            raise ValueError(
                f"a transfer run keeps the parent's model; only training options can change, "
                f"not {sorted(model_keys)}"
            )
    elif transfer:
        raise ValueError("a transfer run needs the checkpoint it starts from")
    _, model_options, training = resolve_configuration(
        family, config=config, preset=preset, overrides=overrides, seed=seed
    )
    if parent is not None:
        model_options = dict(parent.options)
        parent_generator = load_generator(parent)
        if not continues_training(parent_generator):
            raise ValueError(
                f"a {family} model is counted, not trained: there is nothing to continue"
            )
        if transfer == "fine-tune" and not isinstance(parent_generator, Transferable):
            raise ValueError(f"{family} has no output layer to re-initialise; use extended")
    extra_datasets = [d for d in dict.fromkeys(extra_datasets) if d != dataset]
    for each in [dataset, *extra_datasets]:
        if not each.pieces.filter(split="train").exists():
            raise ValueError(f"dataset {each.name} has no training pieces")
    identity = {
        "family": family,
        "config_name": config or "",
        "preset": preset or "",
        "options": model_options,
        "training": training.to_dict(),
        "dataset": dataset,
    }
    identity.update(parent=parent, transfer=transfer if parent else "")
    if reuse_pending:
        pending = TrainingRun.objects.filter(
            **identity, status__in=[TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING]
        )
        run = run_with_extra_datasets(pending, extra_datasets)
        if run is not None:
            return run
    with transaction.atomic():
        run = TrainingRun.objects.create(
            **identity,
            seed=seed,
            device=device,
            total_steps=training.steps,
            code_version=code_version(),
        )
        run.extra_datasets.set(extra_datasets)
    return run


def _sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


class RunRecorder(TrainingCallback):
    """Keeps the TrainingRun row current and turns every checkpoint into a file and a row."""

    def __init__(
        self,
        run: TrainingRun,
        generator,
        *,
        progress: ProgressCallback | None = None,
        min_interval: float = 1.0,
    ) -> None:
        self.run = run
        self.generator = generator
        self.progress = progress
        self.min_interval = min_interval
        self._last_write = 0.0
        self.directory = settings.CHECKPOINT_DIR / f"run-{run.pk}"

    def on_start(self, total_steps: int, info: dict) -> None:
        self.run.total_steps = total_steps
        self.run.info = json_safe(info)
        TrainingRun.objects.filter(pk=self.run.pk).update(
            total_steps=total_steps, info=self.run.info
        )

    def on_step(self, step: int, total_steps: int, loss: float) -> None:
        now = time.monotonic()
        if step < total_steps and now - self._last_write < self.min_interval:
            return
        self._last_write = now
        TrainingRun.objects.filter(pk=self.run.pk).update(step=step)
        if self.progress:
            shown = f"loss {loss:.3f}" if math.isfinite(loss) else "counting"
            self.progress(step, total_steps, f"step {step} of {total_steps}, {shown}")

    def on_evaluation(self, step: int, metrics: dict) -> None:
        entry = json_safe({"step": step, **metrics})
        self.run.history.append(entry)
        self.run.latest_metrics = entry
        TrainingRun.objects.filter(pk=self.run.pk).update(
            step=step, history=self.run.history, latest_metrics=entry
        )

    def on_checkpoint(self, step: int, metrics: dict) -> None:
        path = self.directory / f"step-{step:07d}.pt"
        if records_step(self.generator):
            self.generator.save(path, step=step)
        else:  # a family whose checkpoints do not record the step: save(path) alone
            self.generator.save(path)
        Checkpoint.objects.update_or_create(
            run=self.run,
            step=step,
            defaults={
                "family": self.run.family,
                "options": self.run.options,
                "dataset": self.run.dataset,
                "split": "train",
                "metrics": json_safe(metrics),
                "file": str(path.relative_to(settings.CHECKPOINT_DIR)),
                "sha256": _sha256(path),
                "seed": self.run.seed,
                "code_version": self.run.code_version,
            },
        )

    def on_resume_point(self, step: int, point: dict) -> None:
        """Written after the checkpoint it goes with, replacing the one before: a worker killed
        at any moment leaves either the old point or the new one whole."""
        write_atomically(resume_file(self.run), point)

    def on_end(self, step: int, stopped_early: bool) -> None:
        TrainingRun.objects.filter(pk=self.run.pk).update(step=step, stopped_early=stopped_early)


def resume_file(run: TrainingRun) -> Path:
    """Where a run keeps the point it would go on from if its worker died; removed at the end."""
    return settings.CHECKPOINT_DIR / f"run-{run.pk}" / "resume.pt"


def read_resume_point(run: TrainingRun) -> dict | None:
    """The run's last resume point, or None (none written yet, or unreadable: then the run
    starts over rather than failing on a file a crash may have damaged)."""
    path = resume_file(run)
    if not path.exists():
        return None
    try:
        point = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        logger.warning("run %s: its resume point %s is unreadable; starting over", run.pk, path)
        return None
    if not isinstance(point, dict) or point.get("format") != RESUME_FORMAT:
        return None
    return point


def _going_on_from(run: TrainingRun, point: dict | None) -> None:
    """The run's row as it stood at the resume point: later evaluations are done again."""
    if point is None:
        history, resumed = [], list(run.resumed_at)
    else:
        history = [entry for entry in run.history if entry.get("step", 0) <= point["step"]]
        resumed = [*run.resumed_at, point["step"]]
    run.history = history
    run.latest_metrics = history[-1] if history else {}
    run.resumed_at = resumed
    run.step = point["step"] if point else 0
    TrainingRun.objects.filter(pk=run.pk).update(
        history=history, latest_metrics=run.latest_metrics, resumed_at=resumed, step=run.step
    )


def train(
    run: TrainingRun,
    *,
    progress: ProgressCallback | None = None,
    callbacks: Sequence[TrainingCallback] = (),
    shard: Shard | None = None,
    device=None,
) -> TrainingRun:
    """Train a run to the end; the run is marked failed (and the error kept) if it raises.

    A run that was started before (its worker killed, the machine restarted) goes on from its
    last resume point, and ends with the weights it would have had unbroken; a family that
    cannot resume starts it over.

    shard: this process's part in data-parallel training (`train --nproc`, under torchrun);
    only rank 0 writes to the database and keeps checkpoints. device: a torch device that
    overrides the run's (each rank's own GPU)."""
    leader = shard is None or shard.rank == 0
    use_torch_threads()
    if leader:
        TrainingRun.objects.filter(pk=run.pk).update(
            status=TrainingRun.Status.RUNNING,
            started_at=run.started_at or timezone.now(),
            error="",
        )
    try:
        device = device if device is not None else device_for(run.device)
        family = get_family(run.family)
        train_pieces = load_pieces(run.datasets, "train")
        valid_pieces = load_pieces(run.datasets, "valid")
        torch.manual_seed(run.seed)  # the step-0 weights are part of what the seed fixes
        if run.parent is not None:
            generator = start_from_parent(run, train_pieces)
        else:
            generator = family.build(run.options, train_pieces)
            check_generator(generator, f"{run.family}'s build()")
        if not isinstance(generator, Trainable):
            raise ValueError(
                f"family {run.family} cannot be trained here (its generator has no fit)"
            )
        switches = fit_options(generator)
        keywords = {}
        if "device" in switches:
            keywords["device"] = device
        elif device.type != "cpu":
            raise ValueError(f"family {run.family} trains on the CPU only, not on {device}")
        if shard is not None:
            if "shard" not in switches:
                raise ValueError(f"family {run.family} cannot train data-parallel")
            keywords["shard"] = shard
        point = read_resume_point(run) if "resume" in switches else None
        if point is not None:
            keywords["resume"] = point
            logger.info("training run %s goes on from step %s", run.pk, point["step"])
        if leader and (run.history or point is not None):
            _going_on_from(run, point)
        training = TrainingConfig.from_dict(run.training)
        hooks = [RunRecorder(run, generator, progress=progress), *callbacks] if leader else []
        generator.fit(train_pieces, valid_pieces, training, hooks, **keywords)
    except Exception as error:
        logger.exception("training run %s failed", run.pk)
        if leader:
            TrainingRun.mark_failed(run.pk, f"{type(error).__name__}: {error}")
        raise
    if leader:
        TrainingRun.objects.filter(pk=run.pk).update(
            status=TrainingRun.Status.SUCCEEDED, finished_at=timezone.now()
        )
        resume_file(run).unlink(missing_ok=True)
        run.refresh_from_db()
    return run


def start_from_parent(run: TrainingRun, train_pieces: Sequence[QuantizedPiece]):
    """The parent's model, ready to go on learning from the run's data (Deep Jammer section 6)."""
    generator = load_generator(run.parent)
    if isinstance(generator, Styled):
        generator.add_styles_of(train_pieces)
    if run.transfer == "fine-tune":
        generator.reset_head(train_pieces)
    return generator


def load_generator(checkpoint: Checkpoint, *, device: str | None = None):
    """The checkpoint's generator (loaded on the CPU whatever it was saved from), moved to
    `device` when one is named ("" means EARSHOT_DEVICE) and the family can move."""
    if not checkpoint.path.exists():
        raise FileNotFoundError(f"the weights of {checkpoint} are missing: {checkpoint.path}")
    generator = get_family(checkpoint.family).load(checkpoint.path)
    check_generator(generator, f"{checkpoint.family}'s load()")
    if device is not None:
        target = device_for(device)
        if isinstance(generator, Placeable):
            generator.to(target)
        elif target.type != "cpu":
            raise ValueError(f"family {checkpoint.family} runs on the CPU only, not on {target}")
    return generator


def evaluate_checkpoint(checkpoint: Checkpoint, split: str = "test", *, device: str = "") -> dict:
    """Metrics of a checkpoint on a split of its dataset, stored beside the others."""
    datasets = checkpoint.datasets
    if not datasets:
        raise ValueError(f"{checkpoint} has no dataset to evaluate on")
    use_torch_threads()
    generator = load_generator(checkpoint, device=device)
    if not isinstance(generator, Evaluable):
        raise ValueError(f"family {checkpoint.family} does not offer evaluate()")
    pieces = load_pieces(datasets, split)
    if not pieces:
        names = "+".join(d.name for d in datasets)
        raise ValueError(f"dataset {names} has no {split} pieces")
    metrics = json_safe(generator.evaluate(pieces))
    with transaction.atomic():
        locked = Checkpoint.objects.select_for_update().get(pk=checkpoint.pk)
        locked.metrics = {**locked.metrics, split: metrics}
        locked.save(update_fields=["metrics"])
    checkpoint.metrics = locked.metrics
    return metrics


BENCHMARKS = ("jsb",)


def benchmark_checkpoint(checkpoint: Checkpoint, benchmark: str = "jsb", *, device: str = ""):
    """The JSB Chorales test negative log-likelihood (nats per quarter-note frame, 88 keys) of
    a piano-roll checkpoint, stored beside its other metrics as "jsb_chorales"."""
    if benchmark not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {benchmark!r}; choose {', '.join(BENCHMARKS)}")
    use_torch_threads()
    generator = load_generator(checkpoint, device=device)
    model = getattr(generator, "model", None)
    config = getattr(model, "config", None)
    if not (hasattr(config, "n_notes") and hasattr(config, "low_pitch")):
        raise ValueError(
            f"the JSB Chorales benchmark scores piano-roll models (biaxial-lstm, deepj); "
            f"{checkpoint.family} models melodies as tokens and gives no per-key probabilities"
        )
    splits = jsb_chorales.load_jsb()
    score = jsb_chorales.roll_model_likelihood(
        model,
        splits["test"],
        name=str(checkpoint),
        outside=jsb_chorales.IndependentBernoulli.fit(splits["train"]),
    )
    result = {
        "nats_per_frame": score.nats_per_frame,
        "frames": score.frames,
        "chorales": score.chorales,
        "note": score.note,
    }
    with transaction.atomic():
        locked = Checkpoint.objects.select_for_update().get(pk=checkpoint.pk)
        locked.metrics = {**locked.metrics, "jsb_chorales": json_safe(result)}
        locked.save(update_fields=["metrics"])
    checkpoint.metrics = locked.metrics
    return score


def import_checkpoint(
    path: Path, *, family: str, dataset: Dataset | None = None, label: str = "", step: int = 0
) -> Checkpoint:
    """A checkpoint trained elsewhere: loaded once to prove the family can read it, then copied in."""
    source = Path(path)
    generator = get_family(family).load(source)
    digest = _sha256(source)
    target = settings.CHECKPOINT_DIR / "imported" / f"{digest}{source.suffix}"
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        shutil.copyfile(source, target)
    metrics = {}
    if dataset is not None and isinstance(generator, Evaluable):
        pieces = load_pieces(dataset, "valid")
        metrics["valid"] = json_safe(generator.evaluate(pieces)) if pieces else {}
    return Checkpoint.objects.create(
        family=family,
        options=getattr(generator, "options", {}) or {},
        dataset=dataset,
        step=step,
        metrics=metrics,
        file=str(target.relative_to(settings.CHECKPOINT_DIR)),
        sha256=digest,
        label=label or source.name,
        code_version=code_version(),
    )


def cross_validate(
    *,
    family: str,
    dataset: Dataset,
    k: int = 5,
    config: str | None = None,
    preset: str | None = None,
    overrides: dict | None = None,
    seed: int = 0,
    progress: Callable[[int, int, str], None] | None = None,
) -> CrossValidation:
    """k-fold cross-validation loss over the train and valid splits (the test split stays unseen).

    Each fold trains a fresh model on k-1 folds for the configured steps and
    measures the loss on the held-out fold; the table reports their mean.
    """
    use_torch_threads()
    model_family, model_options, training = resolve_configuration(
        family, config=config, preset=preset, overrides=overrides, seed=seed
    )
    training = replace(training, eval_every=0)  # only the held-out fold's loss matters here
    rows = list(
        Piece.objects.filter(dataset=dataset, split__in=["train", "valid"]).order_by("identifier")
    )
    if len(rows) < k:
        raise ValueError(
            f"{k}-fold cross-validation needs at least {k} pieces; {dataset.name} has {len(rows)}"
        )
    by_identifier = {row.identifier: row.load() for row in rows}
    folds = []
    for index, (train_keys, held_out_keys) in enumerate(kfold(list(by_identifier), k)):
        train_pieces = [by_identifier[key] for key in train_keys]
        held_out = [by_identifier[key] for key in held_out_keys]
        torch.manual_seed(seed)
        generator = model_family.build(model_options, train_pieces)
        generator.fit(train_pieces, held_out, training)
        metrics = json_safe(generator.evaluate(held_out))
        folds.append(
            {
                "fold": index,
                "train_pieces": len(train_pieces),
                "held_out_pieces": len(held_out),
                **metrics,
            }
        )
        if progress:
            progress(index + 1, k, f"fold {index + 1} of {k}: held-out loss {metrics.get('loss')}")
    losses = [fold["loss"] for fold in folds if fold.get("loss") is not None]
    finite = len(losses) == len(folds)
    return CrossValidation.objects.create(
        family=family,
        config_name=config or "",
        preset=preset or "",
        options=model_options,
        training=training.to_dict(),
        dataset=dataset,
        k=k,
        folds=folds,
        mean_loss=float(np.mean(losses)) if finite else None,
        sd_loss=float(np.std(losses, ddof=1)) if finite and k > 1 else None,
        code_version=code_version(),
    )
