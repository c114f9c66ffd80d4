"""The model zoo, trainer and sampler without Django: real js-fakes and corpus pieces, tiny sizes."""

import math
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch

from generation.encodings.melody_events import NO_EVENT
from generation.encodings.sequences import MelodyEventCodec, NoteTupleCodec, first_bars
from generation.music.parsing import read_midi_file
from generation.zoo import get_family, resolve_options
from generation.zoo.markov import MarkovChain, MarkovConfig
from generation.zoo.melody_rnn import MelodyRNN, MelodyRNNConfig
from generation.zoo.note_tuple_lstm import PeepholeLayerFunction, PeepholeLSTMLayer
from generation.zoo.sampling import sample_tokens
from generation.zoo.trainer import (
    TokenObjective,
    Trainer,
    TrainingCallback,
    TrainingConfig,
    evaluate_sequences,
    stream_batches,
    window_batches,
)
from tests.conftest import JS_FAKES
from tests.corpus_pieces import chorale, fiddle_tune

VARIANTS = [
    ("markov", "events"),
    ("markov", "tuples"),
    ("melody-rnn", "basic"),
    ("melody-rnn", "attention"),
    ("note-tuple-lstm", "basic"),
    ("note-tuple-lstm", "peephole"),
]


@cache
def js_fake_pieces(count: int = 24):
    return tuple(read_midi_file(path) for path in sorted(JS_FAKES.glob("*.mid"))[:count])


def tiny(family_name: str, config: str, train_pieces, **overrides):
    family = get_family(family_name)
    model_options, training_options = resolve_options(
        family, config=config, preset="tiny", overrides=overrides
    )
    return family, family.build(model_options, train_pieces), TrainingConfig(**training_options)


# --- Markov chain -----------------------------------------------------------


def test_markov_probabilities_match_hand_counts():
    # Toy corpus: 2 3 2 4 | 2 3. Transitions: 2->3 twice, 2->4 once, 3->2 once.
    chain = MarkovChain(MarkovConfig(num_classes=5, order=1, alpha=0.0)).fit(
        [np.array([2, 3, 2, 4]), np.array([2, 3])]
    )
    assert chain.distribution((2,)) == pytest.approx([0, 0, 0, 2 / 3, 1 / 3])
    assert chain.distribution((3,)) == pytest.approx([0, 0, 1, 0, 0])
    # 4 never precedes anything: back off to the unigram counts of targets (3, 2, 4, 3).
    assert chain.distribution((4,)) == pytest.approx([0, 0, 1 / 4, 2 / 4, 1 / 4])

    smoothed = MarkovChain(MarkovConfig(num_classes=5, order=1, alpha=0.5)).fit(
        [np.array([2, 3, 2, 4]), np.array([2, 3])]
    )
    # (N(2, y) + 0.5) / (N(2) + 0.5 * 5)
    assert smoothed.distribution((2,)) == pytest.approx(
        [0.5 / 5.5, 0.5 / 5.5, 0.5 / 5.5, 2.5 / 5.5, 1.5 / 5.5]
    )


def test_markov_order_two_backs_off_through_shorter_contexts():
    chain = MarkovChain(MarkovConfig(num_classes=5, order=2, alpha=0.0)).fit(
        [np.array([2, 3, 2, 4]), np.array([2, 3])]
    )
    assert chain.distribution((2, 3)) == pytest.approx([0, 0, 1, 0, 0])  # seen once: 2 3 -> 2
    assert chain.distribution((3, 2)) == pytest.approx([0, 0, 0, 0, 1])  # 3 2 -> 4
    # (4, 2) was never seen; its suffix (2,) was.
    assert chain.distribution((4, 2)) == pytest.approx([0, 0, 0, 2 / 3, 1 / 3])


def test_markov_call_gives_log_probabilities_and_carries_its_state():
    chain = MarkovChain(MarkovConfig(num_classes=5, order=1, alpha=0.0)).fit(
        [np.array([2, 3, 2, 4]), np.array([2, 3])]
    )
    logits, state = chain(torch.tensor([[2, 3]]))
    assert torch.exp(logits[0, 0]).tolist() == pytest.approx([0, 0, 0, 2 / 3, 1 / 3])
    assert torch.exp(logits[0, 1]).tolist() == pytest.approx([0, 0, 1, 0, 0])
    assert state == ((3,),)


def test_markov_samples_never_dead_end_even_from_unseen_contexts():
    chain = MarkovChain(MarkovConfig(num_classes=6, order=2, alpha=0.0)).fit(
        [np.array([2, 3, 2, 3])]
    )
    sequences = sample_tokens(
        chain,
        n=20,
        steps=50,
        token_steps=np.ones(6, dtype=np.int64),
        first_token_weights=np.array([0, 0, 0, 0, 0, 1]),  # 5 never appears in training
        seed=3,
    )
    assert all(len(s) == 50 for s in sequences)
    assert all(s[0] == 5 for s in sequences)


# --- Every family -------------------------------------------------------------


@pytest.mark.parametrize(("family_name", "config"), VARIANTS)
def test_training_lowers_the_loss_on_a_fixed_batch(family_name, config):
    pieces = js_fake_pieces()[:4]
    _, generator, _ = tiny(family_name, config, pieces)
    before = generator.evaluate(pieces)["loss"]
    training = TrainingConfig(
        steps=40, batch_size=4, window=32, learning_rate=0.01, eval_every=0, checkpoint_every=0
    )
    result = generator.fit(pieces, pieces, training)
    after = generator.evaluate(pieces)["loss"]
    assert after < before - 0.3, (before, after)
    assert result.history[0]["step"] == 0
    assert result.history[-1]["valid"]["loss"] == pytest.approx(after)


@pytest.mark.parametrize(("family_name", "config"), VARIANTS)
def test_checkpoint_round_trip_gives_identical_logits(family_name, config, tmp_path):
    pieces = js_fake_pieces()
    family, generator, training = tiny(family_name, config, pieces[:16])
    generator.fit(pieces[:16], pieces[16:], training)
    path = tmp_path / "model.pt"
    generator.save(path, step=training.steps)
    loaded = family.load(path)
    tokens = torch.from_numpy(generator.encode(pieces[16:18])[0][None, :60])
    assert torch.equal(generator.logits(tokens), loaded.logits(tokens))
    assert loaded.codec.to_dict() == generator.codec.to_dict()


def test_weights_load_with_plain_torch_load_and_the_config(tmp_path):
    pieces = js_fake_pieces()
    _, generator, training = tiny("melody-rnn", "attention", pieces[:8])
    generator.fit(pieces[:8], pieces[8:10], training)
    generator.save(tmp_path / "model.pt")
    payload = torch.load(tmp_path / "model.pt", weights_only=True)
    model = MelodyRNN(MelodyRNNConfig(**payload["model_config"]))
    model.load_state_dict(payload["state_dict"])
    model.eval()
    tokens = torch.from_numpy(generator.encode(pieces[8:9])[0][None, :40])
    with torch.no_grad():
        assert torch.equal(model(tokens)[0], generator.logits(tokens))


@pytest.mark.parametrize(("family_name", "config"), VARIANTS)
def test_untrained_step_zero_model_is_a_usable_baseline(family_name, config):
    pieces = js_fake_pieces()[:8]
    _, generator, _ = tiny(family_name, config, pieces)
    metrics = generator.evaluate(pieces)
    # An untrained model is close to uniform: its loss is about log(number of classes).
    assert metrics["loss"] == pytest.approx(math.log(generator.codec.num_classes), rel=0.15)
    midis = generator.sample(3, 32, seed=1)
    assert len(midis) == 3 and all(m.instruments[0].notes for m in midis)


@pytest.mark.parametrize(("family_name", "config"), VARIANTS)
def test_sampling_is_reproducible_from_the_seed_and_independent_of_batch_size(family_name, config):
    pieces = js_fake_pieces()
    _, generator, training = tiny(family_name, config, pieces[:12])
    generator.fit(pieces[:12], pieces[12:14], training)
    primer = first_bars(pieces[20], 1)

    def notes(midis):
        return [
            [(n.pitch, round(n.start, 6), round(n.end, 6)) for n in m.instruments[0].notes]
            for m in midis
        ]

    first = notes(generator.sample(5, 32, primer=primer, seed=7))
    assert notes(generator.sample(5, 32, primer=primer, seed=7)) == first
    assert notes(generator.sample(2, 32, primer=primer, seed=7)) == first[:2]
    assert notes(generator.sample(5, 32, primer=primer, seed=8)) != first
    # The primer opens every sample.
    primer_pitches = [
        n.pitch
        for n in generator.codec.decode(generator.codec.encode_piece(primer)).instruments[0].notes
    ]
    assert all(
        [pitch for pitch, _, _ in sample[: len(primer_pitches)]] == primer_pitches
        for sample in first
    )


def test_samples_have_the_requested_length():
    pieces = js_fake_pieces()
    for family_name, config in (("melody-rnn", "basic"), ("note-tuple-lstm", "basic")):
        _, generator, _ = tiny(family_name, config, pieces)
        for midi in generator.sample(4, 64, seed=0, tempo_qpm=120):  # 4 bars of 4/4 at 120 = 8 s
            assert 6.0 < midi.get_end_time() <= 8.0 + 1e-6


def test_top_k_one_is_greedy_whatever_the_seed():
    pieces = js_fake_pieces()
    _, generator, training = tiny("melody-rnn", "basic", pieces[:8])
    generator.fit(pieces[:8], pieces[8:10], training)
    primer = first_bars(pieces[12], 1)
    a = generator.sample(1, 32, primer=primer, seed=1, top_k=1)[0]
    b = generator.sample(1, 32, primer=primer, seed=99, top_k=1)[0]
    assert [n.pitch for n in a.instruments[0].notes] == [n.pitch for n in b.instruments[0].notes]


# --- Recurrent state ------------------------------------------------------------


@pytest.mark.parametrize(("family_name", "config"), VARIANTS)
def test_running_in_windows_with_carried_state_equals_one_pass(family_name, config):
    """What state refeed and step-by-step sampling rely on, attention window included."""
    pieces = js_fake_pieces()[:8]
    _, generator, _ = tiny(
        family_name, config, pieces, **({"attention_length": 5} if config == "attention" else {})
    )
    tokens = torch.from_numpy(np.stack([s[:48] for s in generator.encode(pieces[:2])]))
    whole = generator.logits(tokens)
    with torch.no_grad():
        first, state = generator.model(tokens[:, :7], None)
        second, state = generator.model(tokens[:, 7:8], state)
        third, _ = generator.model(tokens[:, 8:], state)
    assert torch.allclose(torch.cat([first, second, third], dim=1), whole, atol=1e-5)


def test_attention_reads_the_carried_history():
    """With attention the output depends on events further back than the current window."""
    torch.manual_seed(0)
    model = MelodyRNN(
        MelodyRNNConfig(num_classes=38, hidden_size=8, num_layers=1, attention_length=4)
    ).eval()
    tokens = torch.randint(0, 38, (1, 12))
    with torch.no_grad():
        _, state = model(tokens[:, :8])
        carried, _ = model(tokens[:, 8:], state)
        reset, _ = model(tokens[:, 8:], model.reset_rows(state, torch.tensor([True])))
    assert not torch.allclose(carried, reset)


def test_peephole_gradients_match_autograd():
    torch.manual_seed(0)
    steps, batch, size = 5, 3, 4
    projected = torch.randn(steps, batch, 4 * size, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(4 * size, size, dtype=torch.float64, requires_grad=True)
    peepholes = torch.randn(3, size, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(batch, size, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(batch, size, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        PeepholeLayerFunction.apply, (projected, weight, peepholes, h0, c0)
    )


def test_peephole_forward_matches_the_gers_equations():
    torch.manual_seed(1)
    layer = PeepholeLSTMLayer(3, 4).double()
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    h = torch.zeros(2, 4, dtype=torch.float64)
    c = torch.zeros(2, 4, dtype=torch.float64)
    outputs, _, _ = layer(x, h, c)
    for t in range(6):
        pre = x[t] @ layer.input_weight.T + layer.bias + h @ layer.recurrent_weight.T
        i, f, z, o = pre.chunk(4, dim=1)
        i = torch.sigmoid(i + layer.peepholes[0] * c)
        f = torch.sigmoid(f + layer.peepholes[1] * c)
        c = f * c + i * torch.tanh(z)
        o = torch.sigmoid(o + layer.peepholes[2] * c)
        h = o * torch.tanh(c)
        assert torch.allclose(outputs[t], h)


# --- Trainer ------------------------------------------------------------------------


def test_stream_batches_continue_each_piece_row_by_row():
    sequences = [np.arange(10) + 100 * k for k in range(3)]
    batches = stream_batches(sequences, batch_size=2, window=4, seed=0)
    seen: dict[int, list[int]] = {0: [], 1: []}
    for _ in range(6):
        batch = next(batches)
        for row in (0, 1):
            real = batch.inputs[row][batch.mask[row]].tolist()
            if batch.reset[row]:
                seen[row].append(-1)
            seen[row].extend(real)
    # Each row reads whole pieces in order; a reset marks where a new one starts.
    for row_tokens in seen.values():
        pieces = [p for p in " ".join(map(str, row_tokens)).split("-1") if p.strip()]
        for piece in pieces:
            values = [int(v) for v in piece.split()]
            assert values == list(range(values[0], values[0] + len(values)))


def test_window_batches_cover_every_target_once_per_epoch():
    sequences = [np.arange(1, 12), np.arange(20, 26)]
    batch = next(window_batches(sequences, batch_size=10, window=4, seed=0))
    targets = sorted(batch.targets[batch.mask].tolist())
    assert targets == sorted(list(range(2, 12)) + list(range(21, 26)))


def test_metrics_separate_note_events_from_no_event():
    # A model that always predicts no-event: accuracy equals the no-event share and flatters it.
    class Holder(torch.nn.Module):
        def forward(self, tokens, state=None):
            logits = torch.full((*tokens.shape, 38), -10.0)
            logits[..., NO_EVENT] = 10.0
            return logits, None

    sequence = np.array([2, 0, 0, 0, 5, 0, 0, 1])  # targets: 7, of which 5 are no-event
    metrics = evaluate_sequences(Holder(), [sequence], filler_class=NO_EVENT)
    assert metrics["accuracy"] == pytest.approx(5 / 7)
    assert metrics["no_event_share"] == pytest.approx(5 / 7)
    assert metrics["no_event_accuracy"] == 1.0
    assert metrics["note_event_accuracy"] == 0.0


def test_early_stopping_ends_training_when_validation_stops_improving():
    pieces = js_fake_pieces()
    _, generator, _ = tiny("melody-rnn", "basic", pieces[:4])
    # A huge learning rate on 4 pieces overfits within a few evaluations.
    training = TrainingConfig(
        steps=400,
        batch_size=4,
        window=32,
        learning_rate=0.05,
        eval_every=5,
        checkpoint_every=0,
        early_stop_patience=2,
    )
    events = []

    class Recorder(TrainingCallback):
        def on_checkpoint(self, step, metrics):
            events.append(("checkpoint", step))

        def on_end(self, step, stopped_early):
            events.append(("end", step, stopped_early))

    result = generator.fit(pieces[:4], pieces[20:24], training, [Recorder()])
    assert result.stopped_early and result.final_step < 400
    assert events[-1] == ("end", result.final_step, True)
    assert ("checkpoint", result.final_step) in events
    losses = [h["valid"]["loss"] for h in result.history]
    assert min(losses[-2:]) >= min(losses)


def test_state_refeed_trains():
    pieces = js_fake_pieces()[:6]
    _, generator, _ = tiny("melody-rnn", "attention", pieces)
    before = generator.evaluate(pieces)["loss"]
    training = TrainingConfig(
        steps=40,
        batch_size=3,
        window=16,
        learning_rate=0.01,
        eval_every=0,
        checkpoint_every=0,
        state_refeed=True,
    )
    generator.fit(pieces, pieces, training)
    assert generator.evaluate(pieces)["loss"] < before - 0.3


def test_trainer_knows_nothing_of_the_model():
    """Any module with the calling convention trains: here a bare embedding + linear bigram."""

    class Bigram(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.table = torch.nn.Embedding(8, 8)

        def forward(self, tokens, state=None):
            return self.table(tokens), None

    sequences = [np.array([1, 2, 3, 4, 5, 6, 7] * 5)]
    trainer = Trainer(
        Bigram(),
        TokenObjective(sequences, sequences),
        TrainingConfig(steps=200, batch_size=1, window=16, learning_rate=0.1, eval_every=0),
    )
    result = trainer.run()
    assert result.history[-1]["valid"]["accuracy"] > 0.95


# --- Codecs on real corpus pieces ------------------------------------------------------


@pytest.mark.slow
def test_codecs_read_a_chorale_soprano_and_a_fiddle_tune_in_c():
    events = MelodyEventCodec().encode_piece(chorale())
    assert events.max() < 38 and (events >= 2).sum() > 20
    codec = NoteTupleCodec()
    codec.fit([chorale(), fiddle_tune()])
    tokens = codec.encode_piece(fiddle_tune())
    assert (tokens >= 2).all()  # every tuple of a training piece is in the vocabulary
    assert codec.token_steps[tokens].sum() == pytest.approx(fiddle_tune().n_steps, abs=16)


def test_family_options_are_checked():
    family = get_family("melody-rnn")
    with pytest.raises(ValueError, match="hidden_sise"):
        family.build({"hidden_sise": 3}, js_fake_pieces()[:2])
    with pytest.raises(ValueError, match="no preset 'huge'"):
        resolve_options(family, preset="huge")
    with pytest.raises(ValueError, match="no model family 'gpt'"):
        get_family("gpt")


def test_a_checkpoint_of_another_family_is_refused(tmp_path):
    pieces = js_fake_pieces()[:4]
    _, generator, _ = tiny("markov", "events", pieces)
    generator.save(tmp_path / "markov.pt")
    with pytest.raises(ValueError, match="markov checkpoint"):
        get_family("melody-rnn").load(tmp_path / "markov.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(Exception):  # noqa: B017 - torch raises its own unpickling errors
        get_family("melody-rnn").load(Path(tmp_path / "junk.pt"))


def test_a_family_missing_part_of_the_interface_is_refused_naming_what_it_lacks(monkeypatch):
    from generation import zoo

    monkeypatch.setattr(zoo, "entry_points", lambda group: [])
    with pytest.raises(TypeError, match=r"lacks configs, presets, build\(\) \(see docs"):
        zoo.available_families(["tests.generation.test_zoo.HALF_FAMILY"])


class _HalfFamily:
    name = "half"
    title = "Half a family"
    build = None  # not callable: refused as missing

    def load(self, path):
        return None


HALF_FAMILY = _HalfFamily()


def test_a_generator_missing_sample_or_save_is_refused_naming_them():
    from generation.zoo.interface import check_generator

    class Mute:
        family = "mute"

    with pytest.raises(TypeError, match=r"mute's build\(\) did not return a generator: it lacks "
                                        r"sample\(\), save\(\)"):  # fmt: skip
        check_generator(Mute(), "mute's build()")


def test_capabilities_are_read_from_the_interface_not_guessed():
    from generation.zoo.interface import (
        capabilities,
        continues_training,
        records_step,
        sampling_options,
    )
    from tests.toy_family import UnigramGenerator

    pieces = list(js_fake_pieces(4))
    markov = get_family("markov").build({}, pieces)
    rnn = get_family("melody-rnn").build({}, pieces)
    deepj = get_family("deepj").build(
        resolve_options(get_family("deepj"), preset="tiny")[0], pieces
    )
    toy = UnigramGenerator()
    assert capabilities(toy) == ["trainable", "evaluable"]
    assert capabilities(deepj) == ["trainable", "evaluable", "transferable", "styled"]
    assert continues_training(rnn) and continues_training(toy) and continues_training(deepj)
    assert not continues_training(markov)  # counted, not trained
    assert records_step(rnn) and records_step(deepj) and not records_step(toy)
    assert sampling_options(deepj) == {"style", "adaptive_temperature"}
    assert sampling_options(rnn) == sampling_options(toy) == frozenset()
