"""Objective music metrics for sets of pieces: what a sample set does, set beside its reference.

Plain Python and NumPy, no Django. A piece is a ``generation.music.scores.QuantizedPiece`` (notes on
a grid of sixteenth steps). Each definition, with its source, is written out in
``docs/music-metrics.md``; the short form:

- per piece, numbers: pitch range, pitches used, pitch classes used, pitch-class entropy,
  scale consistency (Mogren 2016), in-scale rate (against the Krumhansl-Schmuckler key),
  polyphony and polyphony rate, empty-beat rate, empty-bar rate, note density, mean
  inter-onset interval, repetition (share of bars repeating an earlier bar);
- per piece, histograms: pitch classes, note lengths, melodic intervals of the top line
  (Yang & Lerch 2018's PCH, NLH and an interval histogram);
- per set against a reference set: for every feature, the overlapping area and the KL
  divergence between the reference's intra-set distances and the inter-set distances
  (Yang & Lerch 2018, section 3).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from generation.music.scores import END, PITCH, START, QuantizedPiece
from metrics.statistics.distributions import DistributionOverlap, overlap

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
# Natural, harmonic and melodic minor together: a chorale in A minor uses F, F#, G and G#.
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 9, 10, 11)
# Krumhansl & Kessler (1982) probe-tone profiles, from the tonic upwards.
MAJOR_PROFILE = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
MINOR_PROFILE = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)
PITCH_CLASS_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

# Note-length classes in sixteenth notes; a note goes to the nearest class (ties to the shorter).
# Triplet classes of Yang & Lerch are left out: earshot's grid has no triplets.
NOTE_LENGTHS = (1, 2, 3, 4, 6, 8, 12, 16)
NOTE_LENGTH_NAMES = (
    "sixteenth",
    "eighth",
    "dotted eighth",
    "quarter",
    "dotted quarter",
    "half",
    "dotted half",
    "whole or longer",
)
# Absolute melodic intervals 0..12 semitones, then one class for anything wider than an octave.
INTERVAL_NAMES = (*(str(i) for i in range(13)), ">12")

SCALAR_FEATURES = {
    "pitch_range": "pitch range (semitones)",
    "pitches_used": "pitches used",
    "pitch_classes_used": "pitch classes used",
    "pitch_class_entropy": "pitch-class entropy (bits)",
    "scale_consistency": "scale consistency",
    "in_scale_rate": "in-scale rate",
    "polyphony": "polyphony (voices sounding)",
    "polyphony_rate": "polyphony rate",
    "empty_beat_rate": "empty-beat rate",
    "empty_bar_rate": "empty-bar rate",
    "note_density": "notes per bar",
    "mean_ioi": "mean inter-onset interval (quarters)",
    "repetition": "repeated bars",
}
HISTOGRAM_FEATURES = {
    "pitch_class_histogram": ("pitch-class histogram", PITCH_CLASS_NAMES),
    "note_length_histogram": ("note-length histogram", NOTE_LENGTH_NAMES),
    "interval_histogram": ("melodic-interval histogram", INTERVAL_NAMES),
}
FEATURES = tuple(SCALAR_FEATURES) + tuple(HISTOGRAM_FEATURES)


def feature_title(name: str) -> str:
    if name in SCALAR_FEATURES:
        return SCALAR_FEATURES[name]
    return HISTOGRAM_FEATURES[name][0]


@dataclass(frozen=True)
class Key:
    tonic: int  # pitch class, 0 = C
    mode: str  # "major" or "minor"

    @property
    def name(self) -> str:
        return f"{PITCH_CLASS_NAMES[self.tonic]} {self.mode}"

    @property
    def pitch_classes(self) -> frozenset[int]:
        scale = MAJOR_SCALE if self.mode == "major" else MINOR_SCALE
        return frozenset((self.tonic + degree) % 12 for degree in scale)


def estimate_key(notes: np.ndarray) -> Key | None:
    """Krumhansl-Schmuckler: the key whose profile best correlates with the piece's
    duration-weighted pitch-class distribution (Krumhansl 1990, ch. 4)."""
    if len(notes) == 0:
        return None
    durations = np.maximum(notes[:, END] - notes[:, START], 1).astype(float)
    weights = np.bincount(notes[:, PITCH] % 12, weights=durations, minlength=12)
    if np.ptp(weights) == 0:
        return None
    best, best_r = None, -math.inf
    for mode, profile in (("major", MAJOR_PROFILE), ("minor", MINOR_PROFILE)):
        for tonic in range(12):
            r = float(np.corrcoef(weights, np.roll(profile, tonic))[0, 1])
            if r > best_r:
                best, best_r = Key(tonic, mode), r
    return best


def _normalised(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total else counts.astype(float)


def _entropy_bits(shares: np.ndarray) -> float:
    shares = shares[shares > 0]
    return float(-(shares * np.log2(shares)).sum()) if len(shares) else 0.0


def _note_length_classes(durations_in_sixteenths: np.ndarray) -> np.ndarray:
    classes = np.asarray(NOTE_LENGTHS, dtype=float)
    distance = np.abs(durations_in_sixteenths[:, None] - classes[None, :])
    return distance.argmin(axis=1)  # argmin takes the first, so ties go to the shorter class


def _top_line(notes: np.ndarray) -> np.ndarray:
    """The highest pitch starting at each onset, in time order."""
    onsets, first = np.unique(notes[:, START], return_index=True)
    tops = np.maximum.reduceat(notes[:, PITCH], first)
    return tops[np.argsort(onsets)]


def _sounding_counts(notes: np.ndarray, n_steps: int) -> np.ndarray:
    """Distinct pitches sounding at each step (a pitch doubled in two parts counts once)."""
    pitches = np.unique(notes[:, [PITCH, START, END]], axis=0)
    change = np.zeros(n_steps + 1, dtype=np.int64)
    np.add.at(change, pitches[:, 1], 1)
    np.add.at(change, pitches[:, 2], -1)
    return np.cumsum(change)[:n_steps]


def _silent_share(sounding: np.ndarray, span: int) -> float:
    """Share of consecutive spans of ``span`` steps (the last one padded) in which nothing
    sounds."""
    n_spans = math.ceil(len(sounding) / span)
    padded = np.zeros(n_spans * span, dtype=sounding.dtype)
    padded[: len(sounding)] = sounding
    return float(np.mean(padded.reshape(n_spans, span).max(axis=1) == 0))


def _bar_signatures(notes: np.ndarray, steps_per_bar: int, n_bars: int) -> list[frozenset]:
    bars: list[set] = [set() for _ in range(n_bars)]
    for pitch, start, end in notes[:, [PITCH, START, END]]:
        bar = int(start) // steps_per_bar
        bar_end = (bar + 1) * steps_per_bar
        bars[bar].add(
            (int(pitch), int(start) - bar * steps_per_bar, min(int(end), bar_end) - int(start))
        )
    return [frozenset(bar) for bar in bars]


def piece_features(piece: QuantizedPiece, *, key: Key | None = None) -> dict:
    """Every feature of one piece: numbers (None where undefined, e.g. an empty piece's
    entropy) and histograms as shares that sum to 1 (all zeros for an empty piece)."""
    notes = piece.notes
    steps_per_quarter = piece.steps_per_quarter
    steps_per_bar = piece.steps_per_bar
    n_steps = piece.n_steps
    sixteenth = 4 / steps_per_quarter  # steps to sixteenth notes
    features: dict = {name: None for name in SCALAR_FEATURES}
    features["pitch_class_histogram"] = np.zeros(12)
    features["note_length_histogram"] = np.zeros(len(NOTE_LENGTHS))
    features["interval_histogram"] = np.zeros(len(INTERVAL_NAMES))
    if len(notes) == 0:
        return features

    pitches = notes[:, PITCH]
    pitch_class_counts = np.bincount(pitches % 12, minlength=12)
    pitch_class_shares = _normalised(pitch_class_counts)
    features["pitch_range"] = int(pitches.max() - pitches.min())
    features["pitches_used"] = len(np.unique(pitches))
    features["pitch_classes_used"] = int(np.count_nonzero(pitch_class_counts))
    features["pitch_class_entropy"] = _entropy_bits(pitch_class_shares)
    features["pitch_class_histogram"] = pitch_class_shares

    in_major_scale = [
        sum(pitch_class_counts[(tonic + d) % 12] for d in MAJOR_SCALE) for tonic in range(12)
    ]
    features["scale_consistency"] = max(in_major_scale) / len(notes)
    key = key or estimate_key(notes)
    if key is not None:
        in_key = sum(pitch_class_counts[pc] for pc in key.pitch_classes)
        features["in_scale_rate"] = in_key / len(notes)

    sounding = _sounding_counts(notes, n_steps)
    voiced = sounding[sounding > 0]
    if len(voiced):
        features["polyphony"] = float(voiced.mean())
        features["polyphony_rate"] = float(np.mean(voiced >= 2))

    features["empty_beat_rate"] = _silent_share(sounding, steps_per_quarter)
    features["empty_bar_rate"] = _silent_share(sounding, steps_per_bar)
    n_bars = math.ceil(n_steps / steps_per_bar)
    bar_signatures = _bar_signatures(notes, steps_per_bar, n_bars)
    features["note_density"] = len(notes) / n_bars
    onsets = np.unique(notes[:, START])
    if len(onsets) > 1:
        features["mean_ioi"] = float(np.diff(onsets).mean() / steps_per_quarter)
    seen: set = set()
    repeats = played = 0
    for signature in bar_signatures:
        if not signature:
            continue
        played += 1
        repeats += signature in seen
        seen.add(signature)
    features["repetition"] = repeats / played if played else None

    durations = (notes[:, END] - notes[:, START]) * sixteenth
    length_counts = np.bincount(_note_length_classes(durations), minlength=len(NOTE_LENGTHS))
    features["note_length_histogram"] = _normalised(length_counts)
    intervals = np.abs(np.diff(_top_line(notes)))
    if len(intervals):
        interval_counts = np.bincount(np.minimum(intervals, 13), minlength=len(INTERVAL_NAMES))
        features["interval_histogram"] = _normalised(interval_counts)
    return features


@dataclass(frozen=True)
class FeatureSummary:
    name: str
    mean: float | None
    sd: float | None
    n: int  # pieces for which it is defined


@dataclass(frozen=True)
class SetMetrics:
    """A set of pieces: per-feature mean and SD over pieces, pooled histograms, and the
    per-piece features (kept for distances to another set)."""

    n_pieces: int
    summaries: dict[str, FeatureSummary]
    histograms: dict[str, np.ndarray]  # mean of the pieces' shares
    pieces: list[dict]


def set_metrics(pieces: Iterable[QuantizedPiece]) -> SetMetrics:
    per_piece = [piece_features(piece) for piece in pieces]
    summaries = {}
    for name in SCALAR_FEATURES:
        values = np.array([f[name] for f in per_piece if f[name] is not None], dtype=float)
        summaries[name] = FeatureSummary(
            name,
            float(values.mean()) if len(values) else None,
            float(values.std(ddof=1)) if len(values) > 1 else None,
            len(values),
        )
    histograms = {}
    for name, (_, labels) in HISTOGRAM_FEATURES.items():
        stacked = np.array([f[name] for f in per_piece if f[name].sum() > 0])
        histograms[name] = stacked.mean(axis=0) if len(stacked) else np.zeros(len(labels))
    return SetMetrics(len(per_piece), summaries, histograms, per_piece)


def _feature_matrix(pieces: Sequence[dict], name: str) -> np.ndarray:
    """(n_pieces, d): one row per piece where the feature is defined."""
    if name in HISTOGRAM_FEATURES:
        rows = [f[name] for f in pieces if f[name].sum() > 0]
        return np.array(rows, dtype=float).reshape(len(rows), -1)
    rows = [[f[name]] for f in pieces if f[name] is not None]
    return np.array(rows, dtype=float).reshape(len(rows), 1)


def _pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2))


@dataclass(frozen=True)
class FeatureDistance:
    """Yang & Lerch's comparison of one feature: how the distances from generated pieces to
    reference pieces (inter-set) are distributed, against the distances between reference
    pieces (intra-set). Overlap 1 and divergence 0: the generated pieces sit among the
    reference pieces as the reference pieces sit among themselves."""

    name: str
    overlap: float | None
    kl_divergence: float | None
    intra_mean: float | None
    inter_mean: float | None


def feature_distances(generated: SetMetrics, reference: SetMetrics) -> dict[str, FeatureDistance]:
    distances = {}
    for name in FEATURES:
        ref = _feature_matrix(reference.pieces, name)
        gen = _feature_matrix(generated.pieces, name)
        result: DistributionOverlap | None = None
        intra = inter = np.zeros(0)
        if len(ref) >= 2 and len(gen) >= 1:
            intra_all = _pairwise_distances(ref, ref)
            intra = intra_all[np.triu_indices(len(ref), k=1)]
            inter = _pairwise_distances(gen, ref).ravel()
            result = overlap(intra, inter)
        distances[name] = FeatureDistance(
            name,
            result.overlapping_area if result else None,
            result.kl_divergence if result else None,
            float(intra.mean()) if len(intra) else None,
            float(inter.mean()) if len(inter) else None,
        )
    return distances


def mean_overlap(distances: dict[str, FeatureDistance]) -> float | None:
    values = [d.overlap for d in distances.values() if d.overlap is not None]
    return float(np.mean(values)) if values else None
