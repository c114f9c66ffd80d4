"""Magenta Melody RNN "basic" events: one class per sixteenth-note step.

Classes: 0 = no event (hold the current note, or stay silent), 1 = note off,
2 + (pitch - min_pitch) = note on. The default range MIDI 48..83 gives the
38 classes of the Melody RNN (Popkes & Wenker 2017, section 4.1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pretty_midi

from generation.music.melody import fold_into_range
from generation.music.midi import notes_to_pretty_midi
from generation.music.scores import END, PITCH, START, STEPS_PER_QUARTER

NO_EVENT = 0
NOTE_OFF = 1
FIRST_NOTE_ON = 2


@dataclass(frozen=True)
class MelodyEventEncoding:
    min_pitch: int = 48
    max_pitch: int = 83  # inclusive

    @property
    def num_classes(self) -> int:
        return FIRST_NOTE_ON + self.max_pitch - self.min_pitch + 1

    def class_of_pitch(self, pitch: int) -> int:
        if not self.min_pitch <= pitch <= self.max_pitch:
            raise ValueError(
                f"pitch {pitch} outside {self.min_pitch}..{self.max_pitch}; fold it first"
            )
        return FIRST_NOTE_ON + pitch - self.min_pitch

    def pitch_of_class(self, event: int) -> int:
        return self.min_pitch + event - FIRST_NOTE_ON

    def fit(self, melody: np.ndarray) -> np.ndarray:
        """The melody octave-folded into this encoding's range (Magenta's squash)."""
        return fold_into_range(melody, self.min_pitch, self.max_pitch)

    def encode(self, melody: np.ndarray) -> np.ndarray:
        """(n_steps,) int64 events for a monophonic (n, 5) note array already in range.

        The sequence runs one step past the last note so that its note-off is kept.
        """
        if len(melody) == 0:
            return np.zeros(0, dtype=np.int64)
        order = np.argsort(melody[:, START], kind="stable")
        melody = melody[order]
        if (melody[1:, START] < melody[:-1, END]).any():
            raise ValueError("melody events need a monophonic line; extract a melody first")
        events = np.full(int(melody[:, END].max()) + 1, NO_EVENT, dtype=np.int64)
        events[melody[:, END]] = NOTE_OFF  # overwritten below where the next note starts there
        for pitch, start in zip(melody[:, PITCH], melody[:, START], strict=True):
            events[start] = self.class_of_pitch(int(pitch))
        return events

    def decode_notes(self, events: np.ndarray, velocity: int = 100) -> np.ndarray:
        rows = []
        current: tuple[int, int] | None = None  # (pitch, start)
        for step, event in enumerate(np.asarray(events).tolist()):
            if event == NO_EVENT:
                continue
            if current is not None:
                rows.append((current[0], current[1], step, velocity, 0))
                current = None
            if event >= FIRST_NOTE_ON:
                current = (self.pitch_of_class(event), step)
        if current is not None:
            rows.append((current[0], current[1], len(events), velocity, 0))
        return np.asarray(rows, dtype=np.int32).reshape(-1, 5)

    def decode(
        self,
        events: np.ndarray,
        *,
        steps_per_quarter: int = STEPS_PER_QUARTER,
        tempo_qpm: float = 120.0,
        program: int = 0,
        velocity: int = 100,
    ) -> pretty_midi.PrettyMIDI:
        return notes_to_pretty_midi(
            self.decode_notes(events, velocity=velocity),
            steps_per_quarter=steps_per_quarter,
            tempo_qpm=tempo_qpm,
            program=program,
        )


__all__ = ["FIRST_NOTE_ON", "NOTE_OFF", "NO_EVENT", "MelodyEventEncoding"]
