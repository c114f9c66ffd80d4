"""Piano rolls for the polyphonic models: time x pitch planes.

- play[t, n]: pitch n sounds at step t (Biaxial LSTM, Johnson 2015);
- articulate[t, n]: a note of pitch n starts at step t (Biaxial's "articulate");
- replay[t, n]: a note starts at t while pitch n also sounded at t - 1, i.e. a
  re-strike of a held pitch (DeepJ's "replay"; Mao, Shin & Cottrell 2018);
- velocity[t, n]: the sounding note's MIDI velocity / 127, 0 where silent (DeepJ's dynamics).

Two voices sounding the same pitch at once (a unison) become one note: a roll
has one cell per pitch and step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pretty_midi

from generation.music.midi import notes_to_pretty_midi
from generation.music.scores import END, PITCH, START, STEPS_PER_QUARTER, VELOCITY


@dataclass(frozen=True)
class PianoRoll:
    play: np.ndarray  # (time, notes) float32 in {0, 1}
    articulate: np.ndarray  # (time, notes)
    replay: np.ndarray  # (time, notes)
    velocity: np.ndarray  # (time, notes) in [0, 1]

    @property
    def shape(self) -> tuple[int, int]:
        return self.play.shape

    def stacked(self) -> np.ndarray:
        """(time, notes, 4): play, articulate, replay, velocity."""
        return np.stack([self.play, self.articulate, self.replay, self.velocity], axis=-1)


@dataclass(frozen=True)
class PianoRollEncoding:
    low_pitch: int = 36
    n_notes: int = 48

    @property
    def high_pitch(self) -> int:
        return self.low_pitch + self.n_notes - 1

    def in_range(self, notes: np.ndarray) -> np.ndarray:
        keep = (notes[:, PITCH] >= self.low_pitch) & (notes[:, PITCH] <= self.high_pitch)
        return notes[keep]

    def encode(self, notes: np.ndarray, n_steps: int | None = None) -> PianoRoll:
        """Notes outside the pitch range are dropped; `in_range` shows which survive."""
        notes = self.in_range(notes)
        length = n_steps if n_steps is not None else (int(notes[:, END].max()) if len(notes) else 0)
        shape = (length, self.n_notes)
        play = np.zeros(shape, dtype=np.float32)
        articulate = np.zeros(shape, dtype=np.float32)
        velocity = np.zeros(shape, dtype=np.float32)
        for pitch, start, end, vel in notes[:, [PITCH, START, END, VELOCITY]].tolist():
            if start >= length:
                continue
            column = pitch - self.low_pitch
            play[start : min(end, length), column] = 1.0
            articulate[start, column] = 1.0
            span = velocity[start : min(end, length), column]
            np.maximum(span, vel / 127.0, out=span)
        held_before = np.zeros_like(play)
        held_before[1:] = play[:-1]
        replay = articulate * held_before
        return PianoRoll(play, articulate, replay, velocity)

    def decode_notes(self, roll: PianoRoll, *, threshold: float = 0.5) -> np.ndarray:
        """Notes from the planes; a note starts where a pitch begins to sound or is re-struck."""
        play = roll.play >= threshold
        strike = roll.articulate >= threshold
        rows = []
        length = play.shape[0]
        for column in range(play.shape[1]):
            start = None
            for step in range(length + 1):
                sounding = step < length and play[step, column]
                restart = sounding and start is not None and strike[step, column]
                if start is not None and (not sounding or restart):
                    vel = round(float(roll.velocity[start, column]) * 127) or 100
                    rows.append((self.low_pitch + column, start, step, max(1, min(127, vel)), 0))
                    start = None
                if sounding and start is None:
                    start = step
        notes = np.asarray(rows, dtype=np.int32).reshape(-1, 5)
        return notes[np.lexsort((notes[:, PITCH], notes[:, START]))]

    def decode(
        self,
        roll: PianoRoll,
        *,
        steps_per_quarter: int = STEPS_PER_QUARTER,
        tempo_qpm: float = 120.0,
        program: int = 0,
    ) -> pretty_midi.PrettyMIDI:
        return notes_to_pretty_midi(
            self.decode_notes(roll),
            steps_per_quarter=steps_per_quarter,
            tempo_qpm=tempo_qpm,
            program=program,
        )


DEEPJ = PianoRollEncoding(low_pitch=36, n_notes=48)  # MIDI 36..83, DeepJ section III
BIAXIAL = PianoRollEncoding(low_pitch=24, n_notes=78)  # MIDI 24..101, Johnson's original
