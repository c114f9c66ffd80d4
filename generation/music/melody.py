"""Monophonic melodies out of polyphonic pieces, and folding them into a pitch range.

`extract_melody` takes either a named part (the soprano of a chorale) or, when
no part is named, the *skyline*: at every step the highest sounding pitch. A
skyline note starts where the top pitch changes or where the top pitch is
struck again, so repeated notes stay repeated.
"""

from __future__ import annotations

import numpy as np

from generation.music.scores import END, PART, PITCH, QuantizedPiece


def find_part(piece: QuantizedPiece, name: str) -> int:
    """Index of the part called `name` (case-insensitive; a unique prefix is enough)."""
    wanted = name.strip().lower()
    names = [n.lower() for n in piece.part_names]
    if wanted in names:
        return names.index(wanted)
    matches = [index for index, n in enumerate(names) if n.startswith(wanted)]
    if len(matches) == 1:
        return matches[0]
    raise ValueError(f"no part named {name!r}; parts are {list(piece.part_names)}")


def extract_melody(piece: QuantizedPiece, part: str | int | None = None) -> np.ndarray:
    """A monophonic (n, 5) note array, all in part 0."""
    if part is not None:
        index = part if isinstance(part, int) else find_part(piece, part)
        notes = piece.notes[piece.notes[:, PART] == index]
        return _skyline(notes)  # a part can hold chords (divisi): keep its top line
    return _skyline(piece.notes)


def _skyline(notes: np.ndarray) -> np.ndarray:
    if len(notes) == 0:
        return notes.copy()
    n_steps = int(notes[:, END].max())
    top = np.full(n_steps, -1, dtype=np.int32)
    velocity = np.zeros(n_steps, dtype=np.int32)
    struck = np.zeros(n_steps, dtype=bool)
    for pitch, start, end, _, _ in notes:
        segment = slice(start, end)
        higher = pitch > top[segment]
        top[segment] = np.where(higher, pitch, top[segment])
    for pitch, start, _, vel, _ in notes:
        if top[start] == pitch:
            struck[start] = True
            velocity[start] = max(velocity[start], vel)
    rows = []
    current = None
    for step in range(n_steps):
        pitch = top[step]
        continues = current is not None and pitch == current[0] and not struck[step]
        if continues:
            continue
        if current is not None:
            rows.append((current[0], current[1], step, current[2], 0))
            current = None
        if pitch >= 0:
            current = (int(pitch), step, int(velocity[step]) or 80)
    if current is not None:
        rows.append((current[0], current[1], n_steps, current[2], 0))
    return np.asarray(rows, dtype=np.int32).reshape(-1, 5)


def fold_into_range(notes: np.ndarray, low: int, high: int) -> np.ndarray:
    """Shift a melody by whole octaves to fit [low, high], then fold any stragglers.

    As Magenta's melody "squash": the whole melody moves by the octave shift
    that leaves the fewest notes outside the range (the smallest shift on ties);
    notes still outside move individually by octaves.
    """
    if high - low < 11:
        raise ValueError(f"range {low}..{high} is narrower than an octave; cannot fold into it")
    if len(notes) == 0:
        return notes.copy()
    pitches = notes[:, PITCH]
    shifts = sorted(range(-10, 11), key=abs)
    best = min(
        shifts, key=lambda k: int(((pitches + 12 * k < low) | (pitches + 12 * k > high)).sum())
    )
    folded = pitches + 12 * best
    folded = np.where(folded < low, folded + 12 * np.ceil((low - folded) / 12).astype(int), folded)
    folded = np.where(
        folded > high, folded - 12 * np.ceil((folded - high) / 12).astype(int), folded
    )
    result = notes.copy()
    result[:, PITCH] = folded
    return result
