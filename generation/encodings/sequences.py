"""Pieces <-> token sequences for the sequence models of the zoo. Plain Python: no Django.

A codec turns a QuantizedPiece into one token sequence (the melody line,
transposed to C and fitted to the model's range as the seeds did) and a token
sequence back into MIDI. Every sequence model in the zoo (Markov chain, Melody
RNN, note-tuple LSTM) sees only tokens, so one trainer, one sampler and one
evaluator serve them all.

`token_steps[t]` is how many sixteenth-note steps token t advances time:
1 for every melody event, the duration for a note tuple, the shift for a
performance event's time-shift, 0 for special tokens. The sampler uses it to
stop each sample at a length in bars. A codec whose tokens may advance no time
and still be drawn (performance events: note-ons, note-offs, velocities) says
which through `sampleable`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pretty_midi

from generation.encodings.melody_events import NO_EVENT, MelodyEventEncoding
from generation.encodings.note_tuples import (
    SPECIAL_TOKENS,
    NoteTupleVocabulary,
    melody_to_tuples,
)
from generation.encodings.performance_events import PerformanceEventCodec
from generation.music.keys import transpose_to_c
from generation.music.melody import extract_melody
from generation.music.scores import END, START, QuantizedPiece


def _melody_of(piece: QuantizedPiece, *, transpose: bool, part: str | None) -> np.ndarray:
    if transpose:
        piece, _, _ = transpose_to_c(piece)
    try:
        return extract_melody(piece, part)
    except ValueError:
        # A piece without the named part (a fiddle tune has no "Soprano") keeps its top line.
        return extract_melody(piece, None)


def first_bars(piece: QuantizedPiece, bars: float) -> QuantizedPiece:
    """The piece cut after `bars` bars: a primer."""
    limit = round(bars * piece.steps_per_bar)
    notes = piece.notes[piece.notes[:, START] < limit].copy()
    notes[:, END] = np.minimum(notes[:, END], limit)
    return QuantizedPiece(
        notes=notes,
        part_names=piece.part_names,
        time_signature=piece.time_signature,
        tempo_qpm=piece.tempo_qpm,
        title=piece.title,
    )


@dataclass
class MelodyEventCodec:
    """Magenta's Melody RNN events: no-event, note-off, note-on for each pitch in range."""

    min_pitch: int = 48
    max_pitch: int = 83
    transpose: bool = True
    part: str | None = None
    name: str = field(default="melody-events", init=False)

    def __post_init__(self) -> None:
        self.encoding = MelodyEventEncoding(self.min_pitch, self.max_pitch)

    @property
    def num_classes(self) -> int:
        return self.encoding.num_classes

    @property
    def filler_class(self) -> int | None:
        """The class that dominates the targets and flatters plain accuracy."""
        return NO_EVENT

    @property
    def token_steps(self) -> np.ndarray:
        return np.ones(self.num_classes, dtype=np.int64)

    def fit(self, pieces: Sequence[QuantizedPiece]) -> None:
        """Nothing to learn: the classes are fixed by the pitch range."""

    def encode_piece(self, piece: QuantizedPiece) -> np.ndarray:
        melody = self.encoding.fit(_melody_of(piece, transpose=self.transpose, part=self.part))
        return self.encoding.encode(melody)

    def decode(
        self, tokens, *, tempo_qpm: float = 120.0, program: int = 0
    ) -> pretty_midi.PrettyMIDI:
        return self.encoding.decode(np.asarray(tokens), tempo_qpm=tempo_qpm, program=program)

    def describe(self, token: int) -> str:
        if token == NO_EVENT:
            return "no-event"
        if token == 1:
            return "note-off"
        return pretty_midi.note_number_to_name(self.encoding.pitch_of_class(token))

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "min_pitch": self.min_pitch,
            "max_pitch": self.max_pitch,
            "transpose": self.transpose,
            "part": self.part,
        }


@dataclass
class NoteTupleCodec:
    """(pitch, duration[, beat]) tokens (Qin, Nichani & Kural); the vocabulary comes from `fit`."""

    with_beat: bool = False
    transpose: bool = True
    part: str | None = None
    unknown: str = "unk"
    min_count: int = 1
    vocabulary: NoteTupleVocabulary | None = None
    name: str = field(default="note-tuples", init=False)

    def _tuples(self, piece: QuantizedPiece):
        melody = _melody_of(piece, transpose=self.transpose, part=self.part)
        return melody_to_tuples(melody, with_beat=self.with_beat, steps_per_bar=piece.steps_per_bar)

    def fit(self, pieces: Sequence[QuantizedPiece]) -> None:
        """Build the vocabulary from the training pieces only."""
        self.vocabulary = NoteTupleVocabulary.build(
            (self._tuples(p) for p in pieces),
            with_beat=self.with_beat,
            min_count=self.min_count,
            unknown=self.unknown,
        )

    def _vocabulary(self) -> NoteTupleVocabulary:
        if self.vocabulary is None:
            raise ValueError(
                "the note-tuple codec has no vocabulary yet; fit it on training pieces"
            )
        return self.vocabulary

    @property
    def num_classes(self) -> int:
        return len(self._vocabulary())

    @property
    def filler_class(self) -> int | None:
        return None

    @property
    def token_steps(self) -> np.ndarray:
        durations = [0] * len(SPECIAL_TOKENS) + [t[1] for t in self._vocabulary().tuples]
        return np.asarray(durations, dtype=np.int64)

    def encode_piece(self, piece: QuantizedPiece) -> np.ndarray:
        return self._vocabulary().encode(self._tuples(piece))

    def decode(
        self, tokens, *, tempo_qpm: float = 120.0, program: int = 0
    ) -> pretty_midi.PrettyMIDI:
        return self._vocabulary().decode(tokens, tempo_qpm=tempo_qpm, program=program)

    def describe(self, token: int) -> str:
        if token < len(SPECIAL_TOKENS):
            return SPECIAL_TOKENS[token]
        pitch, duration, *beat = self._vocabulary().tuples[token - len(SPECIAL_TOKENS)]
        name = "rest" if pitch < 0 else pretty_midi.note_number_to_name(pitch)
        return f"{name}/{duration}" + (f"@{beat[0]}" if beat else "")

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "with_beat": self.with_beat,
            "transpose": self.transpose,
            "part": self.part,
            "unknown": self.unknown,
            "min_count": self.min_count,
            "vocabulary": self.vocabulary.to_dict() if self.vocabulary else None,
        }


Codec = MelodyEventCodec | NoteTupleCodec | PerformanceEventCodec


def codec_from_dict(data: dict) -> Codec:
    options = {k: v for k, v in data.items() if k != "name"}
    if data["name"] == "melody-events":
        return MelodyEventCodec(**options)
    if data["name"] == "note-tuples":
        vocabulary = options.pop("vocabulary", None)
        codec = NoteTupleCodec(**options)
        if vocabulary:
            codec.vocabulary = NoteTupleVocabulary.from_dict(vocabulary)
        return codec
    if data["name"] == "performance-events":
        return PerformanceEventCodec(**options)
    raise ValueError(
        f"unknown codec {data['name']!r}; known: melody-events, note-tuples, performance-events"
    )


def make_codec(name: str, **options) -> Codec:
    return codec_from_dict({"name": name, **options})


def sampleable_tokens(codec: Codec) -> np.ndarray:
    """(V,) bool: the tokens the sampler may draw; by default those that advance time."""
    allowed = getattr(codec, "sampleable", None)
    return np.asarray(allowed) if allowed is not None else codec.token_steps > 0


def encode_pieces(
    codec: Codec, pieces: Sequence[QuantizedPiece], min_length: int = 2
) -> list[np.ndarray]:
    """Token sequences of the pieces, leaving out those too short to predict anything."""
    sequences = (codec.encode_piece(piece) for piece in pieces)
    return [s for s in sequences if len(s) >= min_length]
