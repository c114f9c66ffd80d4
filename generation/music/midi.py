"""QuantizedPiece <-> pretty_midi.PrettyMIDI."""

from __future__ import annotations

import numpy as np
import pretty_midi

from generation.music.parsing import quantize_pretty_midi
from generation.music.scores import (
    END,
    PART,
    PITCH,
    START,
    STEPS_PER_QUARTER,
    VELOCITY,
    QuantizedPiece,
)


def notes_to_pretty_midi(
    notes: np.ndarray,
    *,
    steps_per_quarter: int = STEPS_PER_QUARTER,
    tempo_qpm: float = 120.0,
    program: int = 0,
    part_names: tuple[str, ...] = (),
    time_signature: tuple[int, int] = (4, 4),
) -> pretty_midi.PrettyMIDI:
    """One instrument per part index, all with `program` (a General MIDI number)."""
    midi = pretty_midi.PrettyMIDI(initial_tempo=tempo_qpm)
    midi.time_signature_changes.append(pretty_midi.TimeSignature(*time_signature, 0.0))
    seconds_per_step = 60.0 / tempo_qpm / steps_per_quarter
    parts = sorted(set(notes[:, PART].tolist())) if len(notes) else [0]
    for part in parts:
        name = part_names[part] if part < len(part_names) else ""
        instrument = pretty_midi.Instrument(program=program, name=name)
        for row in notes[notes[:, PART] == part]:
            instrument.notes.append(
                pretty_midi.Note(
                    velocity=int(row[VELOCITY]),
                    pitch=int(row[PITCH]),
                    start=float(row[START]) * seconds_per_step,
                    end=float(row[END]) * seconds_per_step,
                )
            )
        midi.instruments.append(instrument)
    return midi


def piece_to_pretty_midi(piece: QuantizedPiece, *, program: int = 0) -> pretty_midi.PrettyMIDI:
    return notes_to_pretty_midi(
        piece.notes,
        steps_per_quarter=piece.steps_per_quarter,
        tempo_qpm=piece.tempo_qpm,
        program=program,
        part_names=piece.part_names,
        time_signature=piece.time_signature,
    )


def pretty_midi_to_piece(midi: pretty_midi.PrettyMIDI) -> QuantizedPiece:
    return quantize_pretty_midi(midi)
