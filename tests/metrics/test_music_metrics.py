"""Objective music metrics on hand-made pieces with known answers, on a real chorale against
values computed independently with music21, and the two statistics behind the comparison."""

import math

import numpy as np
import pytest
from scipy import stats

from generation.music.scores import QuantizedPiece
from metrics.music import (
    Key,
    estimate_key,
    feature_distances,
    piece_features,
    set_metrics,
)
from metrics.statistics.correlation import spearman
from metrics.statistics.distributions import overlap
from tests.corpus_pieces import chorale

QUARTER = 4  # steps


def piece(notes, time_signature=(4, 4)) -> QuantizedPiece:
    """notes: (pitch, start, end[, part]) in sixteenth steps."""
    rows = [(n[0], n[1], n[2], 80, n[3] if len(n) > 3 else 0) for n in notes]
    return QuantizedPiece(np.array(rows).reshape(-1, 5), time_signature=time_signature)


def quarters(pitches, start_beat=0):
    return [
        (p, (start_beat + i) * QUARTER, (start_beat + i + 1) * QUARTER)
        for i, p in enumerate(pitches)
    ]


C_MAJOR_SCALE = [60, 62, 64, 65, 67, 69, 71, 72]


def test_c_major_scale():
    f = piece_features(piece(quarters(C_MAJOR_SCALE)))
    assert f["scale_consistency"] == 1.0
    assert f["pitch_classes_used"] == 7
    assert f["pitches_used"] == 8
    assert f["pitch_range"] == 12
    assert f["in_scale_rate"] == 1.0
    # Eight notes, C twice: -(2/8 log2 2/8 + 6 * 1/8 log2 1/8) = 0.5 + 2.25 bits.
    assert f["pitch_class_entropy"] == pytest.approx(2.75)
    assert f["polyphony"] == 1.0 and f["polyphony_rate"] == 0.0
    assert f["empty_beat_rate"] == 0.0 and f["empty_bar_rate"] == 0.0
    assert f["note_density"] == 4.0  # eight notes in two bars
    assert f["mean_ioi"] == 1.0  # a quarter note
    assert f["repetition"] == 0.0
    np.testing.assert_allclose(f["note_length_histogram"], [0, 0, 0, 1, 0, 0, 0, 0])
    # Steps of a whole tone five times and of a semitone twice (E-F, B-C).
    expected = np.zeros(14)
    expected[1], expected[2] = 2 / 7, 5 / 7
    np.testing.assert_allclose(f["interval_histogram"], expected)
    np.testing.assert_allclose(f["pitch_class_histogram"][[0, 1, 2]], [2 / 8, 0, 1 / 8])


def test_an_empty_bar_counts_and_a_repeated_bar_counts():
    arpeggio = [60, 64, 67, 72]
    notes = quarters(arpeggio) + quarters(arpeggio, start_beat=8)  # bar 2 is silent
    f = piece_features(piece(notes))
    assert f["empty_beat_rate"] == pytest.approx(4 / 12)
    assert f["empty_bar_rate"] == pytest.approx(1 / 3)
    # Bar 3 repeats bar 1; the empty bar is neither a repeat nor a bar that could be repeated.
    assert f["repetition"] == pytest.approx(1 / 2)
    assert f["note_density"] == pytest.approx(8 / 3)

    varied = quarters(arpeggio) + quarters([60, 64, 67, 71], start_beat=4)
    assert piece_features(piece(varied))["repetition"] == 0.0
    # The same notes a quarter later in the bar are a different bar.
    shifted = quarters(arpeggio) + [(p, s + 20, e + 20) for p, s, e in quarters(arpeggio)[:3]]
    assert piece_features(piece(shifted))["repetition"] == 0.0


def test_polyphony_counts_distinct_sounding_pitches():
    chord = [(60, 0, 16, 0), (64, 0, 16, 1), (67, 0, 16, 2), (67, 0, 16, 3)]  # G doubled
    melody = [(72, 16, 32, 0)]
    f = piece_features(piece(chord + melody))
    assert f["polyphony"] == pytest.approx((16 * 3 + 16 * 1) / 32)
    assert f["polyphony_rate"] == pytest.approx(0.5)
    # The top line goes from the chord's G to the C above.
    assert f["interval_histogram"][5] == 1.0
    np.testing.assert_allclose(f["note_length_histogram"][-1], 1.0)


def test_note_lengths_go_to_the_nearest_class():
    notes = [(60, 0, 1), (60, 1, 6), (60, 6, 16), (60, 16, 56)]  # 1, 5, 10 and 40 sixteenths
    f = piece_features(piece(notes))
    # 5 sits between a quarter (4) and a dotted quarter (6), 10 between a half and a dotted half.
    np.testing.assert_allclose(f["note_length_histogram"], [0.25, 0, 0, 0.25, 0, 0.25, 0, 0.25])


def test_minor_key_and_scale_consistency_differ():
    # A harmonic minor, the tonic held longest: every note in A minor, G# outside C major.
    a_minor = [(69, 0, 16), (71, 16, 20), (72, 20, 24), (74, 24, 28), (76, 28, 32)]
    a_minor += [(77, 32, 36), (80, 36, 40), (81, 40, 56), (64, 56, 60), (69, 60, 76)]
    notes = np.array([(p, s, e, 80, 0) for p, s, e in a_minor])
    assert estimate_key(notes) == Key(9, "minor")
    f = piece_features(piece(a_minor))
    assert f["in_scale_rate"] == 1.0
    assert f["scale_consistency"] == pytest.approx(9 / 10)  # the G# is outside C major


def test_empty_piece_has_no_values_and_no_crash():
    f = piece_features(piece([]))
    assert f["pitch_range"] is None and f["repetition"] is None
    assert f["pitch_class_histogram"].sum() == 0
    summary = set_metrics([piece([]), piece(quarters(C_MAJOR_SCALE))])
    assert summary.summaries["pitch_range"].n == 1
    assert summary.summaries["pitch_range"].mean == 12


@pytest.mark.slow
def test_chorale_against_music21():
    """bwv269 (the default test chorale): pitch statistics counted by music21 itself, from
    its own parse of the score with ties merged, not through earshot's import."""
    from music21 import corpus

    score = corpus.parse("bach/bwv269").stripTies()
    midi = [p.midi for n in score.recurse().notes for p in n.pitches]
    counts = np.bincount(np.array(midi) % 12, minlength=12)
    shares = counts / counts.sum()
    best_major = max(sum(counts[(t + d) % 12] for d in (0, 2, 4, 5, 7, 9, 11)) for t in range(12))
    # earshot counts whole bars from the first onset (a pickup is not a bar of its own).
    meter = score.recurse().getElementsByClass("TimeSignature").first()
    bars = math.ceil(score.highestTime / meter.barDuration.quarterLength)

    f = piece_features(chorale())
    assert f["pitch_range"] == max(midi) - min(midi)
    assert f["pitches_used"] == len(set(midi))
    assert f["pitch_classes_used"] == int(np.count_nonzero(counts))
    assert f["pitch_class_entropy"] == pytest.approx(stats.entropy(shares, base=2))
    assert f["scale_consistency"] == pytest.approx(best_major / len(midi))
    assert f["note_density"] == pytest.approx(len(midi) / bars)
    # Four voices: mostly four pitches sound, never more.
    assert 3 < f["polyphony"] <= 4
    assert f["empty_beat_rate"] == 0.0


def test_feature_distances_tell_near_from_far():
    rng = np.random.default_rng(1)

    def random_melodies(low, high, count):
        return [piece(quarters(rng.integers(low, high, size=16).tolist())) for _ in range(count)]

    reference = set_metrics(random_melodies(60, 72, 30))
    alike = feature_distances(set_metrics(random_melodies(60, 72, 30)), reference)
    unlike = feature_distances(set_metrics(random_melodies(40, 90, 30)), reference)
    assert alike["pitch_range"].overlap > 0.7
    assert unlike["pitch_range"].overlap < 0.3
    assert unlike["pitch_range"].kl_divergence > alike["pitch_range"].kl_divergence
    assert alike["interval_histogram"].overlap > unlike["interval_histogram"].overlap


# --- statistics -------------------------------------------------------------------------


def test_overlap_of_two_normals_matches_the_closed_form():
    # N(0, 1) and N(1, 1): overlapping area 2 * Phi(-1/2) = 0.6171, KL = (1 - 0)^2 / 2 = 0.5.
    rng = np.random.default_rng(7)
    result = overlap(rng.normal(0, 1, 40_000), rng.normal(1, 1, 40_000))
    assert result.overlapping_area == pytest.approx(2 * stats.norm.cdf(-0.5), abs=0.01)
    assert result.kl_divergence == pytest.approx(0.5, abs=0.03)
    same = overlap(rng.normal(0, 1, 5000), rng.normal(0, 1, 5000))
    assert same.overlapping_area > 0.95 and same.kl_divergence < 0.01
    apart = overlap(rng.normal(0, 1, 5000), rng.normal(20, 1, 5000))
    assert apart.overlapping_area < 1e-3


def test_overlap_of_constant_samples_is_defined():
    assert overlap([0.0, 0.0, 0.0], [0.0, 0.0]).overlapping_area == pytest.approx(1.0, abs=0.01)
    assert overlap([0.0, 0.0], [5.0, 5.0]).overlapping_area < 1e-3


# Hollander & Wolfe (1973), p. 187f., the example in R's ?cor.test:
#   x <- c(44.4, 45.9, 41.9, 53.3, 44.7, 44.1, 50.7, 45.2, 60.1)
#   y <- c( 2.6,  3.1,  2.5,  5.0,  3.6,  4.0,  5.2,  2.8,  3.8)
#   cor.test(x, y, method = "spearman", alternative = "greater")
#   S = 48, p-value = 0.0484, rho = 0.6
HW_X = [44.4, 45.9, 41.9, 53.3, 44.7, 44.1, 50.7, 45.2, 60.1]
HW_Y = [2.6, 3.1, 2.5, 5.0, 3.6, 4.0, 5.2, 2.8, 3.8]


def test_spearman_matches_r_cor_test():
    result = spearman(HW_X, HW_Y, alternative="greater")
    assert result.rho == pytest.approx(0.6)
    assert result.p_value == pytest.approx(0.0484, abs=5e-5)
    assert result.p_method == "exact"
    # cor.test(x, y, method = "spearman")  ->  p-value = 0.0968 (twice the one-sided p)
    assert spearman(HW_X, HW_Y).p_value == pytest.approx(0.0968, abs=1e-4)
    assert result.low < 0.6 < result.high


def test_spearman_with_ties_uses_the_t_approximation_like_r():
    # x <- c(1, 2, 2, 3, 4, 5, 6, 7, 8, 9); y <- c(2, 1, 4, 3, 6, 5, 8, 7, 10, 9)
    # cor.test(x, y, method = "spearman", exact = FALSE)
    #   rho = 0.9331, p-value = 8.083e-05 (computed here from R's formula: t on n - 2 df)
    x = [1, 2, 2, 3, 4, 5, 6, 7, 8, 9]
    y = [2, 1, 4, 3, 6, 5, 8, 7, 10, 9]
    result = spearman(x, y)
    reference = stats.spearmanr(x, y)
    assert result.p_method == "t approximation"
    assert result.rho == pytest.approx(reference.statistic)
    assert result.p_value == pytest.approx(reference.pvalue)


def test_spearman_bootstrap_interval_agrees_with_scipy_bootstrap():
    rng = np.random.default_rng(3)
    x = rng.normal(size=60)
    y = 0.5 * x + rng.normal(size=60)
    ours = spearman(x, y, n_resamples=4000, seed=1)
    theirs = stats.bootstrap(
        (x, y),
        lambda a, b: stats.spearmanr(a, b).statistic,
        paired=True,
        vectorized=False,
        n_resamples=4000,
        method="percentile",
        random_state=2,
    ).confidence_interval
    assert ours.low == pytest.approx(theirs.low, abs=0.04)
    assert ours.high == pytest.approx(theirs.high, abs=0.04)


def test_spearman_undefined_cases():
    assert spearman([1, 2], [2, 1]).rho is None  # too few
    assert spearman([1, 1, 1, 1], [1, 2, 3, 4]).rho is None  # constant
    assert spearman([1, 2, math.nan, 4, 5], [1, 2, 3, 4, 6]).n == 4
    with pytest.raises(ValueError):
        spearman([1, 2, 3], [1, 2, 3], alternative="bigger")
