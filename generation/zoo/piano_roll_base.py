"""What the piano-roll families (Biaxial LSTM, DeepJ) share: data, loss, metrics, sampling.

Plain Python and PyTorch, no Django. A piece becomes a roll (T, N, 4) of
play, articulate, replay and velocity planes (generation/encodings/piano_roll.py).
A polyphonic model predicts step t from the steps before it and, within step
t, note n from the notes below it:

    features, state = model.time_axis(previous, beats, styles, state)
        # previous (B, T, N, 4): the roll one step earlier; beats (B, T) int64: step within the bar;
        # styles (B, S): style mixture (S may be 0) -> features (B, T, N, H)
    logits = model.note_axis(features, chosen, styles)
        # chosen (B, T, N, 4): this step's roll, which the note axis sees only below note n
        # -> logits (B, T, N, O), one per name in model.outputs
    logits, note_state = model.note_step(features_n, lower, styles, note_state)
        # one note for generation: features_n (B, H), lower (B, 4) the note just below -> (B, O)

`model.outputs` names the heads, among "play", "articulate", "replay" and
"velocity". Play is Bernoulli over every cell; articulate and replay are
Bernoulli and velocity a squared error, each counted only where the note
plays (DeepJ's masking; the Biaxial seed counts articulate only under play).
Losses are summed over cells and divided by the number of cells (steps x
notes), so the parts add up to the total and runs with different batch sizes
compare.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pretty_midi
import torch
import torch.nn.functional as F

from generation.encodings.piano_roll import PianoRoll, PianoRollEncoding
from generation.music.scores import QuantizedPiece
from generation.zoo.base import read_checkpoint, save_checkpoint
from generation.zoo.devices import model_device, to_device
from generation.zoo.trainer import (
    Shard,
    Trainer,
    TrainingCallback,
    TrainingConfig,
    TrainingResult,
    shuffled_groups,
)

PLAY, ARTICULATE, REPLAY, VELOCITY = range(4)  # planes of PianoRoll.stacked()
PLANE_OF_OUTPUT = {"play": PLAY, "articulate": ARTICULATE, "replay": REPLAY, "velocity": VELOCITY}
LOSS_NAMES = {
    "play": "play_loss",
    "articulate": "articulate_loss",
    "replay": "replay_loss",
    "velocity": "dynamics_loss",
}
UNLABELLED = "unlabelled"
DEFAULT_VELOCITY = 0.0  # decode_notes plays a velocity of 0 as MIDI velocity 100


def style_label(text: str) -> str:
    """Style names match whatever their case and surrounding spaces: "Bach " is "bach"."""
    return str(text).strip().lower()


def piece_style(piece: QuantizedPiece) -> str:
    """The style label the site put on the piece (its own, else its dataset's), else its composer."""
    return style_label(piece.extra.get("style") or piece.composer or UNLABELLED)


def encode_rolls(encoding: PianoRollEncoding, pieces: Sequence[QuantizedPiece]) -> list[np.ndarray]:
    """(T, N, 4) float32 per piece; pieces with no note in range (or one step) are left out."""
    rolls = []
    for piece in pieces:
        roll = encoding.encode(piece.notes).stacked()
        if roll.shape[0] >= 2 and roll[:, :, PLAY].any():
            rolls.append(roll.astype(np.float32))
    return rolls


def previous_steps(rolls: torch.Tensor) -> torch.Tensor:
    """(B, T, N, 4) -> the same shape, shifted one step later; silence before the first step."""
    return torch.cat([torch.zeros_like(rolls[:, :1]), rolls[:, :-1]], dim=1)


def beat_positions(start: int, length: int, steps_per_bar: int) -> torch.Tensor:
    """(length,) int64: the step within the bar, counted from the piece's first step."""
    return torch.arange(start, start + length) % steps_per_bar


class StyleTable:
    """The style labels a model knows, in a fixed order, and mixtures over them."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)

    @classmethod
    def from_pieces(cls, pieces: Sequence[QuantizedPiece]) -> StyleTable:
        return cls(sorted({piece_style(piece) for piece in pieces}))

    def __len__(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        try:
            return self.names.index(style_label(name))
        except ValueError:
            known = ", ".join(self.names) or "none"
            raise ValueError(f"unknown style {name!r}; this model knows: {known}") from None

    def one_hot(self, name: str) -> np.ndarray:
        vector = np.zeros(len(self), dtype=np.float32)
        if len(self):
            vector[self.index(name)] = 1.0
        return vector

    def mixture(self, weights: Mapping[str, float] | None) -> np.ndarray:
        """Normalised to sum to one (DeepJ section III-A); no weights: every style equally."""
        vector = np.zeros(len(self), dtype=np.float32)
        if not len(self):
            if weights:
                raise ValueError("this model has no styles to mix")
            return vector
        if not weights:
            vector[:] = 1.0 / len(self)
            return vector
        for name, weight in weights.items():
            if not np.isfinite(weight) or weight < 0:
                raise ValueError(f"style weight for {name!r} must be >= 0, got {weight}")
            vector[self.index(name)] += weight
        total = vector.sum()
        if total <= 0:
            raise ValueError("a style mixture needs at least one weight above zero")
        return vector / total


def parse_style_mixture(text: str) -> dict[str, float]:
    """`bach=0.5,palestrina=0.5` or `bach` -> {"bach": 0.5, "palestrina": 0.5} / {"bach": 1.0}."""
    weights: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        try:
            weight = float(value) if value else 1.0
        except ValueError:
            raise ValueError(f"style weight in {part!r} is not a number") from None
        label = style_label(name)
        weights[label] = weights.get(label, 0.0) + weight
    if not weights:
        raise ValueError("empty style mixture; write e.g. bach=0.5,palestrina=0.5")
    return weights


@dataclass
class RollBatch:
    rolls: torch.Tensor  # (B, T, N, 4): the steps to predict
    previous: torch.Tensor  # (B, T, N, 4): each step's predecessor (silence before a piece)
    beats: torch.Tensor  # (B, T) int64
    styles: torch.Tensor  # (B, S)
    mask: torch.Tensor  # (B, T) bool: True on real steps


def _stack_windows(
    rolls: Sequence[np.ndarray],
    chunks: Sequence[tuple[int, int]],
    styles: np.ndarray,
    *,
    window: int,
    steps_per_bar: int,
) -> RollBatch:
    n_notes = rolls[0].shape[1]
    target = np.zeros((len(chunks), window, n_notes, 4), dtype=np.float32)
    previous = np.zeros_like(target)
    beats = np.zeros((len(chunks), window), dtype=np.int64)
    mask = np.zeros((len(chunks), window), dtype=bool)
    for row, (index, start) in enumerate(chunks):
        roll = rolls[index]
        part = roll[start : start + window]
        length = len(part)
        target[row, :length] = part
        if start > 0:
            previous[row, :length] = roll[start - 1 : start - 1 + length]
        else:
            previous[row, 1:length] = part[:-1]
        beats[row] = np.arange(start, start + window) % steps_per_bar
        mask[row, :length] = True
    return RollBatch(
        torch.from_numpy(target),
        torch.from_numpy(previous),
        torch.from_numpy(beats),
        torch.from_numpy(styles[[index for index, _ in chunks]]),
        torch.from_numpy(mask),
    )


def with_transpositions(
    rolls: Sequence[np.ndarray], styles: np.ndarray, semitones: int
) -> tuple[list[np.ndarray], np.ndarray]:
    """Each roll (T, N, 4) in every shift of up to +-semitones along the notes that keeps all
    its sounding notes in range, with its style row; shift 0 first, so semitones=0 is a no-op."""
    moved, rows = [], []
    for roll, style in zip(rolls, styles, strict=True):
        sounding = np.flatnonzero(roll[..., PLAY].any(axis=0))
        for shift in sorted(range(-semitones, semitones + 1), key=abs):
            if len(sounding) and not (
                sounding[0] + shift >= 0 and sounding[-1] + shift < roll.shape[1]
            ):
                continue
            moved.append(np.roll(roll, shift, axis=1) if shift else roll)
            rows.append(style)
    return moved, np.asarray(rows, dtype=np.float32).reshape(len(moved), styles.shape[1])


def roll_batches(
    rolls: Sequence[np.ndarray],
    styles: np.ndarray,
    *,
    batch_size: int,
    window: int,
    steps_per_bar: int,
    seed: int,
    skip: int = 0,
) -> Iterator[RollBatch]:
    """Endless batches of shuffled windows, each from a fresh state; every step is a target once
    per epoch. Windows start on multiples of `window` steps, so whole bars when it is one."""
    chunks = [(i, start) for i, roll in enumerate(rolls) for start in range(0, len(roll), window)]
    if not chunks:
        raise ValueError("no training piece has notes in the model's pitch range")
    for picked in shuffled_groups(chunks, batch_size=batch_size, seed=seed, skip=skip):
        yield _stack_windows(rolls, picked, styles, window=window, steps_per_bar=steps_per_bar)


def roll_loss_sums(
    logits: torch.Tensor, rolls: torch.Tensor, mask: torch.Tensor, outputs: Sequence[str]
) -> dict[str, torch.Tensor]:
    """Summed loss per head over real cells; logits (B, T, N, O), rolls (B, T, N, 4), mask (B, T)."""
    cells = mask[:, :, None].expand(rolls.shape[:3]).to(logits.dtype)  # (B, T, N)
    playing = rolls[..., PLAY] * cells
    sums = {}
    for position, name in enumerate(outputs):
        predicted, target = logits[..., position], rolls[..., PLANE_OF_OUTPUT[name]]
        if name == "velocity":
            error = (torch.sigmoid(predicted) - target) ** 2
        else:
            error = F.binary_cross_entropy_with_logits(predicted, target, reduction="none")
        sums[LOSS_NAMES[name]] = (error * (cells if name == "play" else playing)).sum()
    return sums


class RollTotals:
    """Running sums of the losses and of the play confusion counts (threshold 0.5)."""

    def __init__(self, outputs: Sequence[str]) -> None:
        self.outputs = tuple(outputs)
        self.loss_sums = dict.fromkeys((LOSS_NAMES[name] for name in self.outputs), 0.0)
        self.count = 0  # cells: real steps x notes
        self.steps = 0
        self.true_positive = self.false_positive = self.false_negative = 0
        self.played = 0

    def add(self, logits, rolls, mask, sums: Mapping[str, torch.Tensor] | None = None) -> None:
        sums = sums if sums is not None else roll_loss_sums(logits, rolls, mask, self.outputs)
        for name, value in sums.items():
            self.loss_sums[name] += float(value)
        self.count += int(mask.sum()) * rolls.shape[2]
        self.steps += int(mask.sum())
        real = mask[:, :, None]
        predicted = (logits[..., 0] > 0) & real  # sigmoid(logit) > 0.5
        actual = (rolls[..., PLAY] > 0.5) & real
        self.true_positive += int((predicted & actual).sum())
        self.false_positive += int((predicted & ~actual).sum())
        self.false_negative += int((~predicted & actual).sum())
        self.played += int(actual.sum())

    def result(self) -> dict:
        if not self.count:
            return {"n_steps": 0}
        metrics = {name: value / self.count for name, value in self.loss_sums.items()}
        metrics["loss"] = sum(metrics.values())
        tp, fp, fn = self.true_positive, self.false_positive, self.false_negative
        precision = tp / (tp + fp) if tp + fp else None
        recall = tp / (tp + fn) if tp + fn else None
        metrics["play_precision"] = precision
        metrics["play_recall"] = recall
        metrics["play_f1"] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None
        # Frame-level accuracy of Bay, Ehmann & Downie (ISMIR 2009), as in Boulanger-Lewandowski
        # et al. (2012): TP / (TP + FP + FN) summed over every step.
        metrics["frame_accuracy"] = tp / (tp + fp + fn) if tp + fp + fn else None
        metrics["play_density"] = self.played / self.count
        metrics["n_steps"] = self.steps
        return metrics


@torch.no_grad()
def evaluate_rolls(
    model,
    rolls: Sequence[np.ndarray],
    styles: np.ndarray,
    *,
    steps_per_bar: int,
    batch_size: int = 8,
    window: int = 128,
) -> dict:
    """Losses and play metrics over whole pieces, each from a fresh state, teacher-forced.
    Long pieces go through in windows with the time-axis state carried."""
    was_training = model.training
    model.eval()
    device = model_device(model)
    totals = RollTotals(model.outputs)
    order = sorted(range(len(rolls)), key=lambda i: len(rolls[i]))
    for start in range(0, len(order), batch_size):
        group = order[start : start + batch_size]
        longest = max(len(rolls[i]) for i in group)
        state = None
        for offset in range(0, longest, window):
            batch = _stack_windows(
                rolls,
                [(i, offset) for i in group],
                styles,
                window=min(window, longest - offset),  # the last window only as long as needed
                steps_per_bar=steps_per_bar,
            )
            on_device = to_device(batch, device)
            features, state = model.time_axis(
                on_device.previous, on_device.beats, on_device.styles, state
            )
            logits = model.note_axis(features, on_device.rolls, on_device.styles)
            totals.add(logits.float().cpu(), batch.rolls, batch.mask)
    if was_training:
        model.train()
    return totals.result()


def head_bias_prior(rolls: Sequence[np.ndarray], outputs: Sequence[str]) -> torch.Tensor:
    """(O,) log-odds of how often each head's target is 1 in the training rolls (play over every
    cell; the others where the note plays). Starting the head there skips the phase where the
    network only learns how sparse a piano roll is, during which the deep stack's gradients
    fade and training stalls for hundreds of steps (measured on one chorale: 200+ steps of
    plateau without it, none with it)."""
    stacked = np.concatenate([roll.reshape(-1, 4) for roll in rolls]) if rolls else np.zeros((0, 4))
    playing = stacked[:, PLAY] > 0.5
    bias = []
    for name in outputs:
        values = stacked[:, PLAY] if name == "play" else stacked[playing, PLANE_OF_OUTPUT[name]]
        rate = float(np.clip(values.mean() if len(values) else 0.5, 1e-3, 1 - 1e-3))
        bias.append(np.log(rate / (1 - rate)))
    return torch.tensor(bias, dtype=torch.float32)


class RollObjective:
    """The trainer's view of a piano-roll model: windows of rolls, the masked Bernoulli losses."""

    def __init__(
        self,
        train_rolls,
        train_styles,
        valid_rolls,
        valid_styles,
        *,
        steps_per_bar: int,
        outputs: Sequence[str],
    ):
        self.train_rolls, self.train_styles = train_rolls, train_styles
        self.valid_rolls, self.valid_styles = valid_rolls, valid_styles
        self.steps_per_bar = steps_per_bar
        self.outputs = tuple(outputs)

    def describe(self) -> dict:
        return {"train_pieces": len(self.train_rolls), "valid_pieces": len(self.valid_rolls)}

    def batches(self, config: TrainingConfig, *, skip: int = 0) -> Iterator[RollBatch]:
        return roll_batches(
            self.train_rolls,
            self.train_styles,
            batch_size=config.batch_size,
            window=config.window,
            steps_per_bar=self.steps_per_bar,
            seed=config.seed,
            skip=skip,
        )

    def running_totals(self) -> RollTotals:
        return RollTotals(self.outputs)

    def loss(self, model, batch: RollBatch, state, config, totals: RollTotals):
        """model: the network, or DistributedDataParallel around it."""
        outputs = getattr(model, "module", model).outputs
        logits = model(batch.previous, batch.beats, batch.styles, batch.rolls).float()
        sums = roll_loss_sums(logits, batch.rolls, batch.mask, outputs)  # logits (B, T, N, O)
        cells = int(batch.mask.sum()) * batch.rolls.shape[2]
        loss = sum(sums.values()) / max(1, cells)
        totals.add(
            logits.detach(), batch.rolls, batch.mask, {k: v.detach() for k, v in sums.items()}
        )
        return loss, None

    def evaluate(self, model, config: TrainingConfig) -> dict:
        return evaluate_rolls(
            model,
            self.valid_rolls,
            self.valid_styles,
            steps_per_bar=self.steps_per_bar,
            batch_size=config.eval_batch_size,
            window=config.eval_window,
        )


@torch.no_grad()
def sample_rolls(
    model,
    *,
    n: int,
    steps: int,
    styles: np.ndarray,
    primer: np.ndarray | None = None,
    temperature: float = 1.0,
    adaptive_temperature: bool = True,
    seed: int = 0,
    first_index: int = 0,
) -> list[np.ndarray]:
    """n rolls (primer steps + `steps`, N, 4), all n advancing together.

    Step by step; within a step note by note from the lowest: play by coin flip,
    then articulate (or replay, for a note that also sounded the step before),
    then velocity from the dynamics head. With adaptive temperature (DeepJ
    section IV-B) each sample's temperature is T x (1 + 0.1 x its consecutive
    silent steps), back to T on any sound. Sample i draws from its own random
    stream (seed, i), so it does not depend on how many are drawn at once;
    first_index numbers the first of the n (to draw sample i alone, say i).
    """
    model.eval()
    device = model_device(model)  # the model runs there; the coin flips come from the CPU
    n_notes = model.config.n_notes
    steps_per_bar = model.config.steps_per_bar
    heads = {name: position for position, name in enumerate(model.outputs)}
    strike_head = heads.get("replay", heads.get("articulate"))
    rngs = [np.random.default_rng([seed, first_index + row]) for row in range(n)]
    style_rows = torch.from_numpy(np.repeat(np.asarray(styles, np.float32)[None], n, axis=0))
    style_rows = style_rows.to(device)
    primer_steps = 0 if primer is None else len(primer)
    rolls = torch.zeros(n, primer_steps + steps, n_notes, 4, device=device)
    state = None
    if primer_steps:
        rolls[:, :primer_steps] = torch.from_numpy(np.asarray(primer, np.float32))[None]
        beats = beat_positions(0, primer_steps, steps_per_bar).expand(n, -1).to(device)
        _, state = model.time_axis(previous_steps(rolls[:, :primer_steps]), beats, style_rows, None)
    silent = torch.zeros(n, device=device)
    for t in range(primer_steps, primer_steps + steps):
        previous = (
            rolls[:, t - 1 : t] if t else torch.zeros(n, 1, n_notes, 4, device=device)
        )  # (n, 1, N, 4)
        beat = torch.full((n, 1), t % steps_per_bar, dtype=torch.int64, device=device)
        features, state = model.time_axis(previous, beat, style_rows, state)  # (n, 1, N, H)
        uniforms = torch.from_numpy(
            np.stack([rng.random((n_notes, 2), dtype=np.float32) for rng in rngs])
        ).to(device)  # (n, N, 2)
        heat = (
            temperature * (1.0 + 0.1 * silent)
            if adaptive_temperature
            else torch.full((n,), float(temperature), device=device)
        )
        held = previous[:, 0, :, PLAY] > 0.5  # (n, N)
        lower = torch.zeros(n, 4, device=device)
        note_state = None
        for note in range(n_notes):
            logits, note_state = model.note_step(
                features[:, 0, note], lower, style_rows, note_state
            )
            play = uniforms[:, note, 0] < torch.sigmoid(logits[:, heads["play"]] / heat)
            if strike_head is None:
                strike = torch.zeros(n, dtype=torch.bool, device=device)
            else:
                strike = uniforms[:, note, 1] < torch.sigmoid(logits[:, strike_head] / heat)
            articulate = play & (~held[:, note] | strike)
            replay = articulate & held[:, note]
            if "velocity" in heads:
                fresh = torch.sigmoid(logits[:, heads["velocity"]])
                velocity = torch.where(articulate, fresh, previous[:, 0, note, VELOCITY])
            else:
                velocity = torch.full((n,), DEFAULT_VELOCITY, device=device)
            lower = torch.stack(
                [play.float(), articulate.float(), replay.float(), velocity * play], dim=-1
            )
            rolls[:, t, note] = lower
        sounding = rolls[:, t, :, PLAY].any(dim=-1)
        silent = torch.where(sounding, torch.zeros_like(silent), silent + 1)
    return [roll.numpy() for roll in rolls.cpu()]


def roll_to_midi(
    encoding: PianoRollEncoding, roll: np.ndarray, *, tempo_qpm: float
) -> pretty_midi.PrettyMIDI:
    planes = PianoRoll(*(np.ascontiguousarray(roll[..., plane]) for plane in range(4)))
    return encoding.decode(planes, tempo_qpm=tempo_qpm)


class PolyphonicGenerator:
    """A piano-roll model with the pitch range it plays and the styles it knows."""

    # Capabilities beyond the required interface (generation/zoo/interface.py): Trainable,
    # Counted, Evaluable, Transferable, Styled and Placeable by its methods; these three by
    # declaration.
    records_step = True
    sampling_options = frozenset({"style", "adaptive_temperature"})
    fit_options = frozenset({"device", "resume", "shard"})

    def __init__(self, family: str, options: Mapping[str, Any], model, styles: StyleTable):
        self.family = family
        self.options = dict(options)
        self.model = model
        self.style_table = styles
        config = model.config
        self.encoding = PianoRollEncoding(low_pitch=config.low_pitch, n_notes=config.n_notes)

    @property
    def styles(self) -> list[str]:
        return list(self.style_table.names)

    def _style_of(self, piece: QuantizedPiece) -> np.ndarray:
        """A piece of a style the model does not know counts as every known style equally."""
        name = piece_style(piece)
        if name in self.style_table.names:
            return self.style_table.one_hot(name)
        return self.style_table.mixture(None)

    def encode(self, pieces: Sequence[QuantizedPiece]) -> tuple[list[np.ndarray], np.ndarray]:
        rolls, styles = [], []
        for piece in pieces:
            for roll in encode_rolls(self.encoding, [piece]):  # none when nothing is in range
                rolls.append(roll)
                styles.append(self._style_of(piece))
        width = len(self.style_table)
        return rolls, np.asarray(styles, dtype=np.float32).reshape(len(rolls), width)

    def evaluate(self, pieces: Sequence[QuantizedPiece], *, batch_size: int = 8) -> dict:
        rolls, styles = self.encode(pieces)
        return evaluate_rolls(
            self.model,
            rolls,
            styles,
            steps_per_bar=self.model.config.steps_per_bar,
            batch_size=batch_size,
        )

    def fit(
        self,
        train_pieces: Sequence[QuantizedPiece],
        valid_pieces: Sequence[QuantizedPiece],
        training: TrainingConfig,
        callbacks: Sequence[TrainingCallback] = (),
        *,
        device: str | torch.device = "cpu",
        resume: dict | None = None,
        shard: Shard | None = None,
    ) -> TrainingResult:
        """resume: a resume point (TrainingCallback.on_resume_point) to go on from.
        shard: this process's part in data-parallel training (trainer.Shard)."""
        train_rolls, train_styles = self.encode(train_pieces)
        if not train_rolls:
            low, high = self.encoding.low_pitch, self.encoding.high_pitch
            raise ValueError(
                f"no training piece has notes in the model's range (MIDI {low}..{high})"
            )
        if training.augment_transpose:
            train_rolls, train_styles = with_transpositions(
                train_rolls, train_styles, training.augment_transpose
            )
        valid_rolls, valid_styles = self.encode(valid_pieces)
        objective = RollObjective(
            train_rolls,
            train_styles,
            valid_rolls,
            valid_styles,
            steps_per_bar=self.model.config.steps_per_bar,
            outputs=self.model.outputs,
        )
        trainer = Trainer(
            self.model, objective, training, callbacks=callbacks, device=device, shard=shard
        )
        return trainer.run(resume=resume)

    def to(self, device: str | torch.device) -> PolyphonicGenerator:
        self.model.to(device)
        return self

    def sample(
        self,
        n: int,
        steps: int,
        *,
        temperature: float = 1.0,
        primer: QuantizedPiece | None = None,
        seed: int = 0,
        top_k: int | None = None,
        tempo_qpm: float = 120.0,
        style: Mapping[str, float] | None = None,
        adaptive_temperature: bool = True,
    ) -> list[pretty_midi.PrettyMIDI]:
        """top_k has no meaning for yes/no choices and is ignored."""
        primer_roll = None
        if primer is not None:
            primer_roll = self.encoding.encode(primer.notes).stacked()
        rolls = sample_rolls(
            self.model,
            n=n,
            steps=steps,
            styles=self.style_table.mixture(style),
            primer=primer_roll if primer_roll is not None and len(primer_roll) else None,
            temperature=temperature,
            adaptive_temperature=adaptive_temperature,
            seed=seed,
        )
        return [roll_to_midi(self.encoding, roll, tempo_qpm=tempo_qpm) for roll in rolls]

    def start_head_at_prior(self, pieces: Sequence[QuantizedPiece]) -> None:
        rolls, _ = self.encode(pieces)
        with torch.no_grad():
            self.model.head.bias.copy_(head_bias_prior(rolls, self.model.outputs))

    def reset_head(self, pieces: Sequence[QuantizedPiece] = ()) -> None:
        """Fine-tuning as in Deep Jammer section 6: the dense output layer starts afresh
        (its bias at the new pieces' note density, as at the start of any training)."""
        self.model.reset_head()
        if pieces:
            self.start_head_at_prior(pieces)

    def add_styles_of(self, pieces: Sequence[QuantizedPiece]) -> list[str]:
        """Learn the pieces' style labels that are new, on top of the known ones (transfer to a
        new dataset); labelled as at build time. Models without styles learn none."""
        if not hasattr(self.model, "add_styles"):
            return []
        known = self.style_table.names
        new = [name for name in StyleTable.from_pieces(pieces).names if name not in known]
        if new:
            self.model.add_styles(len(new))
            self.style_table = StyleTable(known + new)
        return new

    def save(self, path: Path, *, step: int = 0, extra: dict | None = None) -> None:
        save_checkpoint(path, self, step=step, extra=extra, styles=self.styles)


class PolyphonicFamily:
    """A built-in piano-roll family: options are its config's fields."""

    name = ""
    title = ""
    description = ""
    configs: dict[str, dict] = {}
    presets: dict[str, dict] = {}
    model_class: type = object
    config_class: type = object
    uses_styles = False

    @property
    def option_keys(self) -> tuple[str, ...]:
        return tuple(f.name for f in fields(self.config_class) if f.name != "n_styles")

    def split_options(self, options: Mapping[str, Any]) -> tuple[str, dict, dict]:
        unknown = set(options) - set(self.option_keys)
        if unknown:
            raise ValueError(
                f"unknown {self.name} options {sorted(unknown)}; known: {sorted(self.option_keys)}"
            )
        self.config_class(**options)  # values are checked here, before any work starts
        return "piano-roll", {}, dict(options)

    def make_model(self, options: Mapping[str, Any], styles: StyleTable):
        extra = {"n_styles": len(styles)} if self.uses_styles else {}
        return self.model_class(self.config_class(**options, **extra))

    def build(self, options: Mapping[str, Any], train_pieces: Sequence[QuantizedPiece]):
        self.split_options(options)
        styles = StyleTable.from_pieces(train_pieces) if self.uses_styles else StyleTable([])
        generator = PolyphonicGenerator(
            self.name, options, self.make_model(options, styles), styles
        )
        generator.start_head_at_prior(train_pieces)
        return generator

    def load(self, path: Path) -> PolyphonicGenerator:
        payload = read_checkpoint(path, self.name)
        styles = StyleTable(payload.get("styles", []))
        model = self.make_model(payload["options"], styles)
        model.load_state_dict(payload["state_dict"])
        model.eval()
        return PolyphonicGenerator(self.name, payload["options"], model, styles)
