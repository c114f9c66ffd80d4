"""Key estimation and transposition to C major / A minor.

The estimator is Krumhansl-Schmuckler: correlate the piece's duration-weighted
pitch-class histogram with the 24 rotated Krumhansl-Kessler (1982) probe-tone
profiles and take the best. It needs nothing but the notes, so MIDI files
without key signatures get a key too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generation.music.scores import END, PITCH, START

# Krumhansl & Kessler (1982), probe-tone ratings for C major and C minor.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
PITCH_CLASS_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


@dataclass(frozen=True)
class Key:
    tonic: int  # pitch class 0..11
    mode: str  # "major" or "minor"
    correlation: float = 1.0

    @property
    def name(self) -> str:
        return f"{PITCH_CLASS_NAMES[self.tonic]} {self.mode}"


def pitch_class_histogram(notes: np.ndarray) -> np.ndarray:
    durations = (notes[:, END] - notes[:, START]).astype(float)
    return np.bincount(notes[:, PITCH] % 12, weights=durations, minlength=12)


def estimate_key(notes: np.ndarray) -> Key | None:
    """The most likely key of `notes`, or None when there are no notes."""
    histogram = pitch_class_histogram(notes)
    if histogram.sum() == 0 or np.ptp(histogram) == 0:
        return None
    best: Key | None = None
    for mode, profile in (("major", MAJOR_PROFILE), ("minor", MINOR_PROFILE)):
        for tonic in range(12):
            correlation = float(np.corrcoef(histogram, np.roll(profile, tonic))[0, 1])
            if best is None or correlation > best.correlation:
                best = Key(tonic, mode, correlation)
    return best


def semitones_to_c(key: Key) -> int:
    """The smallest shift (-6..+5) taking a major key to C major or a minor key to A minor."""
    target = 0 if key.mode == "major" else 9
    shift = (target - key.tonic) % 12
    return shift - 12 if shift > 5 else shift


def transpose_to_c(piece):
    """(piece moved to C major / A minor, semitones moved, estimated key) - the seeds' "transpose to C"."""
    key = estimate_key(piece.notes)
    if key is None:
        return piece, 0, None
    shift = semitones_to_c(key)
    return piece.transposed(shift), shift, key
