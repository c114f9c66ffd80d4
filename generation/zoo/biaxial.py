"""Biaxial LSTM (Johnson 2015), as Deep Jammer (Tucker et al.) trained it.

Each step, every note gets features of its own: position, pitch class, what
its +-12 semitone vicinity did one step earlier (play and articulate), and
the beat. A time-axis LSTM stack, its weights shared by every note, runs over
time for each note; then the axes swap and a note-axis LSTM stack sweeps
from the lowest note up, seeing the choice made for the note just below
(zeros under the lowest), and a sigmoid head gives play and articulate
probabilities:

    previous (B, T, N, 4) -> note features (B, T, N, F) -> time axis, per note (B*N, T, F)
    -> (B, T, N, Ht) ++ lower note's choice (B, T, N, 2) -> note axis, per step (B*T, N, Ht+2)
    -> head -> logits (B, T, N, 2)

Training is teacher-forced over whole time/note grids: both stacks run as
batched nn.LSTM calls, with no Python loop over notes or steps. Generation
(generation/zoo/piano_roll_base.py) walks the note axis one note at a time.

DeepJ (deepj.py) is this model plus style conditioning, dynamics and replay;
it overrides the note features, the conditioning hook and the heads.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from generation.zoo.base import TINY_TRAINING
from generation.zoo.piano_roll_base import ARTICULATE, PLAY, PolyphonicFamily


def _sizes(value: Sequence[int], name: str) -> tuple[int, ...]:
    sizes = tuple(int(v) for v in ([value] if isinstance(value, int) else value))
    if not sizes or any(v < 1 for v in sizes):
        raise ValueError(f"{name} must be one or more layer sizes >= 1, got {value!r}")
    return sizes


@dataclass
class BiaxialConfig:
    low_pitch: int = 36
    n_notes: int = 48  # MIDI 36..83 by default; Deep Jammer used all 88 keys (21..108)
    steps_per_bar: int = 16
    time_sizes: Sequence[int] = (300, 300)  # Deep Jammer Table 1, Large
    note_sizes: Sequence[int] = (100, 50)
    dropout: float = 0.0  # after every LSTM layer (0.5 in Deep Jammer's dropout run)
    vicinity: int = 12  # semitones either side whose previous step each note sees

    def __post_init__(self) -> None:
        self.time_sizes = _sizes(self.time_sizes, "time_sizes")
        self.note_sizes = _sizes(self.note_sizes, "note_sizes")
        if not self.low_pitch >= 0 or self.low_pitch + self.n_notes > 128 or self.n_notes < 2:
            raise ValueError(f"the pitch range {self.low_pitch}+{self.n_notes} is not MIDI 0..127")
        if self.steps_per_bar < 1 or self.vicinity < 0:
            raise ValueError("steps_per_bar must be >= 1 and vicinity >= 0")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


class BiaxialLSTM(nn.Module):
    outputs: tuple[str, ...] = ("play", "articulate")
    chosen_planes: tuple[int, ...] = (PLAY, ARTICULATE)  # what the note axis sees of the note below

    def __init__(self, config) -> None:
        super().__init__()
        self.config = config
        pitches = torch.arange(config.low_pitch, config.low_pitch + config.n_notes)
        position = (pitches - config.low_pitch).float()[:, None] / (config.n_notes - 1)
        pitch_class = F.one_hot(pitches % 12, 12).float()
        self.register_buffer("pitch_features", torch.cat([position, pitch_class], -1), False)
        self.register_buffer("beat_table", self.beat_encoding(config.steps_per_bar), False)
        self.build_feature_layers()
        self.dropout = nn.Dropout(config.dropout)
        sizes = [self.feature_size(), *config.time_sizes]
        self.time_layers = nn.ModuleList(
            nn.LSTM(i, o, batch_first=True) for i, o in pairwise(sizes)
        )
        sizes = [config.time_sizes[-1] + len(self.chosen_planes), *config.note_sizes]
        self.note_layers = nn.ModuleList(
            nn.LSTM(i, o, batch_first=True) for i, o in pairwise(sizes)
        )
        self.head = nn.Linear(config.note_sizes[-1], len(self.outputs))

    @staticmethod
    def beat_encoding(steps_per_bar: int) -> torch.Tensor:
        """(steps_per_bar, bits): the step within the bar in binary (Johnson's beat input)."""
        bits = max(1, math.ceil(math.log2(steps_per_bar)))
        steps = torch.arange(steps_per_bar)[:, None]
        return ((steps >> torch.arange(bits)) & 1).float()

    def build_feature_layers(self) -> None:
        """Layers that make note features (none here; DeepJ's convolution)."""

    def feature_size(self) -> int:
        return 13 + 2 * (2 * self.config.vicinity + 1) + self.beat_table.shape[1]

    def note_features(self, previous: torch.Tensor, beats: torch.Tensor) -> torch.Tensor:
        """previous (B, T, N, 4), beats (B, T) -> (B, T, N, F)."""
        batch, steps, notes, _ = previous.shape
        width = self.config.vicinity
        planes = previous[..., [PLAY, ARTICULATE]]  # (B, T, N, 2)
        padded = F.pad(planes, (0, 0, width, width))  # silence beyond the range
        vicinity = padded.unfold(2, 2 * width + 1, 1)  # (B, T, N, 2, 2w+1)
        vicinity = vicinity.reshape(batch, steps, notes, -1)
        pitch = self.pitch_features.expand(batch, steps, notes, -1)
        beat = self.beat_table[beats][:, :, None].expand(-1, -1, notes, -1)
        return torch.cat([pitch, vicinity, beat], dim=-1)

    def condition(self, x: torch.Tensor, key: str, styles: torch.Tensor, repeat: int):
        """x (B*repeat, L, D) before LSTM layer `key`; the plain Biaxial has no global input."""
        return x

    def time_axis(self, previous, beats, styles, state=None):
        """-> features (B, T, N, Ht) and the per-layer (h, c) state, rows b*N + n."""
        x = self.note_features(previous, beats)
        batch, steps, notes, width = x.shape
        x = x.permute(0, 2, 1, 3).reshape(batch * notes, steps, width)
        new_state = []
        for index, lstm in enumerate(self.time_layers):
            x = self.condition(x, f"time{index}", styles, notes)
            x, layer_state = lstm(x, None if state is None else state[index])
            x = self.dropout(x)
            new_state.append(layer_state)
        x = x.reshape(batch, notes, steps, -1).permute(0, 2, 1, 3)
        return x, new_state

    def _lower_notes(self, chosen: torch.Tensor) -> torch.Tensor:
        """(B, T, N, 4) -> (B, T, N, C): each note sees the chosen planes of the note below."""
        planes = chosen[..., list(self.chosen_planes)]
        return torch.cat([torch.zeros_like(planes[:, :, :1]), planes[:, :, :-1]], dim=2)

    def note_axis(self, features, chosen, styles):
        """features (B, T, N, Ht), chosen (B, T, N, 4) -> logits (B, T, N, O)."""
        batch, steps, notes, _ = features.shape
        x = torch.cat([features, self._lower_notes(chosen)], dim=-1)
        x = x.reshape(batch * steps, notes, -1)
        for index, lstm in enumerate(self.note_layers):
            x = self.condition(x, f"note{index}", styles, steps)
            x, _ = lstm(x)
            x = self.dropout(x)
        return self.head(x).reshape(batch, steps, notes, -1)

    def forward(self, previous, beats, styles, chosen):
        """Teacher-forced logits (B, T, N, O) of a window from a fresh state: both axes, as
        training runs them (one call, so DistributedDataParallel sees the forward pass)."""
        features, _ = self.time_axis(previous, beats, styles, None)
        return self.note_axis(features, chosen, styles)

    def note_step(self, features, lower, styles, state=None):
        """One note for all B rows: features (B, Ht), lower (B, 4) -> logits (B, O), state."""
        x = torch.cat([features, lower[:, list(self.chosen_planes)]], dim=-1)[:, None]
        new_state = []
        for index, lstm in enumerate(self.note_layers):
            x = self.condition(x, f"note{index}", styles, 1)
            x, layer_state = lstm(x, None if state is None else state[index])
            new_state.append(layer_state)
        return self.head(x[:, 0]), new_state

    def reset_head(self) -> None:
        self.head.reset_parameters()


def _training(**options) -> dict:
    return {"eval_batch_size": 8, "eval_window": 128, **options}


# The piano-roll families' "small" training: about a CPU minute and a half on the chorales.
SMALL_TRAINING = _training(
    steps=300, batch_size=8, window=64, learning_rate=0.005, eval_every=50, checkpoint_every=100
)
# Their "tiny" training, for tests.
TINY_ROLL_TRAINING = _training(**TINY_TRAINING, learning_rate=0.01)


class BiaxialFamily(PolyphonicFamily):
    name = "biaxial-lstm"
    title = "Biaxial LSTM (Deep Jammer)"
    description = (
        "Polyphonic piano roll: a time-axis LSTM shared by every note, then a note-axis LSTM "
        "sweeping low to high; play and articulate per note (Johnson 2015; Deep Jammer)."
    )
    model_class = BiaxialLSTM
    config_class = BiaxialConfig
    configs = {"basic": {}, "dropout": {"dropout": 0.5}}
    # Deep Jammer trained with Adadelta on batches of 5 segments of 128 steps; here Adam.
    _seed_training = _training(steps=5000, batch_size=5, window=128, learning_rate=0.01)
    presets = {
        "tiny": {
            "model": {"time_sizes": [16, 16], "note_sizes": [8, 8]},
            "training": TINY_ROLL_TRAINING,
        },
        "small": {
            "model": {"time_sizes": [64, 64], "note_sizes": [32, 32]},
            "training": SMALL_TRAINING,
        },
        "deep-jammer-small": {
            "model": {"time_sizes": [75, 75], "note_sizes": [25, 13]},
            "training": _seed_training,
        },
        "deep-jammer-medium": {
            "model": {"time_sizes": [150, 150], "note_sizes": [50, 25]},
            "training": _seed_training,
        },
        "deep-jammer-large": {
            "model": {"time_sizes": [300, 300], "note_sizes": [100, 50]},
            "training": _seed_training,
        },
    }
