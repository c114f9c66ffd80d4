"""Quantized pieces: the one in-memory form every corpus, file and encoding meets in.

Plain Python and NumPy; no Django, no music21. Time is counted in steps of a
sixteenth note (4 steps per quarter note), as in the Melody RNN and DeepJ.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field, replace

import numpy as np

STEPS_PER_QUARTER = 4

# Columns of QuantizedPiece.notes.
PITCH, START, END, VELOCITY, PART = range(5)
NOTE_COLUMNS = 5


def empty_notes() -> np.ndarray:
    return np.zeros((0, NOTE_COLUMNS), dtype=np.int32)


@dataclass(frozen=True)
class QuantizedPiece:
    """Notes on a grid of `steps_per_quarter` steps per quarter note.

    notes: (n_notes, 5) int32 array of pitch, start step, end step (exclusive),
    velocity (1..127) and part index into `part_names`, sorted by start then pitch.
    """

    notes: np.ndarray
    part_names: tuple[str, ...] = ("",)
    time_signature: tuple[int, int] = (4, 4)
    tempo_qpm: float = 120.0
    title: str = ""
    composer: str = ""
    notated_key: str = ""
    steps_per_quarter: int = STEPS_PER_QUARTER
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        notes = np.asarray(self.notes, dtype=np.int32).reshape(-1, NOTE_COLUMNS)
        order = np.lexsort((notes[:, PITCH], notes[:, START]))
        object.__setattr__(self, "notes", notes[order])

    @property
    def n_notes(self) -> int:
        return len(self.notes)

    @property
    def n_steps(self) -> int:
        return int(self.notes[:, END].max()) if len(self.notes) else 0

    @property
    def steps_per_bar(self) -> int:
        numerator, denominator = self.time_signature
        return max(1, round(numerator * 4 / denominator * self.steps_per_quarter))

    @property
    def duration_seconds(self) -> float:
        return self.n_steps / self.steps_per_quarter * 60.0 / self.tempo_qpm

    def transposed(self, semitones: int) -> QuantizedPiece:
        notes = self.notes.copy()
        notes[:, PITCH] += semitones
        return replace(self, notes=notes)

    def only_parts(self, indices: list[int]) -> QuantizedPiece:
        keep = np.isin(self.notes[:, PART], indices)
        return replace(self, notes=self.notes[keep])

    def to_bytes(self) -> bytes:
        """A compact, pickle-free serialisation (for the database and the parse cache)."""
        meta = {
            "part_names": list(self.part_names),
            "time_signature": list(self.time_signature),
            "tempo_qpm": self.tempo_qpm,
            "title": self.title,
            "composer": self.composer,
            "notated_key": self.notated_key,
            "steps_per_quarter": self.steps_per_quarter,
            "extra": self.extra,
        }
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            notes=self.notes,
            meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> QuantizedPiece:
        with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
            meta = json.loads(archive["meta"].tobytes().decode())
            notes = archive["notes"]
        return cls(
            notes=notes,
            part_names=tuple(meta["part_names"]),
            time_signature=tuple(meta["time_signature"]),
            tempo_qpm=meta["tempo_qpm"],
            title=meta["title"],
            composer=meta["composer"],
            notated_key=meta["notated_key"],
            steps_per_quarter=meta["steps_per_quarter"],
            extra=meta.get("extra", {}),
        )
