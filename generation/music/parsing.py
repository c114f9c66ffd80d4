"""Reading scores and MIDI files into QuantizedPiece, with per-file reasons for rejection.

No Django here: the functions run in worker processes of the import pool.
music21 reads MusicXML/ABC/kern from its bundled corpus; pretty_midi reads MIDI.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from generation.music.scores import (
    END,
    NOTE_COLUMNS,
    PART,
    PITCH,
    START,
    STEPS_PER_QUARTER,
    QuantizedPiece,
)

# Bump when parsing or quantization changes, so stale cache entries are ignored.
PARSER_VERSION = "1"

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_NOTES = 100_000
MAX_SECONDS = 30 * 60
MAX_STEPS = 2_000 * 16  # 2,000 bars of 4/4
MIN_TEMPO_QPM, MAX_TEMPO_QPM = 20.0, 400.0
PIANO_LOW, PIANO_HIGH = 21, 108


class PieceRejected(Exception):
    """A source that cannot become a piece; the message is shown in the import report."""


@dataclass(frozen=True)
class ParsedEntry:
    identifier: str
    piece: QuantizedPiece | None = None
    rejection: str = ""


def _to_step(quarters: float | Fraction) -> int:
    return round(float(quarters) * STEPS_PER_QUARTER)


def tidy_notes(rows: list[tuple[int, int, int, int, int]]) -> np.ndarray:
    """Drop duplicate notes and cut a note short where the same pitch restarts in its part.

    Quantization can make two notes of one voice overlap; a voice cannot sound
    one pitch twice at once, so the earlier note ends where the later begins.
    """
    if not rows:
        return np.zeros((0, NOTE_COLUMNS), dtype=np.int32)
    notes = np.unique(np.asarray(rows, dtype=np.int32), axis=0)
    notes = notes[np.lexsort((notes[:, START], notes[:, PITCH], notes[:, PART]))]
    same_voice = (notes[1:, PART] == notes[:-1, PART]) & (notes[1:, PITCH] == notes[:-1, PITCH])
    overlapping = same_voice & (notes[1:, START] < notes[:-1, END])
    ends = notes[:, END].copy()
    ends[:-1][overlapping] = notes[1:, START][overlapping]
    notes[:, END] = ends
    return notes[notes[:, END] > notes[:, START]]


def validate(piece: QuantizedPiece) -> QuantizedPiece:
    """Reject pieces no study could use; the reason names the limit."""
    if piece.n_notes == 0:
        raise PieceRejected("no notes")
    if piece.n_notes > MAX_NOTES:
        raise PieceRejected(f"{piece.n_notes} notes, more than the limit of {MAX_NOTES}")
    in_range = (piece.notes[:, PITCH] >= PIANO_LOW) & (piece.notes[:, PITCH] <= PIANO_HIGH)
    if not in_range.any():
        raise PieceRejected(f"no notes in the piano range MIDI {PIANO_LOW}..{PIANO_HIGH}")
    if not MIN_TEMPO_QPM <= piece.tempo_qpm <= MAX_TEMPO_QPM:
        raise PieceRejected(
            f"tempo {piece.tempo_qpm:.1f} quarter notes per minute is outside "
            f"{MIN_TEMPO_QPM:.0f}..{MAX_TEMPO_QPM:.0f}"
        )
    if piece.n_steps > MAX_STEPS:
        raise PieceRejected(
            f"{piece.n_steps} sixteenth-note steps, more than the limit of {MAX_STEPS}"
        )
    if piece.duration_seconds > MAX_SECONDS:
        raise PieceRejected(
            f"{piece.duration_seconds / 60:.0f} minutes long, more than the limit of "
            f"{MAX_SECONDS // 60} minutes"
        )
    return piece


# ---------------------------------------------------------------- music21


def quantize_music21_score(score) -> QuantizedPiece:
    from music21 import harmony, key, meter, tempo

    parts = list(score.parts) or [score]
    rows: list[tuple[int, int, int, int, int]] = []
    part_names: list[str] = []
    for index, part in enumerate(parts):
        part_names.append(part.partName or f"part {index + 1}")
        flat = part.flatten().stripTies()
        for element in flat.notes:
            if isinstance(element, harmony.Harmony) or element.duration.isGrace:
                continue
            if element.quarterLength == 0:
                continue
            start = _to_step(element.offset)
            end = max(start + 1, _to_step(element.offset + element.quarterLength))
            velocity = element.volume.velocity or 80
            for pitch in element.pitches:
                rows.append((pitch.midi, start, end, velocity, index))

    first_time_signature = next(iter(score.recurse().getElementsByClass(meter.TimeSignature)), None)
    first_tempo = next(iter(score.recurse().getElementsByClass(tempo.MetronomeMark)), None)
    first_key = next(iter(score.recurse().getElementsByClass(key.KeySignature)), None)
    metadata = score.metadata
    return QuantizedPiece(
        notes=tidy_notes(rows),
        part_names=tuple(part_names),
        time_signature=(
            (first_time_signature.numerator, first_time_signature.denominator)
            if first_time_signature
            else (4, 4)
        ),
        tempo_qpm=float(first_tempo.getQuarterBPM())
        if first_tempo and first_tempo.number
        else 120.0,
        title=(metadata.title or metadata.movementName or "") if metadata else "",
        composer=(metadata.composer or "") if metadata else "",
        notated_key=_music21_key_name(first_key),
    )


def _music21_key_name(signature) -> str:
    if signature is None:
        return ""
    if hasattr(signature, "tonic"):
        return f"{signature.tonic.name.replace('-', 'b')} {signature.mode}"
    return f"{signature.sharps:+d} sharps" if signature.sharps else "no sharps or flats"


def parse_music21_file(path: Path, identifier: str) -> list[ParsedEntry]:
    """One entry per score: an ABC file of a collection holds many tunes."""
    from music21 import converter, stream

    try:
        # forceSource: earshot keeps its own cache; music21's pickles in /tmp would make
        # "cold" depend on whatever ran on the machine before.
        parsed = converter.parse(str(path), forceSource=True)
    except Exception as error:  # music21 raises many types; any is a per-file rejection
        return [ParsedEntry(identifier, rejection=f"music21 cannot parse it: {error}")]
    if isinstance(parsed, stream.Opus):
        scores = list(parsed.scores)
        entries = []
        for position, score in enumerate(scores, start=1):
            number = score.metadata.number if score.metadata and score.metadata.number else position
            entries.append(
                _checked(f"{identifier}#{number}", lambda s=score: quantize_music21_score(s))
            )
        return entries or [ParsedEntry(identifier, rejection="collection holds no scores")]
    return [_checked(identifier, lambda: quantize_music21_score(parsed))]


def _checked(identifier: str, make) -> ParsedEntry:
    try:
        return ParsedEntry(identifier, piece=validate(make()))
    except PieceRejected as rejection:
        return ParsedEntry(identifier, rejection=str(rejection))
    except Exception as error:  # a malformed score must not stop the batch
        return ParsedEntry(
            identifier, rejection=f"cannot quantize it: {type(error).__name__}: {error}"
        )


# ---------------------------------------------------------------- MIDI


def quantize_pretty_midi(midi, title: str = "") -> QuantizedPiece:
    """Quantize through MIDI ticks, so tempo changes do not smear the grid."""
    import pretty_midi

    ticks_per_step = midi.resolution / STEPS_PER_QUARTER
    rows: list[tuple[int, int, int, int, int]] = []
    part_names: list[str] = []
    for instrument in midi.instruments:
        if instrument.is_drum:
            continue
        index = len(part_names)
        part_names.append(
            instrument.name.strip() or pretty_midi.program_to_instrument_name(instrument.program)
        )
        for note in instrument.notes:
            start = round(midi.time_to_tick(note.start) / ticks_per_step)
            end = max(start + 1, round(midi.time_to_tick(note.end) / ticks_per_step))
            rows.append((note.pitch, start, end, max(1, note.velocity), index))

    _, tempi = midi.get_tempo_changes()
    signature = midi.time_signature_changes[0] if midi.time_signature_changes else None
    key_change = midi.key_signature_changes[0] if midi.key_signature_changes else None
    return QuantizedPiece(
        notes=tidy_notes(rows),
        part_names=tuple(part_names) or ("",),
        time_signature=(signature.numerator, signature.denominator) if signature else (4, 4),
        tempo_qpm=float(tempi[0]) if len(tempi) else 120.0,
        title=title,
        notated_key=(
            pretty_midi.key_number_to_key_name(key_change.key_number)
            .replace(" M", " major")
            .replace(" m", " minor")
            if key_change
            else ""
        ),
    )


def read_midi_file(path: Path) -> QuantizedPiece:
    """A validated piece from a MIDI file, or PieceRejected saying why not."""
    import pretty_midi

    try:
        size = path.stat().st_size
    except OSError as error:
        raise PieceRejected(f"cannot open it: {error.strerror}") from error
    if size == 0:
        raise PieceRejected("empty file")
    if size > MAX_FILE_BYTES:
        raise PieceRejected(f"{size} bytes, more than the limit of {MAX_FILE_BYTES}")
    try:
        midi = pretty_midi.PrettyMIDI(str(path))
    except Exception as error:  # mido and pretty_midi raise a zoo of types on bad bytes
        raise PieceRejected(f"not a readable MIDI file: {type(error).__name__}: {error}") from error
    _, tempi = midi.get_tempo_changes()
    if len(tempi) and not all(MIN_TEMPO_QPM <= t <= MAX_TEMPO_QPM for t in tempi):
        worst = next(t for t in tempi if not MIN_TEMPO_QPM <= t <= MAX_TEMPO_QPM)
        raise PieceRejected(
            f"tempo {worst:.1f} quarter notes per minute is outside "
            f"{MIN_TEMPO_QPM:.0f}..{MAX_TEMPO_QPM:.0f}"
        )
    if midi.get_end_time() > MAX_SECONDS:
        raise PieceRejected(
            f"{midi.get_end_time() / 60:.0f} minutes long, more than the limit of {MAX_SECONDS // 60} minutes"
        )
    return validate(quantize_pretty_midi(midi, title=path.stem))


def parse_midi_file(path: Path, identifier: str) -> list[ParsedEntry]:
    return [_checked(identifier, lambda: read_midi_file(path))]


# ---------------------------------------------------------------- cache


def _cache_key(path: Path, kind: str) -> str:
    digest = hashlib.sha256(f"{PARSER_VERSION}:{kind}:".encode())
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_cache(target: Path, entries: list[ParsedEntry]) -> None:
    index = [{"identifier": e.identifier, "rejection": e.rejection} for e in entries]
    arrays = {
        f"piece_{position}": np.frombuffer(entry.piece.to_bytes(), dtype=np.uint8)
        for position, entry in enumerate(entries)
        if entry.piece is not None
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    with os.fdopen(descriptor, "wb") as handle:
        np.savez(handle, index=np.frombuffer(json.dumps(index).encode(), dtype=np.uint8), **arrays)
    os.replace(temporary, target)  # readers never see half a file


def _read_cache(target: Path, identifier: str) -> list[ParsedEntry] | None:
    try:
        with np.load(target, allow_pickle=False) as archive:
            index = json.loads(archive["index"].tobytes().decode())
            entries = []
            for position, item in enumerate(index):
                piece = None
                if f"piece_{position}" in archive:
                    piece = QuantizedPiece.from_bytes(archive[f"piece_{position}"].tobytes())
                entries.append(ParsedEntry(item["identifier"], piece, item["rejection"]))
    except (OSError, ValueError, KeyError):
        return None
    # The same file may be imported under another name: re-label, keep the tune suffixes.
    first = entries[0].identifier.split("#")[0] if entries else identifier
    return [
        ParsedEntry(identifier + e.identifier[len(first) :], e.piece, e.rejection) for e in entries
    ]


def parse_source(
    path: Path, kind: str, identifier: str, cache_dir: Path | None
) -> tuple[list[ParsedEntry], bool]:
    """Parse one source file (through the cache when given). Returns (entries, cache hit)."""
    parser = parse_music21_file if kind == "music21" else parse_midi_file
    if cache_dir is None:
        return parser(path, identifier), False
    try:
        key = _cache_key(path, kind)
    except OSError as error:
        return [ParsedEntry(identifier, rejection=f"cannot open it: {error.strerror}")], False
    target = cache_dir / key[:2] / f"{key}.npz"
    cached = _read_cache(target, identifier) if target.exists() else None
    if cached is not None:
        if kind != "music21":
            # A MIDI file's title is its file name, which the content key cannot know: two
            # byte-identical files share the parse but not the title.
            cached = [
                replace(e, piece=replace(e.piece, title=path.stem)) if e.piece else e
                for e in cached
            ]
        return cached, True
    entries = parser(path, identifier)
    _write_cache(target, entries)
    return entries, False
