"""Training and evaluating models. Plain Python and PyTorch: no Django.

The trainer knows nothing of the model. An objective (what the data is and
what the loss is) hands it batches and turns a batch into a loss; the
trainer runs Adam with gradient clipping, evaluates on the validation data,
stops early, and reports everything through callbacks (a progress bar, a
database row, a benchmark).

The token objective here serves every token-sequence model through one
calling convention:

    logits, state = model(tokens, state)      # tokens (B, T) int64 -> logits (B, T, V)
    state = model.reset_rows(state, rows)     # only for state refeed: fresh state where rows (B,) is True

It batches padded windows with masks and optimises masked cross-entropy.
The piano-roll models bring their own objective (generation/zoo/piano_roll_base.py).

Truncated BPTT: every batch is a window of `window` events. Without state
refeed each window starts from a fresh state; with it, the B rows of a batch
are B streams that walk through their pieces window after window, and the
final state of one batch is the initial state of the next (Popkes & Wenker's
"refeeding the final LSTM state").

Resuming: at every checkpoint the trainer hands its callbacks a resume point
(weights, optimiser, random state, where the data order stands, the carried
state, early-stopping counters); `Trainer.run(resume=point)` goes on from it and
ends, on the CPU, with exactly the weights of a run that was never stopped.

Devices: the trainer runs the model where `device` says (see `pick_device`),
moves each batch there, and on CUDA computes forward passes in bfloat16 under
autocast (the weights and the optimiser stay in float32).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F

from generation.zoo.devices import (
    autocast_for,
    map_tensors,
    model_device,
    pick_device,
    to_device,
)

PAD_TOKEN = 0  # padded positions are masked out; the token itself never reaches the loss
RESUME_FORMAT = "earshot-resume/1"


@dataclass
class TrainingConfig:
    steps: int = 1000
    batch_size: int = 32
    window: int = 64  # events per truncated-BPTT window
    learning_rate: float = 1e-3
    adam_eps: float = 1e-8
    clip_norm: float | None = 5.0  # L2 norm of all gradients; None turns clipping off
    seed: int = 0
    eval_every: int = 100  # steps; 0 evaluates only at the start and the end
    checkpoint_every: int = 500  # steps; 0 checkpoints only at the start and the end
    early_stop_patience: int | None = None  # evaluations without a better validation loss
    state_refeed: bool = False
    eval_batch_size: int = 32
    eval_window: int = (
        256  # evaluation runs whole pieces in windows of this many events, state carried
    )
    mixed_precision: bool = True  # bf16 autocast on CUDA; no effect on the CPU
    # Piano-roll families: also learn every transposition of each training piece up to this
    # many semitones either way that stays in the model's range (Johnson 2017 and DeepJ
    # train so); 0 learns the pieces as they are.
    augment_transpose: int = 0

    def __post_init__(self) -> None:
        for name in ("steps", "eval_every", "checkpoint_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("batch_size", "window", "eval_batch_size", "eval_window"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.clip_norm is not None and self.clip_norm <= 0:
            raise ValueError(f"clip_norm must be > 0 or None, got {self.clip_norm}")
        if not 0 <= self.augment_transpose <= 12:
            raise ValueError(f"augment_transpose must be 0..12, got {self.augment_transpose}")
        if self.early_stop_patience is not None and self.early_stop_patience < 1:
            raise ValueError("early_stop_patience must be >= 1 or None")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainingConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown training options {sorted(unknown)}; known: {sorted(known)}")
        return cls(**data)


@dataclass
class Batch:
    inputs: torch.Tensor  # (B, T) int64
    targets: torch.Tensor  # (B, T) int64
    mask: torch.Tensor  # (B, T) bool: True where the target is real
    reset: torch.Tensor  # (B,) bool: True where the row starts a piece (fresh state)


def _windows(sequence: np.ndarray, window: int) -> list[np.ndarray]:
    """Overlapping by one event, so that every event but the first is a target exactly once."""
    return [sequence[start : start + window + 1] for start in range(0, len(sequence) - 1, window)]


def _stack(chunks: list[np.ndarray | None], window: int, reset: list[bool]) -> Batch:
    inputs = np.full((len(chunks), window), PAD_TOKEN, dtype=np.int64)
    targets = np.full((len(chunks), window), PAD_TOKEN, dtype=np.int64)
    mask = np.zeros((len(chunks), window), dtype=bool)
    for row, chunk in enumerate(chunks):
        if chunk is None:
            continue
        length = len(chunk) - 1
        inputs[row, :length] = chunk[:-1]
        targets[row, :length] = chunk[1:]
        mask[row, :length] = True
    return Batch(
        torch.from_numpy(inputs),
        torch.from_numpy(targets),
        torch.from_numpy(mask),
        torch.tensor(reset, dtype=torch.bool),
    )


def shuffled_groups(
    items: Sequence, *, batch_size: int, seed: int, skip: int = 0
) -> Iterator[list]:
    """Endless epochs of the items in a fresh random order, `batch_size` at a time.

    The ragged remainder of an epoch is dropped (it is shuffled back in the next one),
    unless there are fewer items than a batch: then every group holds them all.
    skip: groups passed over first (a resumed run), drawn but never built.
    """
    rng = np.random.default_rng(seed)
    full_batches = max(1, len(items) // batch_size)
    while True:
        order = rng.permutation(len(items))
        for index in range(full_batches):
            if skip:
                skip -= 1
                continue
            yield [items[i] for i in order[index * batch_size : (index + 1) * batch_size]]


def window_batches(
    sequences: Sequence[np.ndarray], *, batch_size: int, window: int, seed: int, skip: int = 0
) -> Iterator[Batch]:
    """Endless batches of shuffled windows, each starting from a fresh state."""
    chunks = [chunk for sequence in sequences for chunk in _windows(sequence, window)]
    if not chunks:
        raise ValueError("no training sequence has two events; nothing to learn from")
    for picked in shuffled_groups(chunks, batch_size=batch_size, seed=seed, skip=skip):
        yield _stack(picked + [None] * (batch_size - len(picked)), window, [True] * batch_size)


def stream_batches(
    sequences: Sequence[np.ndarray], *, batch_size: int, window: int, seed: int, skip: int = 0
) -> Iterator[Batch]:
    """Endless batches for state refeed: row b of batch i+1 continues row b of batch i."""
    if not any(len(s) >= 2 for s in sequences):
        raise ValueError("no training sequence has two events; nothing to learn from")
    rng = np.random.default_rng(seed)
    while True:
        streams: list[list[tuple[np.ndarray, bool]]] = [[] for _ in range(batch_size)]
        lengths = [0] * batch_size
        for index in rng.permutation(len(sequences)):
            row = int(np.argmin(lengths))  # keeps the streams about equally long
            pieces = _windows(sequences[index], window)
            streams[row].extend((chunk, position == 0) for position, chunk in enumerate(pieces))
            lengths[row] += len(pieces)
        for position in range(max(lengths)):
            if skip:
                skip -= 1
                continue
            chunks, reset = [], []
            for stream in streams:
                if position < len(stream):
                    chunks.append(stream[position][0])
                    reset.append(stream[position][1])
                else:
                    chunks.append(None)
                    reset.append(True)
            yield _stack(chunks, window, reset)


def detach_state(state):
    return map_tensors(state, torch.Tensor.detach)


def masked_loss(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy in nats over the real (unmasked) targets."""
    losses = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none")
    weights = mask.flatten().to(losses.dtype)
    return (losses * weights).sum() / weights.sum().clamp(min=1)


class MetricTotals:
    """Running sums for loss and accuracies over many batches.

    With a filler class (the melody events' no-event), accuracy is also split
    into note events (every other class) and the filler alone: no-event is the
    most common target, so plain accuracy flatters a model that always holds.
    """

    def __init__(self, filler_class: int | None = None) -> None:
        self.filler_class = filler_class
        self.nll = 0.0
        self.count = 0
        self.correct = 0
        self.filler_count = 0
        self.filler_correct = 0

    def add(
        self,
        logits: torch.Tensor,
        targets: torch.Tensor,
        mask: torch.Tensor,
        *,
        nll_sum: float | None = None,
    ) -> None:
        """nll_sum: the summed loss when the caller has it already (the training step does)."""
        if nll_sum is None:
            log_probs = torch.log_softmax(logits.double(), dim=-1)
            picked = log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
            nll_sum = -float(picked[mask].sum())
        self.nll += nll_sum
        hits = (logits.argmax(-1) == targets) & mask
        self.count += int(mask.sum())
        self.correct += int(hits.sum())
        if self.filler_class is not None:
            filler = (targets == self.filler_class) & mask
            self.filler_count += int(filler.sum())
            self.filler_correct += int((hits & filler).sum())

    def result(self) -> dict:
        if self.count == 0:
            return {"n_events": 0}
        loss = self.nll / self.count
        metrics = {
            "loss": loss,
            "perplexity": math.exp(loss) if loss < 700 else math.inf,
            "accuracy": self.correct / self.count,
            "n_events": self.count,
        }
        if self.filler_class is not None:
            notes = self.count - self.filler_count
            metrics["note_event_accuracy"] = (
                (self.correct - self.filler_correct) / notes if notes else None
            )
            metrics["no_event_accuracy"] = (
                self.filler_correct / self.filler_count if self.filler_count else None
            )
            metrics["no_event_share"] = self.filler_count / self.count
        return metrics


@torch.no_grad()
def evaluate_sequences(
    model,
    sequences: Sequence[np.ndarray],
    *,
    filler_class: int | None = None,
    batch_size: int = 32,
    window: int = 256,
) -> dict:
    """Loss (nats per event), perplexity and accuracies over whole sequences.

    Each sequence runs from its first event with a fresh state; long ones go
    through in windows with the state carried, which gives the same numbers
    as one pass and bounds memory.
    """
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    totals = MetricTotals(filler_class)
    device = model_device(model)
    ordered = sorted((s for s in sequences if len(s) >= 2), key=len)
    for start in range(0, len(ordered), batch_size):
        group = ordered[start : start + batch_size]
        longest = max(len(s) for s in group) - 1
        inputs = np.full((len(group), longest), PAD_TOKEN, dtype=np.int64)
        targets = np.full((len(group), longest), PAD_TOKEN, dtype=np.int64)
        mask = np.zeros((len(group), longest), dtype=bool)
        for row, sequence in enumerate(group):
            inputs[row, : len(sequence) - 1] = sequence[:-1]
            targets[row, : len(sequence) - 1] = sequence[1:]
            mask[row, : len(sequence) - 1] = True
        state = None
        for offset in range(0, longest, window):
            part = slice(offset, offset + window)
            logits, state = model(torch.from_numpy(inputs[:, part]).to(device), state)
            totals.add(
                logits.float().cpu(),
                torch.from_numpy(targets[:, part]),
                torch.from_numpy(mask[:, part]),
            )
    if was_training:
        model.train()
    return totals.result()


class TokenObjective:
    """Next-token prediction over token sequences, for `logits, state = model(tokens, state)`."""

    def __init__(
        self,
        train_sequences: Sequence[np.ndarray],
        valid_sequences: Sequence[np.ndarray],
        *,
        filler_class: int | None = None,
    ) -> None:
        self.train_sequences = [s for s in train_sequences if len(s) >= 2]
        self.valid_sequences = [s for s in valid_sequences if len(s) >= 2]
        self.filler_class = filler_class

    def describe(self) -> dict:
        return {
            "train_sequences": len(self.train_sequences),
            "valid_sequences": len(self.valid_sequences),
        }

    def batches(self, config: TrainingConfig, *, skip: int = 0) -> Iterator[Batch]:
        make = stream_batches if config.state_refeed else window_batches
        return make(
            self.train_sequences,
            batch_size=config.batch_size,
            window=config.window,
            seed=config.seed,
            skip=skip,
        )

    def running_totals(self) -> MetricTotals:
        return MetricTotals(self.filler_class)

    def loss(self, model, batch: Batch, state, config: TrainingConfig, totals: MetricTotals):
        """(mean loss, state to carry into the next batch); adds the batch to `totals`."""
        if config.state_refeed and state is not None:
            network = getattr(model, "module", model)  # DistributedDataParallel wraps it
            state = network.reset_rows(detach_state(state), batch.reset)
        else:
            state = None
        logits, state = model(batch.inputs, state)  # (B, T, V)
        loss = masked_loss(logits.float(), batch.targets, batch.mask)
        totals.add(
            logits.detach(),
            batch.targets,
            batch.mask,
            nll_sum=loss.item() * int(batch.mask.sum()),
        )
        return loss, state

    def evaluate(self, model, config: TrainingConfig) -> dict:
        return evaluate_sequences(
            model,
            self.valid_sequences,
            filler_class=self.filler_class,
            batch_size=config.eval_batch_size,
            window=config.eval_window,
        )


class Objective(Protocol):
    """What the trainer needs from the data side; `TokenObjective` is the reference."""

    def describe(self) -> dict: ...

    def batches(self, config: TrainingConfig, *, skip: int = 0) -> Iterator:
        """Endless batches from the seed's data order, the first `skip` passed over."""

    def running_totals(self): ...  # .count (how much was added) and .result() -> metrics

    def loss(self, model, batch, state, config: TrainingConfig, totals): ...

    def evaluate(self, model, config: TrainingConfig) -> dict: ...


class TrainingCallback:
    """Override what you need; the trainer calls every hook of every callback in order."""

    def on_start(self, total_steps: int, info: dict) -> None: ...

    def on_step(self, step: int, total_steps: int, loss: float) -> None: ...

    def on_evaluation(self, step: int, metrics: dict) -> None:
        """metrics: {"train": running metrics since the last evaluation, "valid": full evaluation}."""

    def on_checkpoint(self, step: int, metrics: dict) -> None: ...

    def on_resume_point(self, step: int, point: dict) -> None:
        """After each checkpoint: everything `Trainer.run(resume=point)` needs to go on from
        `step` (tensors on the CPU; `torch.save` it to keep it)."""

    def on_end(self, step: int, stopped_early: bool) -> None: ...


@dataclass
class TrainingResult:
    final_step: int
    stopped_early: bool
    best_step: int | None
    best_valid_loss: float | None
    seconds: float
    history: list[dict]


@dataclass(frozen=True)
class Shard:
    """This process's place in data-parallel training (torch.distributed initialised): it
    takes rows rank, rank + world_size, ... of every global batch, and
    DistributedDataParallel averages the gradients, so the optimiser steps as one process
    with the whole batch would (up to how padding falls between the shards)."""

    rank: int
    world_size: int

    def rows(self, batch):
        """The shard's rows of a batch (a dataclass of tensors, the batch first)."""
        return map_tensors(batch, lambda tensor: tensor[self.rank :: self.world_size])


class Trainer:
    def __init__(
        self,
        model: torch.nn.Module,
        objective: Objective,
        config: TrainingConfig,
        *,
        callbacks: Sequence[TrainingCallback] = (),
        device: torch.device | str = "cpu",
        shard: Shard | None = None,
    ) -> None:
        self.model = model
        self.objective = objective
        self.config = config
        self.callbacks = list(callbacks)
        self.device = device if isinstance(device, torch.device) else pick_device(device)
        self.shard = shard
        if shard is not None and config.batch_size % shard.world_size:
            raise ValueError(
                f"batch_size {config.batch_size} must split evenly over {shard.world_size} "
                "processes"
            )

    def _emit(self, hook: str, *args) -> None:
        for callback in self.callbacks:
            getattr(callback, hook, lambda *_: None)(*args)

    def run(self, *, resume: dict | None = None) -> TrainingResult:
        """Train to the configured step; from a resume point (see `on_resume_point`) when one
        is given, which ends exactly where the uninterrupted run would have ended."""
        config = self.config
        objective = self.objective
        device = self.device
        torch.manual_seed(config.seed)
        self.model.to(device)
        optimizer = torch.optim.Adam(
            self.model.parameters(), lr=config.learning_rate, eps=config.adam_eps
        )
        first_step = 0
        history: list[dict] = []
        best_loss, best_step, evaluations_since_best = math.inf, None, 0
        state = None
        if resume is not None:
            _check_resume_point(resume, config)
            self.model.load_state_dict(resume["model"])
            optimizer.load_state_dict(resume["optimizer"])
            first_step = resume["step"]
            history = list(resume["history"])
            best_loss = resume["best_loss"] if resume["best_step"] is not None else math.inf
            best_step = resume["best_step"]
            evaluations_since_best = resume["evaluations_since_best"]
            state = map_tensors(resume["carried_state"], lambda t: t.to(device, copy=True))
        batches = objective.batches(config, skip=first_step)
        network = self.model
        if self.shard is not None:  # the global batch's rows are split; gradients averaged
            network = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=[device.index] if device.type == "cuda" else None
            )
        n_parameters = sum(p.numel() for p in self.model.parameters())
        info = {"parameters": n_parameters, **objective.describe(), "device": str(device)}
        if resume is not None:
            info["resumed_from_step"] = first_step
        self._emit("on_start", config.steps, info)
        started = time.perf_counter()
        running = objective.running_totals()
        step = first_step
        stopped_early = False

        def evaluate_and_checkpoint(at_step: int, checkpoint: bool) -> tuple[bool, dict]:
            """(whether early stopping says to stop, the metrics)."""
            nonlocal best_loss, best_step, evaluations_since_best, running
            with autocast_for(device, config.mixed_precision):
                metrics = {"valid": objective.evaluate(self.model, config)}
            self.model.train()
            if running.count:
                metrics["train"] = running.result()
            running = objective.running_totals()
            history.append({"step": at_step, **metrics})
            self._emit("on_evaluation", at_step, metrics)
            valid_loss = metrics["valid"].get("loss", math.inf)
            if valid_loss < best_loss:
                best_loss, best_step, evaluations_since_best = valid_loss, at_step, 0
            else:
                evaluations_since_best += 1
            if checkpoint:
                self._emit("on_checkpoint", at_step, metrics)
                self._emit(
                    "on_resume_point",
                    at_step,
                    {
                        "format": RESUME_FORMAT,
                        "step": at_step,
                        "config": config.to_dict(),
                        "model": _cpu_copy(self.model.state_dict()),
                        "optimizer": _cpu_copy(optimizer.state_dict()),
                        "torch_rng": torch.get_rng_state(),
                        "cuda_rng": torch.cuda.get_rng_state_all() if device.type == "cuda" else [],
                        "carried_state": _cpu_copy(state),
                        "history": list(history),
                        "best_loss": best_loss if best_step is not None else None,
                        "best_step": best_step,
                        "evaluations_since_best": evaluations_since_best,
                    },
                )
            patience = config.early_stop_patience
            return patience is not None and evaluations_since_best >= patience, metrics

        if resume is None:
            evaluate_and_checkpoint(0, checkpoint=True)
        else:  # the random state as it was right after the checkpoint it was taken at
            torch.set_rng_state(resume["torch_rng"])
            if device.type == "cuda" and resume["cuda_rng"]:
                torch.cuda.set_rng_state_all(resume["cuda_rng"])
        self.model.train()
        for step in range(first_step + 1, config.steps + 1):
            batch = next(batches)
            if self.shard is not None:
                batch = self.shard.rows(batch)
            batch = to_device(batch, device)
            with autocast_for(device, config.mixed_precision):
                loss, state = objective.loss(network, batch, state, config, running)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.clip_norm is not None:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.clip_norm)
            optimizer.step()
            self._emit("on_step", step, config.steps, loss.item())
            last = step == config.steps
            evaluate_now = last or (config.eval_every and step % config.eval_every == 0)
            checkpoint_now = last or (
                config.checkpoint_every and step % config.checkpoint_every == 0
            )
            if evaluate_now or checkpoint_now:
                stop, metrics = evaluate_and_checkpoint(step, checkpoint=bool(checkpoint_now))
                if stop and not last:
                    if not checkpoint_now:
                        self._emit("on_checkpoint", step, metrics)
                    stopped_early = True
                    break
        self.model.eval()
        self._emit("on_end", step, stopped_early)
        return TrainingResult(
            final_step=step,
            stopped_early=stopped_early,
            best_step=best_step,
            best_valid_loss=best_loss if best_step is not None else None,
            seconds=time.perf_counter() - started,
            history=history,
        )


def _cpu_copy(value):
    """A deep copy with every tensor on the CPU: a resume point must not alias live weights."""
    return map_tensors(value, lambda tensor: tensor.detach().to("cpu", copy=True))


# What must match between a resume point and the run that goes on from it: anything else
# (steps, eval and checkpoint intervals, patience) may change, e.g. to train for longer.
_SAME_ON_RESUME = ("batch_size", "window", "seed", "state_refeed", "learning_rate", "adam_eps")


def _check_resume_point(point: dict, config: TrainingConfig) -> None:
    if not isinstance(point, dict) or point.get("format") != RESUME_FORMAT:
        raise ValueError(f"not a resume point ({RESUME_FORMAT})")
    saved = point["config"]
    changed = [name for name in _SAME_ON_RESUME if saved.get(name) != getattr(config, name)]
    if changed:
        raise ValueError(
            f"the resume point was made with other {', '.join(changed)}; "
            "a run can only go on with the data order and optimiser it started with"
        )
    if point["step"] > config.steps:
        raise ValueError(f"the resume point is at step {point['step']}, past {config.steps}")
