"""Performance events for polyphony (Oore et al. 2018, "This time with feeling"). Pure.

A piece, all its parts together, becomes one stream of events:

    NOTE_ON(p)    a key starts to sound         (one token per pitch in range)
    NOTE_OFF(p)   it stops                      (one token per pitch in range)
    TIME_SHIFT(k) time moves on k sixteenths    (k = 1 .. max_shift; longer gaps take several)
    VELOCITY(b)   later note-ons play at bin b  (written only when the bin changes)

Oore et al. shift by 10 ms up to 1 s on unquantized performances; earshot's pieces are
quantized to sixteenths, so here a shift counts grid steps. Token 0 is padding. At one
instant, note-offs come before note-ons (a repeated key is released, then struck again),
each in pitch order, so a piece has exactly one event stream. Two parts on one key at
once cannot be told apart: decoded, the later strike ends the earlier note, as on a piano.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pretty_midi

from generation.music.midi import notes_to_pretty_midi
from generation.music.scores import END, PITCH, START, VELOCITY, QuantizedPiece

PAD = 0


@dataclass
class PerformanceEventCodec:
    min_pitch: int = 21
    max_pitch: int = 108
    max_shift: int = 16  # sixteenths: one bar of 4/4 in a token
    velocity_bins: int = 32
    name: str = field(default="performance-events", init=False)

    def __post_init__(self) -> None:
        if not 0 <= self.min_pitch <= self.max_pitch <= 127:
            raise ValueError(f"pitch range {self.min_pitch}..{self.max_pitch} is not MIDI")
        if self.max_shift < 1 or not 1 <= self.velocity_bins <= 127:
            raise ValueError("max_shift must be >= 1 and velocity_bins 1..127")

    # Token layout: PAD, note-ons, note-offs, time-shifts, velocities.
    @property
    def pitches(self) -> int:
        return self.max_pitch - self.min_pitch + 1

    @property
    def first_off(self) -> int:
        return 1 + self.pitches

    @property
    def first_shift(self) -> int:
        return 1 + 2 * self.pitches

    @property
    def first_velocity(self) -> int:
        return self.first_shift + self.max_shift

    @property
    def num_classes(self) -> int:
        return self.first_velocity + self.velocity_bins

    @property
    def filler_class(self) -> int | None:
        return None

    @property
    def token_steps(self) -> np.ndarray:
        steps = np.zeros(self.num_classes, dtype=np.int64)
        steps[self.first_shift : self.first_velocity] = np.arange(1, self.max_shift + 1)
        return steps

    @property
    def sampleable(self) -> np.ndarray:
        """Every token but padding may be drawn (most advance no time)."""
        allowed = np.ones(self.num_classes, dtype=bool)
        allowed[PAD] = False
        return allowed

    @property
    def max_tokens_per_step(self) -> int:
        """A bound for the sampler: four voices' offs, ons and velocities in one step."""
        return 16

    def fit(self, pieces: Sequence[QuantizedPiece]) -> None:
        """Nothing to learn: the vocabulary is fixed by the ranges."""

    def velocity_bin(self, velocity: int) -> int:
        return min(self.velocity_bins - 1, (int(velocity) - 1) * self.velocity_bins // 127)

    def bin_velocity(self, index: int) -> int:
        """The middle velocity of a bin."""
        low = -(-index * 127 // self.velocity_bins) + 1
        high = -(-(index + 1) * 127 // self.velocity_bins)
        return max(1, min(127, (low + high) // 2))

    def encode_piece(self, piece: QuantizedPiece) -> np.ndarray:
        notes = piece.notes
        notes = notes[(notes[:, PITCH] >= self.min_pitch) & (notes[:, PITCH] <= self.max_pitch)]
        # (time, order, pitch, token): offs (order 0) before velocity + ons (order 1, 2).
        events = []
        for pitch, start, end, velocity in notes[:, [PITCH, START, END, VELOCITY]].tolist():
            index = pitch - self.min_pitch
            events.append((end, 0, index, self.first_off + index))
            events.append((start, 1, index, -1 - self.velocity_bin(velocity)))
        events.sort()
        tokens: list[int] = []
        now, current_bin = 0, None
        for time, order, index, token in events:
            while now < time:
                shift = min(self.max_shift, time - now)
                tokens.append(self.first_shift + shift - 1)
                now += shift
            if order == 0:
                tokens.append(token)
                continue
            bin_index = -1 - token
            if bin_index != current_bin:
                tokens.append(self.first_velocity + bin_index)
                current_bin = bin_index
            tokens.append(1 + index)
        return np.asarray(tokens, dtype=np.int64)

    def decode_notes(self, tokens) -> np.ndarray:
        """(n, 5) notes of the stream: an unreleased note ends with the stream (at least one
        step after it began); a note struck again while sounding ends there."""
        now, velocity = 0, 80
        sounding: dict[int, tuple[int, int]] = {}
        notes = []

        def release(pitch: int, at: int) -> None:
            start, vel = sounding.pop(pitch)
            notes.append((pitch, start, max(at, start + 1), vel, 0))

        for token in np.asarray(tokens, dtype=np.int64).tolist():
            if 1 <= token < self.first_off:
                pitch = self.min_pitch + token - 1
                if pitch in sounding:
                    release(pitch, now)
                sounding[pitch] = (now, velocity)
            elif self.first_off <= token < self.first_shift:
                pitch = self.min_pitch + token - self.first_off
                if pitch in sounding:
                    release(pitch, now)
            elif self.first_shift <= token < self.first_velocity:
                now += token - self.first_shift + 1
            elif self.first_velocity <= token < self.num_classes:
                velocity = self.bin_velocity(token - self.first_velocity)
        for pitch in list(sounding):
            release(pitch, now)
        return np.asarray(sorted(notes, key=lambda n: (n[1], n[0])), dtype=np.int32).reshape(-1, 5)

    def decode(
        self, tokens, *, tempo_qpm: float = 120.0, program: int = 0
    ) -> pretty_midi.PrettyMIDI:
        return notes_to_pretty_midi(self.decode_notes(tokens), tempo_qpm=tempo_qpm, program=program)

    def describe(self, token: int) -> str:
        if token == PAD:
            return "pad"
        if token < self.first_off:
            return f"on {pretty_midi.note_number_to_name(self.min_pitch + token - 1)}"
        if token < self.first_shift:
            return f"off {pretty_midi.note_number_to_name(self.min_pitch + token - self.first_off)}"
        if token < self.first_velocity:
            return f"shift {token - self.first_shift + 1}"
        return f"velocity {self.bin_velocity(token - self.first_velocity)}"

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "min_pitch": self.min_pitch,
            "max_pitch": self.max_pitch,
            "max_shift": self.max_shift,
            "velocity_bins": self.velocity_bins,
        }
