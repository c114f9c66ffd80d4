"""The JSB Chorales benchmark (Boulanger-Lewandowski, Vincent & Bengio, ICML 2012). No Django.

The standard measure of the polyphonic-modelling literature: the negative log-likelihood
of the test split, in nats per quarter-note frame, summed over the 88 piano keys (MIDI
21..108) and averaged over every test frame. A frame is the set of keys sounding; held
and repeated notes are the same in these files, so only the play decision is scored.

Here: the data (229 / 76 / 77 chorales, generation/data/jsb-chorales), three baselines
fitted on the train split (uniform, independent per-key Bernoulli, per-key first-order
Markov), the likelihood of any piano-roll model of earshot's zoo (the Biaxial LSTM,
DeepJ) and of a token model over performance events (the Music Transformer), training a
piano-roll model on the split with pitch-transposition augmentation, and turning
chorales into pieces for the dataset import and the token models.

    frames (T, 88) uint8: frames[t, k] = 1 when key 21 + k sounds in quarter t
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import torch

from generation.music.scores import STEPS_PER_QUARTER, QuantizedPiece
from generation.zoo.piano_roll_base import (
    ARTICULATE,
    PLAY,
    PolyphonicGenerator,
    RollObjective,
    StyleTable,
    evaluate_rolls,
    head_bias_prior,
    with_transpositions,
)
from generation.zoo.trainer import Trainer, TrainingConfig, evaluate_sequences

DATA = Path(__file__).resolve().parent.parent / "data" / "jsb-chorales"
LOWEST_KEY = 21
KEYS = 88
SPLITS = ("train", "valid", "test")
STEPS_PER_BAR = 4  # quarter-note frames, 4/4
STYLE = "bach"


@cache
def load_jsb(path: Path = DATA / "jsb-chorales-quarter.json") -> dict[str, tuple[np.ndarray, ...]]:
    """{"train": chorales, "valid": ..., "test": ...}, each chorale (T, 88) uint8 frames."""
    raw = json.loads(Path(path).read_text())
    splits = {}
    for split in SPLITS:
        chorales = []
        for chorale in raw[split]:
            frames = np.zeros((len(chorale), KEYS), dtype=np.uint8)
            for step, pitches in enumerate(chorale):
                for pitch in pitches:
                    frames[step, int(pitch) - LOWEST_KEY] = 1
            frames.setflags(write=False)
            chorales.append(frames)
        splits[split] = tuple(chorales)
    return splits


def frame_count(chorales: Sequence[np.ndarray]) -> int:
    return sum(len(frames) for frames in chorales)


@dataclass(frozen=True)
class FrameLikelihood:
    """A model's score on a split: `nats_per_frame` is the benchmark's number."""

    model: str
    nats_per_frame: float
    frames: int
    chorales: int
    note: str = ""

    @property
    def bits_per_frame(self) -> float:
        return self.nats_per_frame / math.log(2)


def uniform(chorales: Sequence[np.ndarray]) -> FrameLikelihood:
    """Every key a fair coin: 88 ln 2 nats per frame."""
    return FrameLikelihood(
        "uniform (p = 1/2 per key)", KEYS * math.log(2), frame_count(chorales), len(chorales)
    )


def _bernoulli_nll(on: np.ndarray, probability: np.ndarray) -> np.ndarray:
    return -(on * np.log(probability) + (1 - on) * np.log1p(-probability))


@dataclass(frozen=True)
class IndependentBernoulli:
    """Each key sounds with its own probability, frame after frame, independent of all else;
    fitted on the train split with add-`smoothing` counts."""

    probability: np.ndarray  # (88,)

    @classmethod
    def fit(cls, chorales: Sequence[np.ndarray], *, smoothing: float = 1.0):
        frames = np.concatenate(chorales)
        on = frames.sum(axis=0)
        return cls((on + smoothing) / (len(frames) + 2 * smoothing))

    def key_nll(self, chorales: Sequence[np.ndarray]) -> np.ndarray:
        """(88,) nats summed over every frame, per key."""
        frames = np.concatenate(chorales).astype(np.float64)
        return _bernoulli_nll(frames, self.probability[None]).sum(axis=0)

    def score(self, chorales: Sequence[np.ndarray]) -> FrameLikelihood:
        total = float(self.key_nll(chorales).sum())
        return FrameLikelihood(
            "independent Bernoulli per key",
            total / frame_count(chorales),
            frame_count(chorales),
            len(chorales),
        )


@dataclass(frozen=True)
class KeyMarkov:
    """Each key a first-order Markov chain of its own: P(on now | on or off the frame before),
    add-`smoothing` counts; a chorale's first frame is scored by the per-key Bernoulli."""

    after_off: np.ndarray  # (88,) P(on | off before)
    after_on: np.ndarray  # (88,) P(on | on before)
    first: IndependentBernoulli

    @classmethod
    def fit(cls, chorales: Sequence[np.ndarray], *, smoothing: float = 1.0):
        before = np.concatenate([frames[:-1] for frames in chorales]).astype(bool)
        now = np.concatenate([frames[1:] for frames in chorales]).astype(bool)
        on_after_on = (before & now).sum(axis=0)
        on_after_off = (~before & now).sum(axis=0)
        return cls(
            (on_after_off + smoothing) / ((~before).sum(axis=0) + 2 * smoothing),
            (on_after_on + smoothing) / (before.sum(axis=0) + 2 * smoothing),
            IndependentBernoulli.fit([frames[:1] for frames in chorales], smoothing=smoothing),
        )

    def score(self, chorales: Sequence[np.ndarray]) -> FrameLikelihood:
        total = float(self.first.key_nll([frames[:1] for frames in chorales]).sum())
        for frames in chorales:
            before, now = frames[:-1].astype(bool), frames[1:].astype(np.float64)
            probability = np.where(before, self.after_on[None], self.after_off[None])
            total += float(_bernoulli_nll(now, probability).sum())
        return FrameLikelihood(
            "first-order Markov chain per key",
            total / frame_count(chorales),
            frame_count(chorales),
            len(chorales),
        )


def frames_to_roll(frames: np.ndarray, low_pitch: int, n_notes: int) -> np.ndarray:
    """(T, 88) frames -> a (T, n_notes, 4) piano roll over the model's own range. Articulation
    marks a key that starts to sound (the data has no re-strikes); velocity is left unset."""
    start = low_pitch - LOWEST_KEY
    roll = np.zeros((len(frames), n_notes, 4), dtype=np.float32)
    inside = slice(max(0, start), min(KEYS, start + n_notes))
    target = slice(inside.start - start, inside.stop - start)
    play = frames[:, inside].astype(np.float32)
    roll[:, target, PLAY] = play
    before = np.zeros_like(play)
    before[1:] = play[:-1]
    roll[:, target, ARTICULATE] = play * (1 - before)
    return roll


def keys_outside(low_pitch: int, n_notes: int) -> np.ndarray:
    """(88,) bool: the keys a model with this range does not model."""
    keys = np.arange(LOWEST_KEY, LOWEST_KEY + KEYS)
    return (keys < low_pitch) | (keys >= low_pitch + n_notes)


def roll_model_likelihood(
    model,
    chorales: Sequence[np.ndarray],
    *,
    name: str,
    outside: IndependentBernoulli,
    style_weights: np.ndarray | None = None,
    batch_size: int = 8,
) -> FrameLikelihood:
    """A piano-roll model's benchmark score, teacher-forced over whole chorales: its play
    probabilities on the keys it models, and `outside` (the train split's per-key Bernoulli)
    on any key beyond its range. Articulation, replay and velocity are not scored."""
    config = model.config
    rolls = [frames_to_roll(frames, config.low_pitch, config.n_notes) for frames in chorales]
    styles = np.repeat(_style_row(model, style_weights)[None], len(rolls), axis=0)
    metrics = evaluate_rolls(
        model, rolls, styles, steps_per_bar=config.steps_per_bar, batch_size=batch_size
    )
    frames = frame_count(chorales)
    total = metrics["play_loss"] * frames * config.n_notes
    missing = keys_outside(config.low_pitch, config.n_notes)
    note = ""
    if missing.any():
        total += float(outside.key_nll(chorales)[missing].sum())
        sounding = int(np.concatenate(chorales)[:, missing].sum())
        note = f"{int(missing.sum())} keys outside its range scored by the Bernoulli baseline"
        note += f" ({sounding} sounding notes there)" if sounding else " (silent in this split)"
    if config.steps_per_bar != STEPS_PER_BAR:
        note = "; ".join(
            filter(None, [note, f"trained at {config.steps_per_bar} steps a bar, scored on 4"])
        )
    return FrameLikelihood(name, float(total) / frames, frames, len(chorales), note)


def jsb_objective(
    model, train: Sequence[np.ndarray], valid: Sequence[np.ndarray], *, style_weights=None
) -> RollObjective:
    """The trainer's view of the split for a piano-roll model (play and articulate losses)."""
    config = model.config
    row = _style_row(model, style_weights)

    def rolls_of(chorales):
        rolls = [frames_to_roll(f, config.low_pitch, config.n_notes) for f in chorales]
        return rolls, np.repeat(row[None], len(rolls), axis=0)

    train_rolls, train_styles = rolls_of(train)
    valid_rolls, valid_styles = rolls_of(valid)
    return RollObjective(
        train_rolls,
        train_styles,
        valid_rolls,
        valid_styles,
        steps_per_bar=config.steps_per_bar,
        outputs=model.outputs,
    )


def _style_row(model, weights) -> np.ndarray:
    """The style input of every chorale: the given mixture, else every style the model
    knows equally (DeepJ trained here knows one, "bach"); empty for the plain Biaxial."""
    width = int(getattr(model.config, "n_styles", 0) or 0)
    if weights is not None:
        return np.asarray(weights, np.float32)
    return np.full(width, 1.0 / width if width else 0.0, dtype=np.float32)


def jsb_model_options(options: Mapping | None = None) -> dict:
    """A piano-roll family's options for the benchmark: all 88 keys, quarter-note frames."""
    return {"low_pitch": LOWEST_KEY, "n_notes": KEYS, "steps_per_bar": STEPS_PER_BAR} | dict(
        options or {}
    )


def style_table() -> StyleTable:
    return StyleTable([STYLE])


def chorale_piece(frames: np.ndarray, *, title: str) -> QuantizedPiece:
    """A chorale as a piece on earshot's sixteenth-note grid: a key sounding in consecutive
    frames is one held note (the files cannot tell a held note from a repeated one)."""
    notes = []
    steps = STEPS_PER_QUARTER
    for key in np.flatnonzero(frames.any(axis=0)):
        sounding = np.concatenate([[0], frames[:, key].astype(np.int8), [0]])
        edges = np.flatnonzero(np.diff(sounding))
        for start, end in zip(edges[::2], edges[1::2], strict=True):
            notes.append((LOWEST_KEY + key, start * steps, end * steps, 90, 0))
    return QuantizedPiece(
        np.asarray(notes, dtype=np.int32).reshape(-1, 5),
        part_names=("",),
        time_signature=(4, 4),
        tempo_qpm=90.0,
        title=title,
        composer="J.S. Bach",
        extra={"style": STYLE},
    )


def prepare_model(
    family,
    options: Mapping | None,
    training: TrainingConfig,
    *,
    splits: Mapping[str, Sequence[np.ndarray]] | None = None,
) -> tuple[PolyphonicGenerator, RollObjective]:
    """A step-0 piano-roll model (Biaxial LSTM, DeepJ) at the benchmark's 88 keys and
    quarter-note frames, and the trainer's view of the train and valid splits; with
    `training.augment_transpose` the train split also holds each chorale's transpositions.
    The generator saves and loads as any checkpoint of its family does."""
    splits = splits or load_jsb()
    model_options = jsb_model_options(options)
    family.split_options(model_options)
    styles = style_table() if family.uses_styles else StyleTable([])
    model = family.make_model(model_options, styles)
    generator = PolyphonicGenerator(family.name, model_options, model, styles)
    objective = jsb_objective(model, splits["train"], splits["valid"])
    if training.augment_transpose:
        objective.train_rolls, objective.train_styles = with_transpositions(
            objective.train_rolls, objective.train_styles, training.augment_transpose
        )
    with torch.no_grad():  # start the heads at the data's note density, as build() does
        model.head.bias.copy_(head_bias_prior(objective.train_rolls, model.outputs))
    return generator, objective


def train_model(
    family,
    options: Mapping | None,
    training: TrainingConfig,
    *,
    splits: Mapping[str, Sequence[np.ndarray]] | None = None,
    callbacks: Sequence = (),
    device: str = "cpu",
) -> PolyphonicGenerator:
    """prepare_model, then trained for `training.steps`; the weights end on the CPU."""
    generator, objective = prepare_model(family, options, training, splits=splits)
    Trainer(generator.model, objective, training, callbacks=callbacks, device=device).run()
    generator.model.to("cpu")
    return generator


def token_model_likelihood(
    generator, chorales: Sequence[np.ndarray], *, name: str, batch_size: int = 8
) -> FrameLikelihood:
    """A token model's benchmark score (the Music Transformer over performance events): the
    log-probability of each chorale's event stream, its first event included (from how the
    training pieces began, add-one smoothed), per quarter-note frame. The stream decodes to
    exactly the chorale's frames; a model may also give probability to other event orders
    that decode to the same frames, so this is an upper bound on its frame NLL."""
    pieces = [chorale_piece(frames, title="") for frames in chorales]
    sequences = [generator.codec.encode_piece(piece) for piece in pieces]
    metrics = evaluate_sequences(generator.model, sequences, batch_size=batch_size)
    counts = np.asarray(generator.first_token_counts, dtype=np.float64) + 1.0
    opening = -np.log(counts / counts.sum())
    total = metrics["loss"] * metrics["n_events"] + float(sum(opening[s[0]] for s in sequences))
    events = sum(len(s) for s in sequences)
    note = f"{events / frame_count(chorales):.1f} events a frame; an upper bound (event order)"
    return FrameLikelihood(
        name, total / frame_count(chorales), frame_count(chorales), len(chorales), note
    )


def chorale_pieces(chorales: Sequence[np.ndarray], *, transpose: int = 0) -> list[QuantizedPiece]:
    """The chorales as pieces, with every transposition up to +-transpose semitones that
    keeps them on the 88 keys (the token models' augmentation)."""
    pieces = []
    for index, frames in enumerate(chorales):
        piece = chorale_piece(frames, title=f"chorale {index + 1}")
        low, high = int(piece.notes[:, 0].min()), int(piece.notes[:, 0].max())
        for shift in sorted(range(-transpose, transpose + 1), key=abs):
            if low + shift >= LOWEST_KEY and high + shift < LOWEST_KEY + KEYS:
                pieces.append(piece.transposed(shift) if shift else piece)
    return pieces
