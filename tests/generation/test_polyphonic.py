"""The piano-roll families (Biaxial LSTM, DeepJ): no database, tiny sizes, real chorales."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from generation.music.scores import QuantizedPiece
from generation.zoo import get_family, resolve_options
from generation.zoo.biaxial import BiaxialConfig, BiaxialLSTM
from generation.zoo.deepj import DeepJ, DeepJConfig
from generation.zoo.piano_roll_base import (
    ARTICULATE,
    PLAY,
    REPLAY,
    VELOCITY,
    RollTotals,
    StyleTable,
    encode_rolls,
    evaluate_rolls,
    parse_style_mixture,
    previous_steps,
    roll_loss_sums,
    sample_rolls,
)
from generation.zoo.trainer import TrainingConfig
from tests.corpus_pieces import chorale

SMALL = {"time_sizes": [12, 10], "note_sizes": [8, 6]}


def make_model(kind: str, **options):
    torch.manual_seed(0)
    if kind == "biaxial":
        return BiaxialLSTM(BiaxialConfig(**{**SMALL, **options}))
    defaults = {"n_styles": 2, "style_size": 4, "conv_filters": 5, "dropout": 0.0}
    return DeepJ(DeepJConfig(**{**SMALL, **defaults, "input_dropout": 0.0, **options})).eval()


def random_rolls(batch=2, steps=7, notes=48, seed=0):
    rng = np.random.default_rng(seed)
    rolls = np.zeros((batch, steps, notes, 4), dtype=np.float32)
    rolls[..., PLAY] = rng.random((batch, steps, notes)) < 0.2
    rolls[..., ARTICULATE] = rolls[..., PLAY] * (rng.random((batch, steps, notes)) < 0.5)
    rolls[..., REPLAY] = rolls[..., ARTICULATE] * (rng.random((batch, steps, notes)) < 0.5)
    rolls[..., VELOCITY] = rolls[..., PLAY] * rng.random((batch, steps, notes))
    return torch.from_numpy(rolls)


def forward(model, rolls, styles=None):
    batch, steps = rolls.shape[:2]
    beats = torch.arange(steps).expand(batch, -1) % 16
    styles = (
        styles
        if styles is not None
        else torch.zeros(batch, model.config.__dict__.get("n_styles", 0))
    )
    features, _ = model.time_axis(previous_steps(rolls), beats, styles)
    return features, model.note_axis(features, rolls, styles)


def two_style_pieces():
    """The same chorale twice, labelled with two styles; the second transposed so they differ."""
    piece = chorale()
    bach = replace(piece, extra={**piece.extra, "style": "bach"})
    other = replace(piece.transposed(-5), extra={**piece.extra, "style": "folk"})
    return [bach, other]


@pytest.mark.parametrize("kind", ["biaxial", "deepj"])
def test_shapes_through_each_axis(kind):
    model = make_model(kind).eval()
    rolls = random_rolls(batch=3, steps=5)
    styles = torch.tensor([[1.0, 0.0]] * 3) if kind == "deepj" else torch.zeros(3, 0)
    previous = previous_steps(rolls)
    beats = torch.arange(5).expand(3, -1)
    notes = model.note_features(previous, beats)
    assert notes.shape == (3, 5, 48, model.feature_size())
    features, state = model.time_axis(previous, beats, styles)
    assert features.shape == (3, 5, 48, 10)  # the last time-axis layer's width
    assert len(state) == 2 and state[0][0].shape == (1, 3 * 48, 12)
    logits = model.note_axis(features, rolls, styles)
    assert logits.shape == (3, 5, 48, len(model.outputs))
    step_logits, note_state = model.note_step(features[:, 0, 0], rolls[:, 0, 0], styles)
    assert step_logits.shape == (3, len(model.outputs))
    assert note_state[1][0].shape == (1, 3, 6)


def test_biaxial_features_hold_the_vicinity_and_the_beat_in_binary():
    model = make_model("biaxial")
    previous = torch.zeros(1, 1, 48, 4)
    previous[0, 0, 20, PLAY] = 1.0  # note 20 sounded one step earlier
    features = model.note_features(previous, torch.tensor([[5]]))[0, 0]  # (N, F)
    vicinity = features[:, 13 : 13 + 50].reshape(48, 2, 25)  # play / articulate, offsets -12..12
    for note in (8, 14, 20, 27, 32):
        offset = 20 - note
        assert vicinity[note, 0, 12 + offset] == 1.0  # it sees note 20 at its offset
        assert vicinity[note, 0].sum() == 1.0
    assert vicinity[7, 0].sum() == 0  # 13 semitones away: outside the vicinity
    assert features[0, -4:].tolist() == [1.0, 0.0, 1.0, 0.0]  # step 5 = 0b0101, low bit first
    assert features[0, 1 + 0] == 1.0  # MIDI 36 is a C


@pytest.mark.parametrize("kind", ["biaxial", "deepj"])
def test_note_axis_is_causal_from_low_to_high(kind):
    """Changing a higher note's choice never changes a lower note's probabilities."""
    model = make_model(kind).eval()
    rolls = random_rolls()
    with torch.no_grad():
        _, before = forward(
            model, rolls, torch.tensor([[1.0, 0.0]] * 2) if kind == "deepj" else None
        )
        changed = rolls.clone()
        changed[:, 3, 30] = torch.tensor([1.0, 1.0, 1.0, 0.9]) - changed[:, 3, 30]  # flip note 30
        _, after = forward(
            model, changed, torch.tensor([[1.0, 0.0]] * 2) if kind == "deepj" else None
        )
    assert torch.equal(before[:, :3], after[:, :3])
    assert torch.equal(before[:, 3, :31], after[:, 3, :31])  # the note itself and those below
    assert not torch.allclose(before[:, 3, 31:], after[:, 3, 31:])  # the notes above do see it


@pytest.mark.parametrize("kind", ["biaxial", "deepj"])
def test_time_axis_is_causal(kind):
    model = make_model(kind).eval()
    rolls = random_rolls(steps=8)
    with torch.no_grad():
        _, before = forward(
            model, rolls, torch.tensor([[0.0, 1.0]] * 2) if kind == "deepj" else None
        )
        changed = rolls.clone()
        changed[:, 5] = 1.0 - changed[:, 5]
        _, after = forward(
            model, changed, torch.tensor([[0.0, 1.0]] * 2) if kind == "deepj" else None
        )
    # Step 5's own play targets reach only its notes above through the note axis; steps < 5 never.
    assert torch.equal(before[:, :5], after[:, :5])
    assert not torch.allclose(before[:, 6:], after[:, 6:])


def test_masked_losses_are_zero_where_nothing_plays():
    rolls = torch.zeros(2, 6, 48, 4)
    rolls[..., ARTICULATE] = 1.0  # nonsense targets under silence must not count
    rolls[..., REPLAY] = 1.0
    rolls[..., VELOCITY] = 0.7
    logits = torch.randn(2, 6, 48, 3)
    mask = torch.ones(2, 6, dtype=torch.bool)
    sums = roll_loss_sums(logits, rolls, mask, ("play", "replay", "velocity"))
    assert sums["replay_loss"] == 0 and sums["dynamics_loss"] == 0
    assert sums["play_loss"] > 0
    biaxial = roll_loss_sums(logits[..., :2], rolls, mask, ("play", "articulate"))
    assert biaxial["articulate_loss"] == 0


def test_play_loss_is_the_seeds_bernoulli_likelihood_and_padding_does_not_count():
    rolls = random_rolls(batch=1, steps=4)
    logits = torch.randn(1, 4, 48, 2)
    mask = torch.tensor([[True, True, True, False]])
    sums = roll_loss_sums(logits, rolls, mask, ("play", "articulate"))
    # Deep Jammer section 5: loss = -sum log(2 s y - s - y + 1), s = sigmoid output, y the target.
    s, y = torch.sigmoid(logits[0, :3, :, 0].double()), rolls[0, :3, :, PLAY].double()
    seed_loss = -torch.log(2 * s * y - s - y + 1).sum()
    assert float(sums["play_loss"]) == pytest.approx(float(seed_loss), rel=1e-5)
    # articulate: the same likelihood, only where the note plays
    a, z = torch.sigmoid(logits[0, :3, :, 1].double()), rolls[0, :3, :, ARTICULATE].double()
    articulate = -(torch.log(2 * a * z - a - z + 1) * y).sum()
    assert float(sums["articulate_loss"]) == pytest.approx(float(articulate), rel=1e-5)


def test_play_precision_recall_f1_and_frame_accuracy_by_hand():
    rolls = torch.zeros(1, 2, 4, 4)
    rolls[0, 0, [0, 1], PLAY] = 1.0  # step 0 plays notes 0, 1
    rolls[0, 1, [2], PLAY] = 1.0  # step 1 plays note 2
    logits = torch.full((1, 2, 4, 2), -5.0)
    logits[0, 0, [0, 3], 0] = 5.0  # predicted: note 0 (hit) and 3 (false alarm)
    logits[0, 1, [2], 0] = 5.0  # hit
    totals = RollTotals(("play", "articulate"))
    totals.add(logits, rolls, torch.ones(1, 2, dtype=torch.bool))
    metrics = totals.result()
    # TP = 2, FP = 1, FN = 1 (note 1 at step 0)
    assert metrics["play_precision"] == pytest.approx(2 / 3)
    assert metrics["play_recall"] == pytest.approx(2 / 3)
    assert metrics["play_f1"] == pytest.approx(2 / 3)
    assert metrics["frame_accuracy"] == pytest.approx(2 / 4)  # TP / (TP + FP + FN)
    assert metrics["loss"] == pytest.approx(metrics["play_loss"] + metrics["articulate_loss"])


@pytest.mark.slow
@pytest.mark.parametrize("family_name", ["biaxial-lstm", "deepj"])
def test_evaluation_in_windows_equals_one_pass(family_name):
    pieces = [chorale(), chorale("bach/bwv347.mxl")]
    _, generator, _ = tiny_generator(family_name, pieces)
    rolls, styles = generator.encode(pieces)
    assert len(rolls) == 2 and len(rolls[0]) != len(rolls[1])
    whole = evaluate_rolls(generator.model, rolls, styles, steps_per_bar=16, window=10_000)
    windows = evaluate_rolls(generator.model, rolls, styles, steps_per_bar=16, window=24)
    assert windows["n_steps"] == whole["n_steps"] == sum(len(r) for r in rolls)
    assert windows["loss"] == pytest.approx(whole["loss"], rel=1e-5)
    assert windows["play_f1"] == pytest.approx(whole["play_f1"])


def tiny_generator(family_name: str, pieces, **overrides):
    family = get_family(family_name)
    model, training = resolve_options(family, preset="tiny", overrides=overrides)
    torch.manual_seed(0)
    return family, family.build(model, pieces), TrainingConfig(**training)


@pytest.mark.slow
@pytest.mark.parametrize("family_name", ["biaxial-lstm", "deepj"])
def test_a_tiny_model_overfits_one_chorale(family_name):
    pieces = [chorale()]
    _, generator, training = tiny_generator(
        family_name, pieces, steps=100, eval_every=50, checkpoint_every=0, window=32
    )
    result = generator.fit(pieces, pieces, training)
    first, last = result.history[0]["valid"], result.history[-1]["valid"]
    assert last["loss"] < 0.5 * first["loss"]
    assert last["play_f1"] > 0.5  # it now predicts most of the chorale's notes from the rest


def test_styles_come_from_labels_and_mixtures_are_normalised():
    table = StyleTable.from_pieces(two_style_pieces())
    assert table.names == ["bach", "folk"]
    assert table.mixture({"bach": 2, "folk": 2}).tolist() == [0.5, 0.5]
    assert table.mixture(None).tolist() == [0.5, 0.5]
    assert parse_style_mixture("Bach=0.25, folk=0.75") == {"bach": 0.25, "folk": 0.75}
    with pytest.raises(ValueError, match="knows: bach, folk"):
        table.mixture({"palestrina": 1})
    with pytest.raises(ValueError, match="at least one weight"):
        table.mixture({"bach": 0})


def test_style_mixtures_change_what_deepj_plays():
    pieces = two_style_pieces()
    _, generator, training = tiny_generator("deepj", pieces, steps=30, checkpoint_every=0)
    generator.fit(pieces, pieces, training)
    kwargs = {"n": 3, "steps": 32, "seed": 4}
    rolls = {
        name: sample_rolls(generator.model, styles=generator.style_table.mixture(mix), **kwargs)
        for name, mix in {
            "bach": {"bach": 1},
            "bach-again": {"bach": 5},  # normalised: the same as bach alone
            "folk": {"folk": 1},
            "mixed": {"bach": 0.5, "folk": 0.5},
        }.items()
    }

    def same(a, b):
        return all(np.array_equal(x, y) for x, y in zip(rolls[a], rolls[b], strict=True))

    assert same("bach", "bach-again")
    assert not same("bach", "folk") and not same("bach", "mixed") and not same("folk", "mixed")
    # every LSTM layer on both axes receives the style: each projection gets a gradient
    generator.model.train()
    rolls_t = random_rolls(batch=2, steps=4)
    _, logits = forward(generator.model, rolls_t, torch.tensor([[1.0, 0.0], [0.3, 0.7]]))
    logits.sum().backward()
    for key, projection in generator.model.style_projections.items():
        assert projection.weight.grad.abs().sum() > 0, key


@pytest.mark.slow
@pytest.mark.parametrize("family_name", ["biaxial-lstm", "deepj"])
def test_generation_is_reproducible_and_independent_of_the_batch(family_name):
    _, generator, _ = tiny_generator(family_name, [chorale()])
    first = generator.sample(3, 24, seed=11)
    again = generator.sample(3, 24, seed=11)
    other_seed = generator.sample(3, 24, seed=12)
    alone = generator.sample(1, 24, seed=11)
    notes = [[(n.pitch, n.start, n.end, n.velocity) for n in m.instruments[0].notes] for m in first]
    assert notes == [
        [(n.pitch, n.start, n.end, n.velocity) for n in m.instruments[0].notes] for m in again
    ]
    assert notes[0] == [
        (n.pitch, n.start, n.end, n.velocity) for n in alone[0].instruments[0].notes
    ]
    assert notes != [
        [(n.pitch, n.start, n.end, n.velocity) for n in m.instruments[0].notes] for m in other_seed
    ]
    assert all(notes), "an untrained tiny model still plays something"


def test_deepj_samples_carry_dynamics_from_its_head():
    _, generator, _ = tiny_generator("deepj", two_style_pieces())
    with torch.no_grad():
        generator.model.head.bias[0] = 3.0  # play often
        generator.model.head.bias[2] = 0.0  # velocity sigmoid(0) = 0.5 -> MIDI 64 at start
    midi = generator.sample(1, 16, seed=0)[0]
    velocities = {note.velocity for note in midi.instruments[0].notes}
    assert len(velocities) > 1 and 30 < np.median(list(velocities)) < 100


def _longest_silences(generator, adaptive: bool) -> list[int]:
    rolls = sample_rolls(
        generator.model, n=8, steps=96, styles=np.zeros(0), adaptive_temperature=adaptive, seed=3
    )
    runs = []
    for roll in rolls:
        longest = current = 0
        for silent in ~roll[..., PLAY].any(-1):
            current = current + 1 if silent else 0
            longest = max(longest, current)
        runs.append(longest)
    return runs


@pytest.mark.slow
def test_adaptive_temperature_shortens_silences():
    _, generator, _ = tiny_generator("biaxial-lstm", [chorale()])
    with torch.no_grad():
        generator.model.head.weight.zero_()
        generator.model.head.bias[0] = -6.0  # each note plays with p = 0.0025: mostly silence
    fixed, adaptive = _longest_silences(generator, False), _longest_silences(generator, True)
    # At T = 1 a step is silent with p = (1 - 0.0025)^48 = 0.89; after 10 silent steps T = 2 and
    # p = (1 - sigmoid(-3))^48 = 0.10, so adaptive silences end within about a dozen steps.
    assert np.mean(fixed) > 15
    assert max(adaptive) <= 20 and np.mean(adaptive) < np.mean(fixed) / 2


@pytest.mark.slow
def test_a_primer_opens_the_sample():
    piece = chorale()
    _, generator, _ = tiny_generator("biaxial-lstm", [piece])
    primer = QuantizedPiece(piece.notes[piece.notes[:, 1] < 16], tempo_qpm=90)
    midi = generator.sample(2, 16, seed=0, primer=primer, tempo_qpm=90)[0]
    opening = sorted(
        (n.pitch, round(n.start * 90 / 60 * 4))
        for n in midi.instruments[0].notes
        if n.start < 16 * 60 / 90 / 4 - 1e-6
    )
    expected = sorted((int(p), int(s)) for p, s in primer.notes[:, [0, 1]] if 36 <= p <= 83)
    assert opening == expected
    assert midi.get_end_time() > 16 * 60 / 90 / 4  # and it goes on after the primer


@pytest.mark.parametrize("family_name", ["biaxial-lstm", "deepj"])
def test_checkpoints_reload_with_the_same_outputs(tmp_path, family_name):
    family, generator, _ = tiny_generator(family_name, two_style_pieces())
    generator.save(tmp_path / "model.pt", step=3)
    loaded = family.load(tmp_path / "model.pt")
    assert loaded.styles == generator.styles
    rolls = random_rolls(batch=1, steps=4)
    styles = torch.from_numpy(generator.style_table.mixture(None))[None]
    assert torch.equal(
        forward(generator.model.eval(), rolls, styles)[1], forward(loaded.model, rolls, styles)[1]
    )


@pytest.mark.slow
def test_new_styles_extend_deepj_and_keep_the_known_ones():
    _, generator, _ = tiny_generator("deepj", two_style_pieces())
    before = generator.model.style_embedding.weight.detach().clone()
    piece = chorale()
    new_pieces = [replace(piece, extra={"style": label}) for label in ("Folk", " jazz")]
    assert generator.add_styles_of(new_pieces) == ["jazz"]
    assert generator.styles == ["bach", "folk", "jazz"]
    after = generator.model.style_embedding.weight.detach()
    assert after.shape == (before.shape[0], 3) and torch.equal(after[:, :2], before)


@pytest.mark.slow
def test_models_without_styles_learn_none():
    _, generator, _ = tiny_generator("biaxial-lstm", [chorale()])
    assert generator.add_styles_of(two_style_pieces()) == [] and generator.styles == []


@pytest.mark.slow
def test_fine_tuning_resets_only_the_dense_head():
    _, generator, _ = tiny_generator("biaxial-lstm", [chorale()])
    head = generator.model.head.weight.detach().clone()
    time_axis = generator.model.time_layers[0].weight_ih_l0.detach().clone()
    generator.reset_head()
    assert not torch.equal(generator.model.head.weight, head)
    assert torch.equal(generator.model.time_layers[0].weight_ih_l0, time_axis)


def test_pieces_outside_the_range_are_left_out_with_a_clear_error():
    high = QuantizedPiece(np.array([[100, 0, 8, 80, 0], [102, 8, 16, 80, 0]]))
    _, generator, training = tiny_generator("biaxial-lstm", [high])
    assert encode_rolls(generator.encoding, [high]) == []
    with pytest.raises(ValueError, match=r"MIDI 36\.\.83"):
        generator.fit([high], [high], training)


def test_options_are_checked_before_any_work():
    family = get_family("deepj")
    with pytest.raises(ValueError, match="unknown deepj options"):
        family.split_options({"hidden_size": 3})
    with pytest.raises(ValueError, match="layer sizes"):
        family.split_options({"time_sizes": []})
