"""The shared machinery of the built-in model families (token sequences: the Markov chain,
the melody LSTMs); the interface every family offers earshot is in interface.py.

Register a family through the `earshot.model_families` entry point (see
generation/zoo/__init__.py) or the EARSHOT_MODEL_FAMILIES setting.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import numpy as np
import pretty_midi
import torch

from generation.encodings.sequences import (
    Codec,
    codec_from_dict,
    encode_pieces,
    make_codec,
    sampleable_tokens,
)
from generation.music.scores import QuantizedPiece
from generation.zoo.interface import ModelFamily
from generation.zoo.sampling import cut_at, sample_tokens
from generation.zoo.trainer import (
    Shard,
    TokenObjective,
    Trainer,
    TrainingCallback,
    TrainingConfig,
    TrainingResult,
    evaluate_sequences,
)

CHECKPOINT_FORMAT = "earshot-checkpoint/1"
CODEC_OPTIONS = {
    "melody-events": ("min_pitch", "max_pitch", "transpose", "part"),
    "note-tuples": ("with_beat", "transpose", "part", "unknown", "min_count"),
    "performance-events": ("min_pitch", "max_pitch", "max_shift", "velocity_bins"),
}


TRAINING_KEYS = frozenset(f.name for f in fields(TrainingConfig))
# The neural families' "tiny" training: seconds on a CPU, for tests and trying things out.
TINY_TRAINING = {
    "steps": 30,
    "batch_size": 4,
    "window": 16,
    "eval_every": 10,
    "checkpoint_every": 10,
}


def parse_option_value(text: str) -> Any:
    """`--set key=value` values: JSON where it parses (0.5, true, null, "x"), else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def resolve_options(
    family: ModelFamily,
    *,
    config: str | None = None,
    preset: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[dict, dict]:
    """(model options, training options): the preset, then the config, then explicit overrides."""
    presets = getattr(family, "presets", {}) or {}
    configs = getattr(family, "configs", {}) or {}
    if preset is not None and preset not in presets:
        raise ValueError(f"{family.name} has no preset {preset!r}; presets: {sorted(presets)}")
    if config is not None and config not in configs:
        raise ValueError(f"{family.name} has no config {config!r}; configs: {sorted(configs)}")
    chosen = presets.get(preset, {}) if preset else {}
    model = dict(chosen.get("model", {}))
    training = dict(chosen.get("training", {}))
    if config:
        model.update(configs[config])
    for key, value in (overrides or {}).items():
        (training if key in TRAINING_KEYS else model)[key] = value
    return model, training


def write_atomically(path: Path, payload: dict) -> None:
    """A crash mid-write never leaves a truncated checkpoint under the final name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(payload, temporary)
    os.replace(temporary, path)


def read_checkpoint(path: Path, family: str | None = None) -> dict:
    """The checkpoint dictionary; ValueError if it is not one, or not of `family`."""
    payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not an earshot checkpoint ({CHECKPOINT_FORMAT})")
    if family is not None and payload["family"] != family:
        raise ValueError(f"{path} holds a {payload['family']} checkpoint, not {family}")
    return payload


def save_checkpoint(path: Path, generator, *, step: int, extra: dict | None, **parts) -> None:
    """The built-in families' checkpoint file: a plain dictionary that `torch.load(path,
    weights_only=True)` reads; `parts` are what the family needs beyond the weights."""
    write_atomically(
        path,
        {
            "format": CHECKPOINT_FORMAT,
            "family": generator.family,
            "options": generator.options,
            "model_config": asdict(generator.model.config),
            "state_dict": generator.model.state_dict(),
            "step": step,
            "extra": extra or {},
            **parts,
        },
    )


class SequenceGenerator:
    """A codec plus a token model: what the built-in families share.

    `model` answers `logits, state = model(tokens, state)` (an nn.Module, or
    the Markov chain). `first_token_counts` (V,) counts how training pieces
    begin, for sampling without a primer.
    """

    records_step = True  # save(path, step=, extra=): see interface.RecordsStep
    fit_options = frozenset({"device", "resume", "shard"})  # see interface.FitSwitches

    def __init__(self, family: str, options: dict, codec: Codec, model, first_token_counts=None):
        self.family = family
        self.options = dict(options)
        self.codec = codec
        self.model = model
        size = codec.num_classes
        self.first_token_counts = (
            np.zeros(size, dtype=np.int64)
            if first_token_counts is None
            else np.asarray(first_token_counts)
        )

    @property
    def is_neural(self) -> bool:
        return isinstance(self.model, torch.nn.Module)

    def encode(self, pieces: Sequence[QuantizedPiece]) -> list[np.ndarray]:
        return encode_pieces(self.codec, pieces)

    def count_first_tokens(self, sequences: Sequence[np.ndarray]) -> None:
        counts = np.zeros(self.codec.num_classes, dtype=np.int64)
        for sequence in sequences:
            counts[int(sequence[0])] += 1
        self.first_token_counts = counts

    def evaluate(self, pieces: Sequence[QuantizedPiece], *, batch_size: int = 32) -> dict:
        return evaluate_sequences(
            self.model,
            self.encode(pieces),
            filler_class=self.codec.filler_class,
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
        if training.augment_transpose:
            raise ValueError(
                f"{self.family} learns from token sequences: augment_transpose is for the "
                "piano-roll families (its codec's own transpose option moves pieces to C)"
            )
        train, valid = self.encode(train_pieces), self.encode(valid_pieces)
        if not train:
            raise ValueError("no training piece gives a sequence of two or more events")
        self.count_first_tokens(train)
        if self.is_neural:
            objective = TokenObjective(train, valid, filler_class=self.codec.filler_class)
            trainer = Trainer(
                self.model, objective, training, callbacks=callbacks, device=device, shard=shard
            )
            return trainer.run(resume=resume)
        return self._count(train, valid, training, callbacks)  # counting: nothing to resume

    def _count(self, train, valid, training: TrainingConfig, callbacks) -> TrainingResult:
        """Counting is the Markov chain's whole training: step 0 is uniform, step 1 has counted."""
        started = time.perf_counter()
        history = []
        for callback in callbacks:
            callback.on_start(
                1,
                {
                    "parameters": 0,
                    "train_sequences": len(train),
                    "valid_sequences": len(valid),
                    "device": "cpu",  # counting needs no other
                },
            )
        for step in (0, 1):
            if step == 1:
                self.model.fit(train)
                for callback in callbacks:
                    callback.on_step(1, 1, float("nan"))
            metrics = {
                "valid": evaluate_sequences(
                    self.model, valid, filler_class=self.codec.filler_class
                ),
            }
            if step == 1:
                metrics["train"] = evaluate_sequences(
                    self.model, train, filler_class=self.codec.filler_class
                )
            history.append({"step": step, **metrics})
            for callback in callbacks:
                callback.on_evaluation(step, metrics)
                callback.on_checkpoint(step, metrics)
        for callback in callbacks:
            callback.on_end(1, False)
        valid_loss = history[-1]["valid"].get("loss")
        return TrainingResult(1, False, 1, valid_loss, time.perf_counter() - started, history)

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
    ) -> list[pretty_midi.PrettyMIDI]:
        primer_tokens = self.codec.encode_piece(primer) if primer is not None else None
        token_steps = self.codec.token_steps
        primer_steps = int(token_steps[primer_tokens].sum()) if primer_tokens is not None else 0
        sequences = sample_tokens(
            self.model,
            n=n,
            steps=steps,
            token_steps=token_steps,
            first_token_weights=self.first_token_counts,
            primer=primer_tokens,
            temperature=temperature,
            top_k=top_k,
            seed=seed,
            allowed=sampleable_tokens(self.codec),
            max_tokens=steps * getattr(self.codec, "max_tokens_per_step", 1),
        )
        seconds = (primer_steps + steps) / 4 * 60.0 / tempo_qpm
        return [
            cut_at(self.codec.decode(tokens, tempo_qpm=tempo_qpm), seconds) for tokens in sequences
        ]

    def to(self, device: str | torch.device) -> SequenceGenerator:
        """Moves the model's weights (a counted model stays where it is)."""
        if self.is_neural:
            self.model.to(device)
        return self

    def logits(self, tokens: torch.Tensor):
        """Next-token logits (B, T, V) from a fresh state: what save/load must preserve exactly."""
        if self.is_neural:
            self.model.eval()
        with torch.no_grad():
            return self.model(tokens, None)[0]

    def save(self, path: Path, *, step: int = 0, extra: dict | None = None) -> None:
        save_checkpoint(
            path,
            self,
            step=step,
            extra=extra,
            codec=self.codec.to_dict(),
            first_token_counts=torch.from_numpy(self.first_token_counts.astype(np.int64)),
        )


class SequenceFamily:
    """A built-in family: options -> codec + model. Subclasses say which model."""

    name = ""
    title = ""
    description = ""
    configs: dict[str, dict] = {}
    presets: dict[str, dict] = {}
    model_class: type = object  # built as model_class(config_class(num_classes=V, **options))
    config_class: type = object
    default_codec = "melody-events"

    @property
    def model_keys(self) -> tuple[str, ...]:
        """The model's options are its config's fields; the codec fixes the number of classes."""
        return tuple(f.name for f in fields(self.config_class) if f.name != "num_classes")

    def codec_name(self, options: Mapping[str, Any]) -> str:
        return self.default_codec

    def split_options(self, options: Mapping[str, Any]) -> tuple[str, dict, dict]:
        codec_name = self.codec_name(options)
        codec_keys = CODEC_OPTIONS[codec_name]
        known = set(codec_keys) | set(self.model_keys) | {"encoding"}
        unknown = set(options) - known
        if unknown:
            raise ValueError(
                f"unknown {self.name} options {sorted(unknown)}; known: {sorted(known)}"
            )
        codec_options = {k: v for k, v in options.items() if k in codec_keys}
        model_options = {k: v for k, v in options.items() if k in self.model_keys}
        return codec_name, codec_options, model_options

    def make_model(self, model_options: dict, num_classes: int):
        return self.model_class(self.config_class(num_classes=num_classes, **model_options))

    def build(
        self, options: Mapping[str, Any], train_pieces: Sequence[QuantizedPiece]
    ) -> SequenceGenerator:
        codec_name, codec_options, model_options = self.split_options(options)
        codec = make_codec(codec_name, **codec_options)
        codec.fit(train_pieces)
        model = self.make_model(model_options, codec.num_classes)
        generator = SequenceGenerator(self.name, dict(options), codec, model)
        generator.count_first_tokens(generator.encode(train_pieces))
        return generator

    def load(self, path: Path) -> SequenceGenerator:
        payload = read_checkpoint(path, self.name)
        codec = codec_from_dict(payload["codec"])
        _, _, model_options = self.split_options(payload["options"])
        model = self.make_model(model_options, codec.num_classes)
        model.load_state_dict(payload["state_dict"])
        if isinstance(model, torch.nn.Module):
            model.eval()
        return SequenceGenerator(
            self.name, payload["options"], codec, model, payload["first_token_counts"].numpy()
        )
