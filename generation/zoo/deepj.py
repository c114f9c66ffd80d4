"""DeepJ (Mao, Shin & Cottrell 2018): the Biaxial LSTM with style, dynamics and replay.

What it adds to biaxial.py:
- style: a style mixture s (one-hot for a training piece, any normalised mix
  when sampling) becomes an embedding h = W s; before every LSTM layer l, on
  both axes, tanh(W'_l h) is added to every note's input (section III-C);
- note features from a 1-D convolution over the previous step's planes
  (play, replay, velocity) across the note axis, two octaves wide, beside
  position, pitch class, the count of each pitch class sounding, and a
  one-hot beat (section III-A);
- heads for play, replay and dynamics (velocity 0..1); replay and dynamics
  losses count only where the note plays (section III-B);
- dropout: 0.2 on the input features, 0.5 after every LSTM layer.

With no style labels (n_styles = 0) it is the Biaxial LSTM with dynamics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from generation.zoo.biaxial import (
    SMALL_TRAINING,
    TINY_ROLL_TRAINING,
    BiaxialConfig,
    BiaxialLSTM,
    _training,
)
from generation.zoo.piano_roll_base import PLAY, REPLAY, VELOCITY, PolyphonicFamily


@dataclass
class DeepJConfig(BiaxialConfig):
    time_sizes: Sequence[int] = (256, 256)  # section IV-A
    note_sizes: Sequence[int] = (128, 128)
    dropout: float = 0.5
    input_dropout: float = 0.2
    n_styles: int = 0  # set from the training pieces' style labels
    style_size: int = 64
    conv_filters: int = 64
    conv_width: int = 25  # the note's octave neighbourhood: 12 semitones either side

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_styles < 0 or self.style_size < 1 or self.conv_filters < 1 or self.conv_width < 1:
            raise ValueError(f"invalid DeepJ sizes: {self}")
        if not 0 <= self.input_dropout < 1:
            raise ValueError(f"input_dropout must be in [0, 1), got {self.input_dropout}")


class DeepJ(BiaxialLSTM):
    outputs = ("play", "replay", "velocity")
    chosen_planes = (PLAY, REPLAY)

    def __init__(self, config: DeepJConfig) -> None:
        super().__init__(config)
        self.style_embedding = nn.Linear(max(1, config.n_styles), config.style_size, bias=False)
        inputs = {f"time{i}": size for i, size in enumerate(self._layer_inputs(self.time_layers))}
        inputs |= {f"note{i}": size for i, size in enumerate(self._layer_inputs(self.note_layers))}
        self.style_projections = nn.ModuleDict(
            {key: nn.Linear(config.style_size, size) for key, size in inputs.items()}
        )

    def build_feature_layers(self) -> None:
        config = self.config
        self.octave_conv = nn.Conv1d(3, config.conv_filters, config.conv_width, padding="same")
        pitches = torch.arange(config.low_pitch, config.low_pitch + config.n_notes)
        self.register_buffer("pitch_class_matrix", F.one_hot(pitches % 12, 12).float(), False)
        self.input_dropout = nn.Dropout(config.input_dropout)

    @staticmethod
    def _layer_inputs(layers: nn.ModuleList) -> list[int]:
        return [lstm.input_size for lstm in layers]

    @staticmethod
    def beat_encoding(steps_per_bar: int) -> torch.Tensor:
        """One-hot position in the bar (DeepJ's beat input: no time-signature assumption)."""
        return torch.eye(steps_per_bar)

    def feature_size(self) -> int:
        return 13 + 12 + self.config.conv_filters + self.config.steps_per_bar

    def note_features(self, previous: torch.Tensor, beats: torch.Tensor) -> torch.Tensor:
        batch, steps, notes, _ = previous.shape
        planes = previous[..., [PLAY, REPLAY, VELOCITY]].reshape(batch * steps, notes, 3)
        octave = torch.tanh(self.octave_conv(planes.transpose(1, 2)))  # (B*T, filters, N)
        octave = octave.transpose(1, 2).reshape(batch, steps, notes, -1)
        sounding = previous[..., PLAY] @ self.pitch_class_matrix  # (B, T, 12)
        bins = sounding[:, :, None].expand(-1, -1, notes, -1)
        pitch = self.pitch_features.expand(batch, steps, notes, -1)
        beat = self.beat_table[beats][:, :, None].expand(-1, -1, notes, -1)
        return self.input_dropout(torch.cat([pitch, bins, octave, beat], dim=-1))

    def condition(self, x: torch.Tensor, key: str, styles: torch.Tensor, repeat: int):
        if not self.config.n_styles:
            return x
        embedding = self.style_embedding(styles)  # (B, style_size)
        latent = self.dropout(torch.tanh(self.style_projections[key](embedding)))  # (B, D)
        return x + latent.repeat_interleave(repeat, dim=0)[:, None, :]

    def add_styles(self, count: int) -> None:
        """Widen the style embedding for `count` new labels; the known ones keep their vectors."""
        old = self.style_embedding.weight.data  # (style_size, max(1, n_styles))
        known = self.config.n_styles
        grown = nn.Linear(known + count, self.config.style_size, bias=False)
        with torch.no_grad():
            if known:
                grown.weight[:, :known] = old[:, :known]
        self.style_embedding = grown
        self.config.n_styles = known + count


class DeepJFamily(PolyphonicFamily):
    name = "deepj"
    title = "DeepJ (style-conditioned Biaxial LSTM with dynamics)"
    description = (
        "Biaxial LSTM with a learned style embedding added before every LSTM layer, an octave "
        "convolution over note features, and replay and dynamics heads (Mao et al. 2018)."
    )
    model_class = DeepJ
    config_class = DeepJConfig
    uses_styles = True
    configs = {"basic": {}}
    presets = {
        "tiny": {
            "model": {
                "time_sizes": [16, 16],
                "note_sizes": [8, 8],
                "style_size": 8,
                "conv_filters": 8,
                "dropout": 0.0,
                "input_dropout": 0.0,
            },
            "training": TINY_ROLL_TRAINING,
        },
        "small": {
            "model": {
                "time_sizes": [64, 64],
                "note_sizes": [32, 32],
                "style_size": 16,
                "conv_filters": 16,
                "dropout": 0.2,
                "input_dropout": 0.1,
            },
            "training": SMALL_TRAINING,
        },
        # Section IV-A: 2 x 256 time axis, 2 x 128 note axis, style 64, 64 filters, truncated
        # backpropagation over 8 bars; Nesterov Adam there, Adam here.
        "paper": {
            "model": {},
            "training": _training(steps=20000, batch_size=16, window=128, learning_rate=0.001),
        },
    }
