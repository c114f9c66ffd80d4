"""Biaxial LSTM and DeepJ through commands and pages: styles from datasets, transfer, sampling."""

import shutil

import pytest
import torch
from django.core.management import CommandError, call_command

from generation.models import Checkpoint, Dataset, Job, SampleSet, TrainingRun
from generation.services.corpora import import_midi_folder
from tests.conftest import run_command

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_styles(js_fakes, tmp_path):
    """Two datasets of js-fakes under two style labels: 'fakes' (named after the dataset) and
    'second' (given at import), with no file in both."""
    import_midi_folder(js_fakes, name="fakes", limit=30, workers=1)
    folder = tmp_path / "second"
    folder.mkdir()
    for path in sorted(js_fakes.glob("*.mid"))[-30:]:
        shutil.copy(path, folder / path.name)
    import_midi_folder(folder, name="second", style="Second", workers=1)
    return Dataset.objects.get(name="fakes"), Dataset.objects.get(name="second")


def train_tiny(family: str, *datasets: str, steps: int = 12, extra=()) -> TrainingRun:
    arguments = ["train", "--model", family, "--preset", "tiny", "--steps", str(steps)]
    for name in datasets:
        arguments += ["--dataset", name]
    run_command(*arguments, "--set", "checkpoint_every=6", *extra)
    return TrainingRun.objects.order_by("-pk").first()


def test_deepj_trains_on_two_datasets_and_learns_their_styles(two_styles):
    run = train_tiny("deepj", "fakes", "second")
    assert run.status == "succeeded" and [d.name for d in run.datasets] == ["fakes", "second"]
    assert run.info["train_pieces"] == sum(
        d.pieces.filter(split="train").count() for d in two_styles
    )
    last = run.checkpoints.get(step=12)
    valid = last.metrics["valid"]
    for key in ("play_loss", "replay_loss", "dynamics_loss", "play_f1", "frame_accuracy"):
        assert key in valid
    assert valid["loss"] == pytest.approx(
        valid["play_loss"] + valid["replay_loss"] + valid["dynamics_loss"]
    )
    assert last.metric("valid", "loss") < run.checkpoints.get(step=0).metric("valid", "loss")
    payload = torch.load(last.path, weights_only=True)
    assert payload["styles"] == ["fakes", "second"]  # the dataset name, and the label given


def test_models_page_lists_every_dataset_and_the_best_checkpoint(two_styles, staff_client):
    import re

    run = train_tiny("deepj", "fakes", "second")
    # Training overfits: the last checkpoint's validation loss is not the best one.
    for checkpoint, loss in zip(run.checkpoints.order_by("step"), [3.5, 2.25, 2.75], strict=False):
        checkpoint.metrics = {**checkpoint.metrics, "valid": {"loss": loss}}
        checkpoint.save(update_fields=["metrics"])
    best = run.checkpoints.get(step=6)
    assert run.checkpoints.order_by("-step").first().metrics["valid"]["loss"] == 2.75

    page = staff_client.get("/models/").content.decode()
    datasets = re.search(r'<td data-testid="run-datasets">(.*?)</td>', page).group(1)
    assert re.sub(r"<[^>]+>", "", datasets) == "fakes, second"
    cell = re.search(r'<td class="num" data-testid="best-loss">(.*?)</td>', page).group(1)
    assert re.sub(r"<[^>]+>", "", cell) == "2.250 at step 6"
    assert f'href="{best.get_absolute_url()}"' in cell


def test_biaxial_reports_articulate_loss_and_evaluates_on_test(two_styles):
    run = train_tiny("biaxial-lstm", "fakes")
    checkpoint = run.checkpoints.order_by("-step").first()
    assert "articulate_loss" in checkpoint.metrics["valid"]
    assert "replay_loss" not in checkpoint.metrics["valid"]
    run_command("evaluate", str(checkpoint.pk))
    checkpoint.refresh_from_db()
    assert checkpoint.metrics["test"]["n_steps"] > 0
    assert 0 <= checkpoint.metrics["test"]["frame_accuracy"] <= 1


def test_generate_with_a_style_mixture_and_refusals(two_styles):
    run = train_tiny("deepj", "fakes", "second")
    checkpoint = run.checkpoints.order_by("-step").first()
    output = run_command(
        "generate", "--checkpoint", str(checkpoint.pk), "--n", "2", "--bars", "1",
        "--style", "fakes=1,second=3", "--seed", "5",
    )  # fmt: skip
    mixed = SampleSet.objects.get()
    assert mixed.name in output
    assert mixed.settings["sampling"]["style"] == {"fakes": 1.0, "second": 3.0}
    assert all(sample.n_notes > 0 for sample in mixed.samples.all())
    run_command(
        "generate", "--checkpoint", str(checkpoint.pk), "--n", "2", "--bars", "1",
        "--style", "fakes", "--seed", "5",
    )  # fmt: skip
    pure = SampleSet.objects.exclude(pk=mixed.pk).get()
    assert sorted(pure.samples.values_list("midi_sha256", flat=True)) != sorted(
        mixed.samples.values_list("midi_sha256", flat=True)
    )
    with pytest.raises(CommandError, match="knows: fakes, second"):
        call_command("generate", "--checkpoint", str(checkpoint.pk), "--style", "jazz=1")
    melody = train_tiny("melody-rnn", "fakes", steps=2).checkpoints.first()
    with pytest.raises(CommandError, match="no styles"):
        call_command("generate", "--checkpoint", str(melody.pk), "--style", "fakes")
    assert SampleSet.objects.count() == 2


@pytest.mark.parametrize("transfer", ["extended", "fine-tune"])
def test_transfer_runs_record_their_parent_and_keep_its_layers(two_styles, transfer):
    parent = train_tiny("biaxial-lstm", "fakes").checkpoints.order_by("-step").first()
    run_command(
        "train", "--from-checkpoint", str(parent.pk), "--transfer", transfer,
        "--dataset", "second", "--preset", "tiny", "--steps", "6",
    )  # fmt: skip
    child = TrainingRun.objects.order_by("-pk").first()
    assert child.parent == parent and child.transfer == transfer
    assert child.options == parent.options and child.status == "succeeded"
    assert f"{transfer} from checkpoint {parent.pk}" in child.label
    before = torch.load(parent.path, weights_only=True)["state_dict"]
    start = torch.load(child.checkpoints.get(step=0).path, weights_only=True)["state_dict"]
    changed = {key for key in before if not torch.equal(before[key], start[key])}
    assert changed == (set() if transfer == "extended" else {"head.weight", "head.bias"})


def test_transfer_refuses_model_changes_and_other_families(two_styles):
    parent = train_tiny("biaxial-lstm", "fakes").checkpoints.order_by("-step").first()
    runs = TrainingRun.objects.count()
    with pytest.raises(CommandError, match="keeps the parent's model"):
        call_command(
            "train", "--from-checkpoint", str(parent.pk), "--dataset", "second",
            "--set", "time_sizes=[4]",
        )  # fmt: skip
    with pytest.raises(CommandError, match="not a deepj"):
        call_command(
            "train", "--from-checkpoint", str(parent.pk), "--model", "deepj", "--dataset", "second"
        )
    with pytest.raises(CommandError, match="no checkpoint 999"):
        call_command("train", "--from-checkpoint", "999", "--dataset", "second")
    assert TrainingRun.objects.count() == runs


def test_checkpoint_page_shows_piano_roll_metrics_and_offers_styles(
    two_styles, staff_client, django_capture_on_commit_callbacks
):
    run = train_tiny("deepj", "fakes", "second")
    checkpoint = run.checkpoints.order_by("-step").first()
    page = staff_client.get(checkpoint.get_absolute_url()).content.decode()
    assert "Play F1" in page and "Frame accuracy" in page and "Dynamics loss" in page
    assert "fakes, second" in page and 'name="style"' in page
    assert 'name="adaptive_temperature"' in page
    assert "Perplexity" not in page  # no token metrics for a piano-roll model
    run_page = staff_client.get(run.get_absolute_url()).content.decode()
    assert "Play F1" in run_page and "metric=play_f1" in run_page
    curve = staff_client.get(f"/runs/{run.pk}/curve.svg?metric=play_f1")
    assert curve.status_code == 200 and b"<svg" in curve.content

    form = {
        "n": "2", "bars": "1", "temperature": "1", "seed": "0", "tempo_qpm": "100",
        "program": "0", "primer_bars": "2",
    }  # fmt: skip
    bad = staff_client.post(f"/checkpoints/{checkpoint.pk}/generate/", {**form, "style": "jazz"})
    assert bad.status_code == 400 and "knows: fakes, second" in bad.content.decode()
    assert not Job.objects.exists() and not SampleSet.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            f"/checkpoints/{checkpoint.pk}/generate/", {**form, "style": "second=1"}
        )  # the unticked adaptive-temperature box turns it off
    sample_set = SampleSet.objects.get()
    assert sample_set.settings["sampling"]["style"] == {"second": 1.0}
    assert sample_set.settings["sampling"]["adaptive_temperature"] is False
    set_page = staff_client.get(sample_set.get_absolute_url()).content.decode()
    assert "--style second=1" in set_page and "--no-adaptive-temperature" in set_page


def test_melody_checkpoint_page_offers_no_style(two_styles, staff_client):
    checkpoint = train_tiny("melody-rnn", "fakes", steps=2).checkpoints.first()
    page = staff_client.get(checkpoint.get_absolute_url()).content.decode()
    assert 'name="style"' not in page and 'name="adaptive_temperature"' not in page
    assert "Perplexity" in page and "Play F1" not in page
    assert Checkpoint.objects.filter(family="melody-rnn").exists()


def test_train_form_takes_several_datasets_once(
    two_styles, staff_client, django_capture_on_commit_callbacks
):
    form = {
        "model": "deepj:basic", "preset": "tiny", "dataset": "fakes",
        "more_datasets": ["second"], "steps": "4", "seed": "0",
    }  # fmt: skip
    staff_client.post("/models/train/", form)  # queued, as when the worker is busy
    again = staff_client.post("/models/train/", form)
    run = TrainingRun.objects.get()
    assert again["Location"] == f"/runs/{run.pk}/"
    assert [d.name for d in run.datasets] == ["fakes", "second"]
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post("/models/train/", {**form, "more_datasets": [], "seed": "1"})
    single = TrainingRun.objects.exclude(pk=run.pk).get()
    assert single.status == "succeeded" and [d.name for d in single.datasets] == ["fakes"]
    page = staff_client.get("/models/train/").content.decode()
    assert "deep-jammer-large" in page and 'name="more_datasets"' in page


def test_checkpoint_page_continues_training_on_other_data(
    two_styles, staff_client, django_capture_on_commit_callbacks
):
    parent = train_tiny("deepj", "fakes").checkpoints.order_by("-step").first()
    url = f"/checkpoints/{parent.pk}/continue/"
    form = {"dataset": "second", "transfer": "fine-tune", "steps": "4", "seed": "0"}
    tampered = staff_client.post(url, {**form, "transfer": "forget-everything"})
    assert tampered.status_code == 400 and TrainingRun.objects.count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(url, form)
    child = TrainingRun.objects.exclude(pk=parent.run_id).get()
    assert response["Location"] == f"/runs/{child.pk}/"
    assert child.status == "succeeded" and child.parent == parent and child.preset == "tiny"
    assert torch.load(child.checkpoints.last().path, weights_only=True)["styles"] == [
        "fakes",
        "second",
    ]  # the new dataset's style learnt beside the old one
    page = staff_client.get(f"/runs/{child.pk}/").content.decode()
    assert "fine-tuning (output layer re-initialised)" in page
    markov = train_tiny("markov", "fakes", steps=1).checkpoints.last()
    refused = staff_client.post(f"/checkpoints/{markov.pk}/continue/", form)
    assert refused.status_code == 400 and "counted, not trained" in refused.content.decode()
