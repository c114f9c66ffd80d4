"""(pitch, duration[, beat]) tokens with a vocabulary, as in Qin, Nichani & Kural (6.867).

A melody becomes a sequence of tuples, rests included (pitch REST), so timing
survives the round trip. Durations and beats are counted in sixteenth-note
steps; the beat is the onset's position in its bar (music21's `note.beat`
is 1 + that position in quarter notes).

The vocabulary is built from the training split only. Tuples it has not seen
are handled by the `unknown` policy:
- "unk": the UNK token (default; decodes to nothing);
- "nearest": the known tuple with the same pitch (and beat) and the nearest
  duration, else UNK;
- "skip": dropped;
- "error": ValueError.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pretty_midi

from generation.music.midi import notes_to_pretty_midi
from generation.music.scores import END, PITCH, START, STEPS_PER_QUARTER

REST = -1
PAD, UNK = 0, 1
SPECIAL_TOKENS = ("<pad>", "<unk>")
UNKNOWN_POLICIES = ("unk", "nearest", "skip", "error")

NoteTuple = tuple[int, ...]  # (pitch, duration) or (pitch, duration, beat)


def melody_to_tuples(
    melody: np.ndarray, *, with_beat: bool = False, steps_per_bar: int = 16
) -> list[NoteTuple]:
    """Tuples for a monophonic (n, 5) note array; gaps between notes become rests."""
    tuples: list[NoteTuple] = []
    position = 0
    order = np.argsort(melody[:, START], kind="stable")
    for pitch, start, end in melody[order][:, [PITCH, START, END]].tolist():
        if start < position:
            raise ValueError("note tuples need a monophonic line; extract a melody first")
        if start > position:
            tuples.append(_tuple(REST, start - position, position, with_beat, steps_per_bar))
        tuples.append(_tuple(pitch, end - start, start, with_beat, steps_per_bar))
        position = end
    return tuples


def _tuple(pitch: int, duration: int, onset: int, with_beat: bool, steps_per_bar: int) -> NoteTuple:
    return (pitch, duration, onset % steps_per_bar) if with_beat else (pitch, duration)


def tuples_to_notes(tuples: Iterable[NoteTuple], velocity: int = 100) -> np.ndarray:
    rows = []
    position = 0
    for item in tuples:
        pitch, duration = item[0], item[1]
        if pitch != REST:
            rows.append((pitch, position, position + duration, velocity, 0))
        position += duration
    return np.asarray(rows, dtype=np.int32).reshape(-1, 5)


@dataclass
class NoteTupleVocabulary:
    tuples: list[NoteTuple]
    with_beat: bool = False
    unknown: str = "unk"
    _index: dict[NoteTuple, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.unknown not in UNKNOWN_POLICIES:
            raise ValueError(f"unknown policy {self.unknown!r}; choose one of {UNKNOWN_POLICIES}")
        self.tuples = [tuple(t) for t in self.tuples]
        self._index = {t: position + len(SPECIAL_TOKENS) for position, t in enumerate(self.tuples)}

    @classmethod
    def build(
        cls,
        sequences: Iterable[list[NoteTuple]],
        *,
        with_beat: bool = False,
        min_count: int = 1,
        unknown: str = "unk",
    ) -> NoteTupleVocabulary:
        """From the training split's tuple sequences; most frequent first, ties in tuple order."""
        counts = Counter(t for sequence in sequences for t in sequence)
        kept = sorted(
            (t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t)
        )
        return cls(kept, with_beat=with_beat, unknown=unknown)

    def __len__(self) -> int:
        return len(SPECIAL_TOKENS) + len(self.tuples)

    def token(self, item: NoteTuple) -> int | None:
        item = tuple(item)
        if item in self._index:
            return self._index[item]
        if self.unknown == "error":
            raise ValueError(f"tuple {item} is not in the vocabulary")
        if self.unknown == "skip":
            return None
        if self.unknown == "nearest":
            return self._nearest(item)
        return UNK

    def _nearest(self, item: NoteTuple) -> int:
        candidates = [t for t in self.tuples if t[0] == item[0] and t[2:] == item[2:]]
        if not candidates:
            return UNK
        return self._index[min(candidates, key=lambda t: (abs(t[1] - item[1]), t[1]))]

    def encode(self, tuples: Iterable[NoteTuple]) -> np.ndarray:
        tokens = (self.token(t) for t in tuples)
        return np.asarray([t for t in tokens if t is not None], dtype=np.int64)

    def decode_tuples(self, tokens: Iterable[int]) -> list[NoteTuple]:
        """Special tokens carry no time and are left out."""
        offset = len(SPECIAL_TOKENS)
        return [self.tuples[t - offset] for t in np.asarray(tokens).tolist() if t >= offset]

    def decode(
        self,
        tokens: Iterable[int],
        *,
        steps_per_quarter: int = STEPS_PER_QUARTER,
        tempo_qpm: float = 120.0,
        program: int = 0,
    ) -> pretty_midi.PrettyMIDI:
        return notes_to_pretty_midi(
            tuples_to_notes(self.decode_tuples(tokens)),
            steps_per_quarter=steps_per_quarter,
            tempo_qpm=tempo_qpm,
            program=program,
        )

    def to_dict(self) -> dict:
        return {
            "tuples": [list(t) for t in self.tuples],
            "with_beat": self.with_beat,
            "unknown": self.unknown,
        }

    @classmethod
    def from_dict(cls, data: dict) -> NoteTupleVocabulary:
        return cls(
            [tuple(t) for t in data["tuples"]], with_beat=data["with_beat"], unknown=data["unknown"]
        )
