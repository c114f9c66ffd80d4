"""Splits, key estimation, transposition and melody extraction."""

import numpy as np
import pytest

from generation.music.keys import Key, estimate_key, semitones_to_c, transpose_to_c
from generation.music.melody import extract_melody, find_part, fold_into_range
from generation.music.scores import PITCH, START, QuantizedPiece
from generation.music.splits import fold_of, kfold, split_of
from tests import corpus_pieces


def scale(pitches, length=4):
    return np.array(
        [[p, i * length, (i + 1) * length, 80, 0] for i, p in enumerate(pitches)], dtype=np.int32
    )


def test_splits_are_deterministic_and_near_their_fractions():
    keys = [f"piece-{i}" for i in range(5000)]
    splits = [split_of(k) for k in keys]
    assert splits == [split_of(k) for k in keys]
    shares = {s: splits.count(s) / len(keys) for s in ("train", "valid", "test")}
    assert shares["train"] == pytest.approx(0.8, abs=0.02)
    assert shares["valid"] == pytest.approx(0.1, abs=0.015)
    assert {split_of(k, (0.5, 0.5, 0.0)) for k in keys} == {"train", "valid"}
    with pytest.raises(ValueError, match="summing to 1"):
        split_of("x", (0.8, 0.3, 0.1))


def test_kfold_holds_every_piece_out_exactly_once():
    keys = [f"piece-{i}" for i in range(300)]
    folds = kfold(keys, 5)
    held_out = [k for _, test in folds for k in test]
    assert sorted(held_out) == sorted(keys)
    for train, test in folds:
        assert not set(train) & set(test) and len(train) + len(test) == 300
        assert 40 <= len(test) <= 80
    with pytest.raises(ValueError):
        fold_of("x", 1)


@pytest.mark.slow
def test_key_of_scales_and_a_chorale():
    assert estimate_key(scale([60, 62, 64, 65, 67, 69, 71, 72])).name == "C major"
    a_minor_arpeggios = scale([57, 60, 64, 69, 64, 60, 57, 59, 62, 64, 68, 64, 57, 60, 64])
    assert estimate_key(a_minor_arpeggios).name == "A minor"
    assert estimate_key(np.zeros((0, 5), dtype=np.int32)) is None
    assert estimate_key(corpus_pieces.chorale().notes).name == "G major"


@pytest.mark.parametrize(
    ("tonic", "mode", "shift"),
    [(7, "major", -7 + 12), (2, "major", -2), (9, "minor", 0), (4, "minor", 5), (6, "major", 6)],
)
def test_shortest_transposition_to_c_or_a_minor(tonic, mode, shift):
    assert semitones_to_c(Key(tonic, mode)) == (shift if shift <= 5 else shift - 12)


@pytest.mark.slow
def test_transposing_a_g_major_chorale_lands_in_c_major():
    moved, shift, key = transpose_to_c(corpus_pieces.chorale())
    assert key.name == "G major" and shift == 5
    assert estimate_key(moved.notes).name == "C major"


def piece_with(notes, parts=("Soprano", "Alto")):
    return QuantizedPiece(notes=np.array(notes, dtype=np.int32), part_names=parts)


def test_skyline_keeps_the_highest_line_and_repeated_notes():
    piece = piece_with(
        [
            [67, 0, 8, 80, 0],  # soprano G held two beats
            [60, 0, 4, 70, 1],  # alto C
            [72, 4, 6, 90, 1],  # alto jumps above the soprano for an eighth
            [67, 8, 10, 80, 0],  # soprano strikes G again
        ]
    )
    melody = extract_melody(piece)
    assert melody[:, [PITCH, START, 2]].tolist() == [
        [67, 0, 4],
        [72, 4, 6],
        [67, 6, 8],
        [67, 8, 10],
    ]


def test_named_part_and_its_errors():
    piece = piece_with([[67, 0, 8, 80, 0], [60, 0, 4, 70, 1]])
    assert extract_melody(piece, "alto")[:, PITCH].tolist() == [60]
    assert find_part(piece, "sop") == 0
    with pytest.raises(ValueError, match="no part named 'tenor'"):
        extract_melody(piece, "tenor")


@pytest.mark.slow
def test_soprano_of_a_real_chorale_is_its_first_part():
    chorale = corpus_pieces.chorale()
    soprano = extract_melody(chorale, "Soprano")
    first_part = chorale.notes[chorale.notes[:, 4] == 0]
    assert soprano[:, [PITCH, START]].tolist() == first_part[:, [PITCH, START]].tolist()


def test_folding_moves_by_octaves_and_refuses_tiny_ranges():
    melody = scale([30, 40, 95])
    folded = fold_into_range(melody, 48, 83)
    # Up two octaves leaves one note out (95 -> 119), fewer than any other shift;
    # 119 then folds down three octaves to 83.
    assert folded[:, PITCH].tolist() == [54, 64, 83]
    with pytest.raises(ValueError, match="narrower than an octave"):
        fold_into_range(melody, 60, 65)


@pytest.mark.slow
def test_pieces_survive_serialisation():
    chorale = corpus_pieces.chorale()
    restored = QuantizedPiece.from_bytes(chorale.to_bytes())
    assert np.array_equal(restored.notes, chorale.notes)
    assert (restored.part_names, restored.time_signature, restored.notated_key) == (
        chorale.part_names,
        chorale.time_signature,
        chorale.notated_key,
    )
