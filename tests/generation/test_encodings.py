"""Each encoding round-trips real corpus pieces back to PrettyMIDI without losing a note."""

import numpy as np
import pretty_midi
import pytest

from generation.encodings.melody_events import NO_EVENT, NOTE_OFF, MelodyEventEncoding
from generation.encodings.note_tuples import (
    PAD,
    REST,
    UNK,
    NoteTupleVocabulary,
    melody_to_tuples,
    tuples_to_notes,
)
from generation.encodings.piano_roll import BIAXIAL, DEEPJ, PianoRollEncoding
from generation.music.melody import extract_melody
from generation.music.midi import pretty_midi_to_piece
from generation.music.scores import END, PITCH, START
from tests import corpus_pieces


def notes_of(midi: pretty_midi.PrettyMIDI) -> list[tuple[int, int, int]]:
    """(pitch, start step, end step) of a decoded file, read back through MIDI ticks."""
    piece = pretty_midi_to_piece(midi)
    return sorted(map(tuple, piece.notes[:, [PITCH, START, END]].tolist()))


def triples(notes: np.ndarray) -> list[tuple[int, int, int]]:
    return sorted(map(tuple, notes[:, [PITCH, START, END]].tolist()))


# ------------------------------------------------------------ melody events


def test_default_melody_encoding_has_the_38_classes_of_the_melody_rnn():
    encoding = MelodyEventEncoding()
    assert encoding.num_classes == 38
    assert encoding.class_of_pitch(48) == 2 and encoding.class_of_pitch(83) == 37


def test_melody_events_by_hand():
    # C4 for a quarter, a sixteenth rest, then E4 for an eighth, E4 struck again for a sixteenth.
    melody = np.array([[60, 0, 4, 90, 0], [64, 5, 7, 90, 0], [64, 7, 8, 90, 0]], dtype=np.int32)
    encoding = MelodyEventEncoding()
    events = encoding.encode(melody)
    on_c, on_e = encoding.class_of_pitch(60), encoding.class_of_pitch(64)
    assert events.tolist() == [
        on_c,
        NO_EVENT,
        NO_EVENT,
        NO_EVENT,
        NOTE_OFF,
        on_e,
        NO_EVENT,
        on_e,
        NOTE_OFF,
    ]


def test_melody_events_refuse_polyphony_and_out_of_range_pitches():
    encoding = MelodyEventEncoding()
    with pytest.raises(ValueError, match="monophonic"):
        encoding.encode(np.array([[60, 0, 4, 90, 0], [64, 2, 6, 90, 0]], dtype=np.int32))
    with pytest.raises(ValueError, match="fold it first"):
        encoding.encode(np.array([[30, 0, 4, 90, 0]], dtype=np.int32))


@pytest.mark.slow
def test_chorale_soprano_round_trips_through_melody_events():
    chorale = corpus_pieces.chorale()
    soprano = extract_melody(chorale, "soprano")
    encoding = MelodyEventEncoding()
    fitted = encoding.fit(soprano)
    assert fitted[:, PITCH].min() >= 48 and fitted[:, PITCH].max() <= 83
    events = encoding.encode(fitted)
    midi = encoding.decode(events, tempo_qpm=chorale.tempo_qpm)
    assert isinstance(midi, pretty_midi.PrettyMIDI)
    assert notes_of(midi) == triples(fitted)
    assert len(fitted) == (chorale.notes[:, 4] == 0).sum()  # every soprano note survives


@pytest.mark.slow
def test_fiddle_tune_is_folded_into_range_by_octaves_only():
    tune = corpus_pieces.fiddle_tune()
    melody = extract_melody(tune)
    encoding = MelodyEventEncoding(min_pitch=55, max_pitch=70)  # narrow on purpose
    fitted = encoding.fit(melody)
    assert fitted[:, PITCH].min() >= 55 and fitted[:, PITCH].max() <= 70
    assert ((fitted[:, PITCH] - melody[:, PITCH]) % 12 == 0).all()
    assert notes_of(encoding.decode(encoding.encode(fitted))) == triples(fitted)


# ------------------------------------------------------------ note tuples


@pytest.mark.slow
def test_fiddle_tune_round_trips_through_note_tuples():
    melody = extract_melody(corpus_pieces.fiddle_tune())
    tuples = melody_to_tuples(melody)
    vocabulary = NoteTupleVocabulary.build([tuples])
    tokens = vocabulary.encode(tuples)
    assert UNK not in tokens and PAD not in tokens
    assert triples(tuples_to_notes(vocabulary.decode_tuples(tokens))) == triples(melody)
    assert notes_of(vocabulary.decode(tokens)) == triples(melody)


def test_rests_and_beats_are_tuples_too():
    melody = np.array([[60, 2, 6, 90, 0], [62, 16, 20, 90, 0]], dtype=np.int32)
    assert melody_to_tuples(melody) == [(REST, 2), (60, 4), (REST, 10), (62, 4)]
    assert melody_to_tuples(melody, with_beat=True, steps_per_bar=12) == [
        (REST, 2, 0),
        (60, 4, 2),
        (REST, 10, 6),
        (62, 4, 4),
    ]


def test_vocabulary_comes_from_training_data_and_unknowns_follow_the_policy():
    train = [[(60, 4), (62, 4), (60, 4)], [(64, 8)]]
    unseen = [(60, 4), (60, 6), (99, 4)]
    assert NoteTupleVocabulary.build(train).tuples[0] == (60, 4)  # most frequent first
    assert NoteTupleVocabulary.build(train, unknown="unk").encode(unseen).tolist()[1:] == [UNK, UNK]
    nearest = NoteTupleVocabulary.build(train, unknown="nearest")
    assert nearest.decode_tuples(nearest.encode(unseen)) == [
        (60, 4),
        (60, 4),
    ]  # (99, 4): UNK, no time
    assert len(NoteTupleVocabulary.build(train, unknown="skip").encode(unseen)) == 1
    with pytest.raises(ValueError, match=r"\(60, 6\) is not in the vocabulary"):
        NoteTupleVocabulary.build(train, unknown="error").encode(unseen)
    restored = NoteTupleVocabulary.from_dict(nearest.to_dict())
    assert restored.encode(unseen).tolist() == nearest.encode(unseen).tolist()


def test_minimum_count_leaves_rare_tuples_out():
    vocabulary = NoteTupleVocabulary.build([[(60, 4), (60, 4), (62, 3)]], min_count=2)
    assert vocabulary.tuples == [(60, 4)]
    assert len(vocabulary) == 3


# ------------------------------------------------------------ piano roll


def test_piano_roll_presets_match_the_papers():
    assert (DEEPJ.low_pitch, DEEPJ.high_pitch, DEEPJ.n_notes) == (36, 83, 48)
    assert (BIAXIAL.low_pitch, BIAXIAL.n_notes) == (24, 78)


def test_piano_roll_planes_by_hand():
    encoding = PianoRollEncoding(low_pitch=60, n_notes=3)
    # C held 0-4 then struck again 4-6 (a replay); D from 2 to 3 at velocity 127.
    notes = np.array([[60, 0, 4, 64, 0], [60, 4, 6, 64, 0], [61, 2, 3, 127, 1]], dtype=np.int32)
    roll = encoding.encode(notes)
    assert roll.shape == (6, 3)
    assert roll.play[:, 0].tolist() == [1, 1, 1, 1, 1, 1]
    assert roll.articulate[:, 0].tolist() == [1, 0, 0, 0, 1, 0]
    assert roll.replay[:, 0].tolist() == [0, 0, 0, 0, 1, 0]
    assert roll.replay[:, 1].sum() == 0  # a fresh onset is not a replay
    assert roll.velocity[2, 1] == pytest.approx(1.0)
    assert triples(encoding.decode_notes(roll)) == [(60, 0, 4), (60, 4, 6), (61, 2, 3)]


@pytest.mark.slow
def test_chorale_round_trips_through_the_biaxial_piano_roll():
    chorale = corpus_pieces.chorale()
    roll = BIAXIAL.encode(chorale.notes)
    assert roll.shape == (chorale.n_steps, 78)
    decoded = BIAXIAL.decode_notes(roll)

    # A roll has one cell per pitch, so the test compares what a listener hears:
    # the same pitches sounding at every step, and the same onsets.
    def sounding(notes):
        return {(p, t) for p, s, e in notes[:, [PITCH, START, END]].tolist() for t in range(s, e)}

    assert sounding(decoded) == sounding(chorale.notes)
    assert {tuple(x) for x in decoded[:, [PITCH, START]].tolist()} == {
        tuple(x) for x in chorale.notes[:, [PITCH, START]].tolist()
    }
    # Re-encoding the decoded notes gives the identical roll.
    again = BIAXIAL.encode(decoded, n_steps=roll.shape[0])
    assert np.array_equal(again.play, roll.play) and np.array_equal(
        again.articulate, roll.articulate
    )
    assert notes_of(BIAXIAL.decode(roll, tempo_qpm=chorale.tempo_qpm)) == triples(decoded)


def test_js_fake_round_trips_through_the_deepj_roll_with_velocities(js_fakes):
    piece = corpus_pieces.midi_piece(js_fakes / "7.mid")
    in_range = DEEPJ.in_range(piece.notes)
    roll = DEEPJ.encode(piece.notes)
    decoded = DEEPJ.decode_notes(roll)
    assert {tuple(x) for x in decoded[:, [PITCH, START]].tolist()} == {
        tuple(x) for x in in_range[:, [PITCH, START]].tolist()
    }
    velocities = {(p, s): v for p, s, v in in_range[:, [PITCH, START, 3]].tolist()}
    assert all(velocities[(p, s)] <= v for p, s, v in decoded[:, [PITCH, START, 3]].tolist())
