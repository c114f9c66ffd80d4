"""The Music Transformer family and the performance-event encoding. No Django."""

import numpy as np
import pytest
import torch

from generation.encodings.performance_events import PAD, PerformanceEventCodec
from generation.evaluation.jsb_chorales import chorale_piece, load_jsb
from generation.music.scores import QuantizedPiece
from generation.zoo import get_family, resolve_options
from generation.zoo.music_transformer import MusicTransformer, MusicTransformerConfig
from generation.zoo.trainer import TrainingConfig, evaluate_sequences
from tests.corpus_pieces import chorale
from tests.generation.test_zoo import js_fake_pieces


def tiny_model(**options) -> MusicTransformer:
    torch.manual_seed(0)
    config = MusicTransformerConfig(
        num_classes=20, d_model=16, n_layers=2, n_heads=2, d_ff=32, dropout=0.0, **options
    )
    return MusicTransformer(config).eval()


def test_a_position_sees_only_what_came_before_it():
    model = tiny_model()
    tokens = torch.randint(1, 20, (2, 12))
    changed = tokens.clone()
    changed[:, 7:] = (changed[:, 7:] + 1) % 20
    with torch.no_grad():
        before, _ = model(tokens)
        after, _ = model(changed)
    assert torch.allclose(before[:, :7], after[:, :7], atol=1e-6)
    assert not torch.allclose(before[:, 7:], after[:, 7:], atol=1e-3)


@pytest.mark.parametrize("use_cache", [True, False])
def test_one_token_at_a_time_gives_the_logits_of_one_pass(use_cache):
    model = tiny_model(max_relative=4)  # longer than 4 back: the clipped distance
    model.use_cache = use_cache
    tokens = torch.randint(1, 20, (3, 10))
    with torch.no_grad():
        whole, _ = model(tokens)
        state, steps = None, []
        for position in range(10):
            logits, state = model(tokens[:, position : position + 1], state)
            steps.append(logits)
    assert torch.allclose(torch.cat(steps, dim=1), whole, atol=1e-5)
    assert state[0] == ("cache" if use_cache else "tokens")


def test_evaluation_in_windows_equals_one_pass():
    model = tiny_model()
    sequences = [np.random.default_rng(i).integers(1, 20, size=n) for i, n in enumerate([9, 23])]
    whole = evaluate_sequences(model, sequences, window=1000)
    windows = evaluate_sequences(model, sequences, window=4)
    assert windows["loss"] == pytest.approx(whole["loss"], rel=1e-6)
    assert windows["n_events"] == whole["n_events"] == 30


def test_state_refeed_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="train it with state_refeed off"):
        tiny_model().reset_rows(None, torch.ones(1, dtype=torch.bool))


def test_bad_sizes_and_encodings_are_refused_before_any_work():
    with pytest.raises(ValueError, match="must divide into 3 heads"):
        MusicTransformerConfig(d_model=16, n_heads=3)
    family = get_family("music-transformer")
    with pytest.raises(ValueError, match="encoding must be one of"):
        family.build({"encoding": "midi-bytes"}, [chorale()])


@pytest.mark.parametrize("config", ["melody", "performance"])
def test_it_learns_saves_and_samples_the_same_with_and_without_the_cache(config, tmp_path):
    pieces = list(js_fake_pieces(12))
    family = get_family("music-transformer")
    model_options, training = resolve_options(family, config=config, preset="tiny")
    torch.manual_seed(0)
    generator = family.build(model_options, pieces)
    result = generator.fit(pieces[:10], pieces[10:], TrainingConfig(**training))
    assert result.history[-1]["valid"]["loss"] < result.history[0]["valid"]["loss"]

    generator.save(tmp_path / "model.pt", step=30)
    loaded = family.load(tmp_path / "model.pt")
    tokens = torch.from_numpy(generator.encode(pieces[10:11])[0][None, :40])
    assert torch.allclose(generator.logits(tokens), loaded.logits(tokens), atol=1e-6)

    cached = loaded.sample(3, 32, seed=4)
    loaded.model.use_cache = False
    recomputed = loaded.sample(3, 32, seed=4)
    loaded.model.use_cache = True
    alone = loaded.sample(1, 32, seed=4)

    def notes(midi):
        return [
            (n.pitch, round(n.start, 6), round(n.end, 6)) for i in midi.instruments for n in i.notes
        ]

    assert [notes(m) for m in cached] == [notes(m) for m in recomputed]
    assert notes(alone[0]) == notes(cached[0])  # a sample does not depend on its batch
    assert all(notes(m) for m in cached)
    assert max(n.end for m in cached for i in m.instruments for n in i.notes) <= 32 * 0.125 + 1e-6
    if config == "performance":  # polyphony: notes that sound together
        starts = [start for _, start, _ in notes(cached[0])]
        assert len(starts) > len(set(starts))


def test_performance_events_round_trip_a_chorale_exactly():
    piece = chorale_piece(load_jsb()["test"][0], title="t")  # no two parts on one key at once
    codec = PerformanceEventCodec()
    tokens = codec.encode_piece(piece)
    assert PAD not in tokens and tokens.max() < codec.num_classes
    decoded = codec.decode_notes(tokens)
    expected = sorted(map(tuple, piece.notes[:, :3].tolist()))
    assert sorted(map(tuple, decoded[:, :3].tolist())) == expected
    assert int(codec.token_steps[tokens].sum()) == piece.n_steps
    assert not codec.sampleable[PAD] and codec.sampleable[1:].all()


def test_two_parts_on_one_key_become_one_key_struck_twice_as_on_a_piano():
    piece = chorale()  # the tenor and the bass meet on one G
    codec = PerformanceEventCodec()
    decoded = codec.decode_notes(codec.encode_piece(piece))
    assert len(decoded) == len(piece.notes)
    assert (55, 16, 17) in map(tuple, decoded[:, :3].tolist())  # cut where the other begins
    assert (55, 16, 20) in map(tuple, piece.notes[:, :3].tolist())


def test_performance_events_order_offs_before_ons_and_write_velocity_only_on_change():
    codec = PerformanceEventCodec(min_pitch=60, max_pitch=71, max_shift=4, velocity_bins=8)
    notes = np.array(
        [
            (60, 0, 2, 100, 0),
            (64, 0, 6, 100, 0),  # same bin: one velocity token for both
            (60, 2, 3, 30, 0),  # the key released and struck again at once
        ]
    )
    tokens = codec.encode_piece(QuantizedPiece(notes))
    described = [codec.describe(t) for t in tokens]
    assert described == [
        f"velocity {codec.bin_velocity(codec.velocity_bin(100))}",
        "on C4",
        "on E4",
        "shift 2",
        "off C4",
        f"velocity {codec.bin_velocity(codec.velocity_bin(30))}",
        "on C4",
        "shift 1",
        "off C4",
        "shift 3",
        "off E4",
    ]
    decoded = codec.decode_notes(tokens)
    assert sorted(map(tuple, decoded[:, :3].tolist())) == [(60, 0, 2), (60, 2, 3), (64, 0, 6)]
    # A note never released ends with the stream, one step at least.
    on_c4, shift_2 = 1, codec.first_shift + 1
    assert codec.decode_notes([on_c4, shift_2]).tolist() == [[60, 0, 2, 80, 0]]
    assert codec.decode_notes([on_c4]).tolist() == [[60, 0, 1, 80, 0]]
