"""The JSB Chorales benchmark: the data, its baselines by hand, a model's likelihood by hand,
transposition augmentation, and the dataset import and `evaluate --benchmark jsb`."""

import math

import numpy as np
import pytest
import torch
from django.core.management import CommandError

from generation.evaluation.jsb_chorales import (
    KEYS,
    LOWEST_KEY,
    IndependentBernoulli,
    KeyMarkov,
    chorale_piece,
    chorale_pieces,
    frame_count,
    frames_to_roll,
    load_jsb,
    roll_model_likelihood,
    token_model_likelihood,
    train_model,
    uniform,
)
from generation.zoo import get_family
from generation.zoo.piano_roll_base import PLAY, StyleTable, with_transpositions
from generation.zoo.trainer import TrainingCallback, TrainingConfig
from tests.conftest import run_command


def chorale(*frames_of_pitches) -> np.ndarray:
    frames = np.zeros((len(frames_of_pitches), KEYS), dtype=np.uint8)
    for step, pitches in enumerate(frames_of_pitches):
        for pitch in pitches:
            frames[step, pitch - LOWEST_KEY] = 1
    return frames


def test_the_standard_split_is_there_as_its_readme_counts_it():
    splits = load_jsb()
    assert [len(splits[s]) for s in ("train", "valid", "test")] == [229, 76, 77]
    assert [frame_count(splits[s]) for s in ("train", "valid", "test")] == [13807, 4602, 4725]
    assert all(c.shape[1] == 88 for c in splits["test"])
    # The uniform model: every key a fair coin, 88 ln 2 nats a frame.
    assert uniform(splits["test"]).nats_per_frame == pytest.approx(88 * math.log(2))


def test_the_baselines_match_counts_by_hand():
    train = [chorale([60], [60, 64], [64]), chorale([60])]  # 4 frames
    # Bernoulli, add-one: key 60 on in 3 of 4 frames -> 4/6; key 64 in 2 -> 3/6; others 1/6.
    bernoulli = IndependentBernoulli.fit(train)
    assert bernoulli.probability[60 - LOWEST_KEY] == pytest.approx(4 / 6)
    assert bernoulli.probability[64 - LOWEST_KEY] == pytest.approx(3 / 6)
    assert bernoulli.probability[0] == pytest.approx(1 / 6)
    test = [chorale([60], [64])]
    by_hand = -(
        math.log(4 / 6)
        + math.log(1 - 3 / 6)  # frame 1: 60 on, 64 off
        + math.log(1 - 4 / 6)
        + math.log(3 / 6)  # frame 2: 60 off, 64 on
        + 2 * 86 * math.log(1 - 1 / 6)  # the other 86 keys off, twice
    )
    assert bernoulli.score(test).nats_per_frame == pytest.approx(by_hand / 2)

    # Markov, add-one: 2 transitions in train (the second chorale has one frame).
    # Key 60: on->on once, on->off once (on before, twice): P(on|on) = 2/4.
    # Key 64: off->on once, on->on once: P(on|off) = 2/3, P(on|on) = 2/3.
    markov = KeyMarkov.fit(train)
    assert markov.after_on[60 - LOWEST_KEY] == pytest.approx(2 / 4)
    assert markov.after_off[64 - LOWEST_KEY] == pytest.approx(2 / 3)
    assert markov.after_on[64 - LOWEST_KEY] == pytest.approx(2 / 3)
    assert markov.after_off[0] == pytest.approx(1 / 4)  # off in both transitions
    first = IndependentBernoulli.fit([train[0][:1], train[1][:1]])  # both open with 60
    transition = -(
        math.log(1 - 2 / 4)  # 60 on -> off
        + math.log(2 / 3)  # 64 off -> on
        + 86 * math.log(1 - 1 / 4)
    )
    opening = float(first.key_nll([test[0][:1]]).sum())
    assert markov.score(test).nats_per_frame == pytest.approx((opening + transition) / 2)


def test_a_models_likelihood_is_its_own_play_probabilities_summed_by_hand():
    torch.manual_seed(0)
    family = get_family("biaxial-lstm")
    options = {"low_pitch": 55, "n_notes": 20, "steps_per_bar": 4}
    model = family.make_model({**options, "time_sizes": [8], "note_sizes": [4]}, StyleTable([]))
    model.eval()
    test = [chorale([60, 67], [62], [62, 70], [60]), chorale([57], [59, 64])]
    outside = IndependentBernoulli.fit(load_jsb()["train"])
    score = roll_model_likelihood(model, test, name="tiny", outside=outside)

    total = 0.0
    with torch.no_grad():
        for frames in test:
            roll = torch.from_numpy(frames_to_roll(frames, 55, 20))[None]
            previous = torch.cat([torch.zeros_like(roll[:, :1]), roll[:, :-1]], dim=1)
            beats = torch.arange(len(frames))[None] % 4
            features, _ = model.time_axis(previous, beats, torch.zeros(1, 0), None)
            logits = model.note_axis(features, roll, torch.zeros(1, 0))[..., 0]
            play = roll[..., PLAY]
            total -= float(
                (play * torch.nn.functional.logsigmoid(logits)).sum()
                + ((1 - play) * torch.nn.functional.logsigmoid(-logits)).sum()
            )
    missing = np.ones(KEYS, dtype=bool)
    missing[55 - LOWEST_KEY : 75 - LOWEST_KEY] = False
    total += float(outside.key_nll(test)[missing].sum())
    assert score.nats_per_frame == pytest.approx(total / 6, rel=1e-5)
    assert "68 keys outside its range" in score.note


def test_transposition_augmentation_keeps_every_shift_that_stays_in_range():
    roll = np.zeros((3, 10, 4), dtype=np.float32)
    roll[:, 1, PLAY] = 1  # note 1 sounds: shifts -1..+8 stay in a 10-note range
    roll[0, 7, PLAY] = 1  # and note 7 once: now -1..+2
    moved, styles = with_transpositions([roll], np.zeros((1, 0), np.float32), 3)
    assert len(moved) == 4 and styles.shape == (4, 0)
    assert moved[0] is roll  # the piece itself first
    lowest = sorted(int(np.flatnonzero(m[..., PLAY].any(axis=0))[0]) for m in moved)
    assert lowest == [0, 1, 2, 3]


def test_training_with_augmentation_learns_from_every_transposition():
    class Info(TrainingCallback):
        def on_start(self, total_steps, info):
            self.info = info

    splits = {"train": load_jsb()["train"][:3], "valid": load_jsb()["valid"][:2]}
    info = Info()
    config = TrainingConfig(steps=2, batch_size=2, window=8, augment_transpose=2)
    options = {"time_sizes": [8], "note_sizes": [4]}
    generator = train_model(
        get_family("biaxial-lstm"), options, config, splits=splits, callbacks=[info]
    )
    assert info.info["train_pieces"] == 15  # 3 chorales x 5 shifts, all on the keyboard
    assert generator.model.config.n_notes == 88 and generator.model.config.steps_per_bar == 4


def test_a_token_model_refuses_transposition_augmentation():
    family = get_family("melody-rnn")
    pieces = [chorale_piece(load_jsb()["train"][0], title="one")]
    generator = family.build({"hidden_size": 8, "num_layers": 1}, pieces)
    with pytest.raises(ValueError, match="augment_transpose is for the piano-roll families"):
        generator.fit(pieces, pieces, TrainingConfig(steps=1, augment_transpose=2))


def test_a_chorale_becomes_a_piece_with_held_frames_merged():
    piece = chorale_piece(chorale([60, 64], [60, 65], [], [60]), title="t")
    notes = sorted(map(tuple, piece.notes[:, :3].tolist()))
    assert notes == [(60, 0, 8), (60, 12, 16), (64, 0, 4), (65, 4, 8)]


@pytest.mark.django_db
def test_the_split_imports_as_a_dataset_and_a_checkpoint_is_scored_on_its_test_chorales(
    tmp_path, client, django_user_model
):
    from generation.models import Checkpoint, Dataset
    from generation.services.training import import_checkpoint

    run_command("import_corpus", "jsb-chorales")
    dataset = Dataset.objects.get(name="jsb-chorales")
    counts = {s: dataset.pieces.filter(split=s).count() for s in ("train", "valid", "test")}
    assert counts == {"train": 229, "valid": 76, "test": 77}
    assert dataset.pieces.get(identifier="test/000").n_steps == 4 * len(load_jsb()["test"][0])
    run_command("import_corpus", "jsb-chorales")  # again: replaced, not doubled
    assert dataset.pieces.count() == 382

    torch.manual_seed(0)
    splits = {"train": load_jsb()["train"][:2], "valid": load_jsb()["valid"][:1]}
    generator = train_model(
        get_family("biaxial-lstm"),
        {"time_sizes": [8], "note_sizes": [4]},
        TrainingConfig(steps=1, batch_size=2, window=8),
        splits=splits,
    )
    generator.save(tmp_path / "jsb.pt", step=1)
    checkpoint = import_checkpoint(tmp_path / "jsb.pt", family="biaxial-lstm", dataset=dataset)
    output = run_command("evaluate", str(checkpoint.pk), "--benchmark", "jsb")
    checkpoint.refresh_from_db()
    stored = checkpoint.metrics["jsb_chorales"]
    expected = roll_model_likelihood(
        generator.model,
        load_jsb()["test"],
        name="x",
        outside=IndependentBernoulli.fit(load_jsb()["train"]),
    )
    assert stored["nats_per_frame"] == pytest.approx(expected.nats_per_frame, rel=1e-6)
    assert stored["frames"] == 4725 and f"{expected.nats_per_frame:.3f} nats per frame" in output

    staff = django_user_model.objects.create_superuser("boss", "", "pw")
    client.force_login(staff)
    page = client.get(checkpoint.get_absolute_url()).content.decode()
    assert f"<strong>{expected.nats_per_frame:.3f}</strong> nats per quarter-note frame" in page

    pieces = [chorale_piece(frames, title="c") for frames in load_jsb()["train"][:3]]
    get_family("markov").build({}, pieces).save(tmp_path / "markov.pt")
    melody = import_checkpoint(tmp_path / "markov.pt", family="markov")
    with pytest.raises(CommandError, match="scores piano-roll models"):
        run_command("evaluate", str(melody.pk), "--benchmark", "jsb")
    assert "jsb_chorales" not in Checkpoint.objects.get(pk=melody.pk).metrics


def test_a_token_models_likelihood_is_its_event_streams_log_probability_per_frame():
    test = list(load_jsb()["test"][:2])
    family = get_family("music-transformer")
    torch.manual_seed(0)
    pieces = chorale_pieces(load_jsb()["train"][:3], transpose=1)
    assert len(pieces) == 9  # each chorale, a semitone up and down
    generator = family.build(
        {
            "encoding": "performance-events",
            "d_model": 16,
            "n_layers": 1,
            "n_heads": 2,
            "d_ff": 16,
            "dropout": 0.0,
        },
        pieces,
    )
    generator.model.eval()
    score = token_model_likelihood(generator, test, name="tiny")

    counts = generator.first_token_counts + 1.0
    total = 0.0
    with torch.no_grad():
        for frames in test:
            tokens = generator.codec.encode_piece(chorale_piece(frames, title=""))
            log_probs = torch.log_softmax(
                generator.model(torch.from_numpy(tokens[None]))[0][0].double(), dim=-1
            )
            total -= float(log_probs[:-1].gather(1, torch.from_numpy(tokens[1:, None])).sum())
            total -= float(np.log(counts[tokens[0]] / counts.sum()))
    assert score.nats_per_frame == pytest.approx(total / frame_count(test), rel=1e-6)
