"""Training, checkpoints, samples and their pages, through commands and HTTP, checked in the database."""

import hashlib
import io
import sys
import textwrap

import pretty_midi
import pytest
import torch
from django.core.management import CommandError, call_command

from generation.models import (
    Checkpoint,
    CrossValidation,
    Job,
    Piece,
    Sample,
    SampleSet,
    TrainingRun,
)
from generation.services.corpora import import_midi_folder
from generation.services.training import families
from generation.zoo import ENTRY_POINT_GROUP
from tests.conftest import copy_midi, run_command, wait_for_js

pytestmark = pytest.mark.django_db


@pytest.fixture
def fakes(js_fakes):
    """60 js-fake chorales: about 48 train, 6 valid and 6 test pieces."""
    import_midi_folder(js_fakes, name="fakes", limit=60, workers=1)
    from generation.models import Dataset

    return Dataset.objects.get(name="fakes")


def test_train_command_keeps_checkpoints_with_metrics(fakes, settings):
    output = run_command(
        "train",
        "--model",
        "melody-rnn",
        "--config",
        "attention",
        "--dataset",
        "fakes",
        "--preset",
        "tiny",
        "--steps",
        "20",
        "--set",
        "checkpoint_every=10",
    )
    run = TrainingRun.objects.get()
    assert run.status == "succeeded" and run.step == 20 and f"run {run.pk} finished" in output
    assert run.options["attention_length"] == 40
    steps = list(run.checkpoints.values_list("step", flat=True))
    assert steps == [0, 10, 20]
    first, last = run.checkpoints.get(step=0), run.checkpoints.get(step=20)
    assert last.metric("valid", "loss") < first.metric("valid", "loss")
    assert 0 <= last.metric("valid", "note_event_accuracy") <= 1
    assert last.metric("train", "loss") is not None
    for checkpoint in run.checkpoints.all():
        assert checkpoint.path.is_file()
        assert hashlib.sha256(checkpoint.path.read_bytes()).hexdigest() == checkpoint.sha256
        assert checkpoint.code_version
    assert [entry["step"] for entry in run.history] == [0, 10, 20]


def test_train_command_refuses_bad_options_before_training(fakes):
    with pytest.raises(CommandError, match="hidden_sise"):
        call_command(
            "train", "--model", "melody-rnn", "--dataset", "fakes", "--set", "hidden_sise=3"
        )
    with pytest.raises(CommandError, match="no model family 'lstm'"):
        call_command("train", "--model", "lstm", "--dataset", "fakes")
    with pytest.raises(CommandError, match="no dataset 'nope'"):
        call_command("train", "--model", "markov", "--dataset", "nope")
    with pytest.raises(CommandError, match="learning_rate must be > 0"):
        call_command("train", "--model", "markov", "--dataset", "fakes", "--set", "learning_rate=0")
    assert not TrainingRun.objects.exists()


def test_generate_is_reproducible_and_not_duplicated(fakes, staff_client):
    run_command(
        "train",
        "--model",
        "note-tuple-lstm",
        "--config",
        "peephole",
        "--dataset",
        "fakes",
        "--preset",
        "tiny",
    )
    checkpoint = Checkpoint.objects.order_by("-step").first()
    primer = Piece.objects.filter(dataset=fakes, split="test").first()
    args = [
        "generate",
        "--checkpoint",
        str(checkpoint.pk),
        "--n",
        "4",
        "--bars",
        "4",
        "--seed",
        "3",
        "--primer-piece",
        str(primer.pk),
        "--tempo",
        "90",
        "--program",
        "19",
    ]
    run_command(*args)
    sample_set = SampleSet.objects.get()
    digests = list(sample_set.samples.order_by("index").values_list("midi_sha256", flat=True))
    assert len(digests) == 4 and len(set(digests)) > 1
    run_command(*args)  # the same request again: the stored set, not a second one
    assert SampleSet.objects.count() == 1 and Sample.objects.count() == 4
    page = staff_client.get(sample_set.get_absolute_url()).content.decode()
    assert f"--primer-piece {primer.pk} --primer-bars 2" in page and "first 2" in page

    midi = pretty_midi.PrettyMIDI(str(sample_set.samples.first().path))
    assert midi.instruments[0].program == 19
    assert midi.get_tempo_changes()[1][0] == pytest.approx(
        90, abs=0.01
    )  # MIDI stores whole microseconds
    # Primer 2 bars + 4 bars at 90 qpm = 24 quarter notes = 16 s at most.
    assert midi.get_end_time() <= 16 + 1e-6

    # Drawn again from scratch, the same settings give the same files.
    sample_set.delete()
    run_command(*args)
    again = list(
        SampleSet.objects.get().samples.order_by("index").values_list("midi_sha256", flat=True)
    )
    assert again == digests


def test_generate_refuses_bad_requests(fakes, tmp_path):
    run_command(
        "train", "--model", "markov", "--config", "events", "--dataset", "fakes", "--preset", "tiny"
    )
    checkpoint = Checkpoint.objects.last()
    with pytest.raises(CommandError, match="temperature must be > 0"):
        call_command("generate", "--checkpoint", str(checkpoint.pk), "--temperature", "0")
    broken = tmp_path / "broken.mid"
    broken.write_bytes(b"MThd\x00\x00\x00\x06garbage")
    with pytest.raises(CommandError, match="primer MIDI file cannot be used"):
        call_command("generate", "--checkpoint", str(checkpoint.pk), "--primer-midi", str(broken))
    with pytest.raises(CommandError, match="no checkpoint 999"):
        call_command("generate", "--checkpoint", "999")
    assert not SampleSet.objects.exists()


def test_evaluate_command_stores_test_metrics(fakes):
    run_command(
        "train", "--model", "markov", "--config", "tuples", "--dataset", "fakes", "--preset", "tiny"
    )
    checkpoint = Checkpoint.objects.get(step=1)
    assert "test" not in checkpoint.metrics
    output = run_command("evaluate", str(checkpoint.pk), "--split", "test")
    checkpoint.refresh_from_db()
    assert checkpoint.metrics["test"]["loss"] > 0 and f"checkpoint {checkpoint.pk} (test)" in output
    assert checkpoint.metrics["test"]["n_events"] > 0


def test_crossval_holds_every_piece_out_once(fakes):
    output = run_command(
        "crossval",
        "--model",
        "markov",
        "--config",
        "events",
        "--dataset",
        "fakes",
        "--preset",
        "tiny",
        "--k",
        "3",
    )
    result = CrossValidation.objects.get()
    pieces = Piece.objects.filter(dataset=fakes, split__in=["train", "valid"]).count()
    assert len(result.folds) == 3
    assert sum(fold["held_out_pieces"] for fold in result.folds) == pieces
    assert all(fold["train_pieces"] + fold["held_out_pieces"] == pieces for fold in result.folds)
    assert result.mean_loss == pytest.approx(sum(f["loss"] for f in result.folds) / 3)
    assert "3-fold CV loss" in output


def test_import_samples_makes_a_system_and_skips_broken_files(js_fakes, tmp_path):
    folder = tmp_path / "my-model-output"
    for name in ("3.mid", "4.mid", "5.mid"):
        copy_midi(js_fakes / name, folder, name)
    (folder / "half.mid").write_bytes((js_fakes / "6.mid").read_bytes()[:40])
    output = run_command("import_samples", str(folder), "--system", "My Transformer")
    sample_set = SampleSet.objects.get(name="my-transformer")
    assert sample_set.kind == "imported" and sample_set.checkpoint is None
    assert sorted(sample_set.samples.values_list("label", flat=True)) == ["3.mid", "4.mid", "5.mid"]
    assert [s["file"] for s in sample_set.report["skipped"]] == ["half.mid"]
    assert "3 samples imported, 1 skipped" in output
    sample = sample_set.samples.get(label="4.mid")
    assert sample.path.read_bytes() == (js_fakes / "4.mid").read_bytes()
    assert sample.load().n_notes == sample.n_notes > 0

    assert "nothing changed" in run_command(
        "import_samples", str(folder), "--system", "my-transformer"
    )
    copy_midi(js_fakes / "7.mid", folder, "7.mid")
    with pytest.raises(CommandError, match="--replace"):
        call_command("import_samples", str(folder), "--system", "my-transformer")
    run_command("import_samples", str(folder), "--system", "my-transformer", "--replace")
    assert SampleSet.objects.get(name="my-transformer").samples.count() == 4


def test_an_external_family_registered_by_setting_trains_and_samples(fakes, settings):
    settings.MODEL_FAMILIES = ["tests.toy_family.family"]
    run_command("train", "--model", "toy-unigram", "--dataset", "fakes", "--preset", "tiny")
    run = TrainingRun.objects.get()
    assert run.status == "succeeded"
    trained = run.checkpoints.get(step=1)
    assert trained.metric("valid", "loss") < run.checkpoints.get(step=0).metric("valid", "loss")
    run_command("generate", "--checkpoint", str(trained.pk), "--n", "3", "--bars", "2")
    assert SampleSet.objects.get().samples.count() == 3
    run_command("evaluate", str(trained.pk))
    trained.refresh_from_db()
    assert trained.metrics["test"]["loss"] > 0


def test_an_external_family_registers_through_an_entry_point(tmp_path, monkeypatch):
    dist = tmp_path / "toy_earshot_family-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: toy-earshot-family\nVersion: 0.1\n"
    )
    (dist / "entry_points.txt").write_text(
        textwrap.dedent(f"""
        [{ENTRY_POINT_GROUP}]
        toy-unigram = tests.toy_family:UnigramFamily
        """)
    )
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    assert "toy-unigram" in families()
    assert families()["toy-unigram"].title == "Toy unigram (external)"


def test_import_checkpoint_trained_elsewhere(fakes, tmp_path):
    from generation.zoo import get_family, resolve_options

    family = get_family("melody-rnn")
    model_options, _ = resolve_options(family, config="basic", preset="tiny")
    pieces = [p.load() for p in Piece.objects.filter(dataset=fakes, split="train")]
    generator = family.build(model_options, pieces)
    generator.save(tmp_path / "elsewhere.pt")
    output = run_command(
        "import_checkpoint",
        str(tmp_path / "elsewhere.pt"),
        "--family",
        "melody-rnn",
        "--dataset",
        "fakes",
        "--label",
        "trained on a GPU box",
    )
    checkpoint = Checkpoint.objects.get()
    assert checkpoint.run is None and checkpoint.label == "trained on a GPU box"
    assert checkpoint.metric("valid", "loss") > 0 and f"checkpoint {checkpoint.pk}" in output
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(CommandError, match="cannot import"):
        call_command("import_checkpoint", str(tmp_path / "junk.pt"), "--family", "melody-rnn")
    assert Checkpoint.objects.count() == 1


# --- pages ---------------------------------------------------------------------------------


def test_train_form_starts_a_run_and_the_run_page_shows_it(
    staff_client, fakes, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            "/models/train/",
            {
                "model": "melody-rnn:basic",
                "preset": "tiny",
                "dataset": "fakes",
                "steps": "12",
                "seed": "5",
            },
        )
    run = TrainingRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/runs/{run.pk}/"
    assert run.status == "succeeded" and run.seed == 5 and run.job.status == "succeeded"
    page = staff_client.get(f"/runs/{run.pk}/").content.decode()
    assert "note-event accuracy" in page.lower() and 'data-testid="no-event-note"' in page
    assert page.count("<tr") >= 1 + run.checkpoints.count()
    # Options read as a list of names and values, not as a Python dict.
    assert "{'" not in page and ": None" not in page
    assert '<dt title="early_stop_patience">early stop patience</dt><dd>none</dd>' in page
    assert f'<dt title="seed">seed</dt><dd>{run.training["seed"]}</dd>' in page
    assert '<dt title="hidden_size">hidden size</dt>' in page
    curve = staff_client.get(f"/runs/{run.pk}/curve.svg").content.decode()
    assert curve.count("<polyline") == 2  # training and validation
    status = staff_client.get(f"/runs/{run.pk}.json").json()
    assert status["finished"] and status["step"] == 12 and status["evaluations"] == len(run.history)


def test_a_double_submitted_train_form_starts_one_run(staff_client, fakes):
    form = {"model": "markov:events", "preset": "tiny", "dataset": "fakes", "seed": "0"}
    # No on_commit execution: the first run stays queued, as when the worker is busy.
    first = staff_client.post("/models/train/", form)
    second = staff_client.post("/models/train/", form)
    run = TrainingRun.objects.get()
    assert first["Location"] == second["Location"] == f"/runs/{run.pk}/"
    assert run.status == "queued" and run.job is not None


def test_a_tampered_train_form_creates_nothing(staff_client, fakes):
    response = staff_client.post(
        "/models/train/",
        {"model": "melody-rnn:huge", "preset": "tiny", "dataset": "fakes", "seed": "0"},
    )
    assert response.status_code == 400 and b"Select a valid choice" in response.content
    response = staff_client.post(
        "/models/train/",
        {"model": "rm -rf:basic", "preset": "tiny", "dataset": "fakes", "seed": "0"},
    )
    assert response.status_code == 400
    assert not TrainingRun.objects.exists()


def test_model_pages_need_an_experimenter(client, fakes):
    run_command(
        "train", "--model", "markov", "--config", "events", "--dataset", "fakes", "--preset", "tiny"
    )
    checkpoint = Checkpoint.objects.last()
    for url in (
        "/models/",
        f"/runs/{checkpoint.run_id}/",
        f"/checkpoints/{checkpoint.pk}/",
        f"/checkpoints/{checkpoint.pk}/weights.pt",
    ):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/?next="), url


def test_checkpoint_page_evaluates_and_draws_samples(
    staff_client, fakes, django_capture_on_commit_callbacks
):
    run_command(
        "train",
        "--model",
        "melody-rnn",
        "--config",
        "basic",
        "--dataset",
        "fakes",
        "--preset",
        "tiny",
    )
    checkpoint = Checkpoint.objects.order_by("-step").first()
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(f"/checkpoints/{checkpoint.pk}/evaluate/", {"split": "test"})
    checkpoint.refresh_from_db()
    assert checkpoint.metrics["test"]["loss"] > 0

    bad = staff_client.post(
        f"/checkpoints/{checkpoint.pk}/generate/",
        {
            "n": "3",
            "bars": "4",
            "temperature": "0",
            "seed": "0",
            "tempo_qpm": "100",
            "program": "0",
            "primer_bars": "2",
        },
    )
    assert bad.status_code == 400 and not SampleSet.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        drawn = staff_client.post(
            f"/checkpoints/{checkpoint.pk}/generate/",
            {
                "n": "3",
                "bars": "4",
                "temperature": "0.8",
                "seed": "1",
                "tempo_qpm": "100",
                "program": "0",
                "primer_bars": "2",
            },
        )
    sample_set = SampleSet.objects.get()
    assert sample_set.samples.count() == 3 and sample_set.settings["sampling"]["temperature"] == 0.8
    # The same job rendered the audio, and the form ends on the set with a player per sample.
    landed = staff_client.get(drawn["Location"], follow=True)
    assert landed.redirect_chain[-1][0] == sample_set.get_absolute_url()
    page = landed.content.decode()
    assert page.count("<audio controls") == 3 and "not rendered" not in page
    assert "Render audio again" in page  # nothing left to render: no longer the main button
    assert Job.objects.get(kind="generate").result["rendered"] == 3
    assert f"--checkpoint {checkpoint.pk}" in page and "--temperature 0.8" in page
    assert '<dt title="top_k">top-k</dt><dd>none</dd>' in page and "{'" not in page
    midi = staff_client.get(f"/samples/{sample_set.name}/0.mid")
    assert midi.status_code == 200
    assert (
        hashlib.sha256(b"".join(midi.streaming_content)).hexdigest()
        == sample_set.samples.get(index=0).midi_sha256
    )
    weights = staff_client.get(f"/checkpoints/{checkpoint.pk}/weights.pt")
    payload = torch.load(io.BytesIO(b"".join(weights.streaming_content)), weights_only=True)
    assert payload["family"] == "melody-rnn" and payload["step"] == checkpoint.step


def test_sample_page_plays_rendered_audio(staff_client, fakes, django_capture_on_commit_callbacks):
    run_command(
        "train", "--model", "markov", "--config", "events", "--dataset", "fakes", "--preset", "tiny"
    )
    run_command(
        "generate", "--checkpoint", str(Checkpoint.objects.last().pk), "--n", "2", "--bars", "2"
    )
    sample_set = SampleSet.objects.get()
    assert b"not rendered" in staff_client.get(sample_set.get_absolute_url()).content
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(f"/samples/{sample_set.name}/render/")
    page = staff_client.get(f"/samples/{sample_set.name}/1/").content.decode()
    assert 'data-testid="player"' in page and ".mp3" in page


def _log_in_as_boss(page, address: str) -> None:
    page.goto(address)
    page.fill("#id_username", "boss")
    page.fill("#id_password", "pw")
    page.click("[data-testid=login] button")


@pytest.mark.browser
def test_run_page_follows_training_live(page, live_server, django_user_model, fakes):
    django_user_model.objects.create_superuser("boss", "", "pw")
    run = TrainingRun.objects.create(
        family="markov",
        dataset=fakes,
        status="running",
        total_steps=40,
        step=3,
        history=[{"step": 0, "valid": {"loss": 3.0}}],
    )
    _log_in_as_boss(page, f"{live_server.url}/login/?next=/runs/{run.pk}/")
    page.wait_for_selector("[data-field=step]")
    assert page.text_content("[data-field=step]") == "3"
    TrainingRun.objects.filter(pk=run.pk).update(
        step=20, history=[{"step": 0, "valid": {"loss": 3.0}}, {"step": 20, "valid": {"loss": 2.0}}]
    )
    wait_for_js(page, "document.querySelector('[data-field=step]').textContent === '20'")
    wait_for_js(page, "document.querySelector('img[data-field=curve]').src.endsWith('?n=2')")
    TrainingRun.objects.filter(pk=run.pk).update(step=40, status="succeeded")
    page.wait_for_selector("[data-field=reload]:not([hidden])")
    assert page.text_content("[data-field=status]") == "succeeded"


@pytest.mark.browser
def test_a_job_page_goes_on_to_what_the_job_made(page, live_server, django_user_model, fakes):
    django_user_model.objects.create_superuser("boss", "", "pw")
    job = Job.objects.create(kind="generate", title="Sample", status="running")
    _log_in_as_boss(page, f"{live_server.url}/login/?next=/jobs/{job.pk}/%3Fthen%3Dresult")
    page.wait_for_selector("[data-field=status]")
    assert page.text_content("[data-field=status]") == "running"
    Job.objects.filter(pk=job.pk).update(status="succeeded", result_url=fakes.get_absolute_url())
    page.wait_for_url(f"{live_server.url}{fakes.get_absolute_url()}")
    assert page.text_content("h1") == fakes.title
    # Opened later from a list (no ?then), the job page stays put and links the result.
    page.goto(f"{live_server.url}/jobs/{job.pk}/")
    assert page.get_attribute("[data-field=result]", "href") == fakes.get_absolute_url()


def test_forms_put_labels_above_fields_help_under_them_and_errors_beside_them(staff_client, fakes):
    import re

    page = staff_client.get("/models/train/").content.decode()
    steps = re.search(r'<div class="field field-number">(.*?)</div>', page, re.S).group(1)
    # Label, then help, then the field; an optional field says so; no "Steps:" suffix.
    assert re.search(
        r'<label for="id_steps">Steps <span class="optional">\(optional\)</span></label>\s*'
        r'<p class="help" id="id_steps_helptext">Leave empty[^<]*</p>\s*<input type="number" '
        r'name="steps"[^>]*aria-describedby="id_steps_helptext"',
        steps,
    )
    assert "Steps:" not in page and "---------" not in page and "Choose a dataset" in page
    # Several datasets are ticked, not Ctrl-clicked in a multi-select.
    assert 'type="checkbox" name="more_datasets"' in page
    assert not re.search(r'<select[^>]*name="more_datasets"', page)
    assert '<div class="checkbox-list">' in page and "<legend>More datasets</legend>" in page

    form = {"model": "markov:events", "preset": "tiny", "dataset": "fakes", "seed": "0"}
    refused = staff_client.post("/models/train/", {**form, "steps": "-3"})
    assert refused.status_code == 400 and not TrainingRun.objects.exists()
    group = re.search(
        r'<div class="field field-number has-error">(.*?)</div>\s*</div>',
        refused.content.decode(),
        re.S,
    ).group(1)
    assert 'aria-invalid="true"' in group and "greater than or equal to 1" in group


class WorkerKilled(BaseException):
    """Stands for SIGKILL: not an Exception, so nothing marks the run failed or cleans up."""


def test_a_run_whose_worker_died_goes_on_from_its_last_checkpoint_to_the_same_weights(
    fakes, staff_client
):
    from generation.services.training import create_run, read_resume_point, resume_file, train
    from generation.zoo.trainer import TrainingCallback

    options = {
        "family": "melody-rnn",
        "dataset": fakes,
        "config": "basic",
        "preset": "tiny",
        "overrides": {"steps": 12, "checkpoint_every": 4, "eval_every": 2, "dropout": 0.2},
    }

    class KillAt(TrainingCallback):
        def on_step(self, step, total_steps, loss):
            if step == 10:
                raise WorkerKilled

    broken = create_run(**options, seed=3)
    with pytest.raises(WorkerKilled):
        train(broken, callbacks=[KillAt()])
    broken.refresh_from_db()
    assert broken.status == "running" and broken.step >= 8  # as a dead worker leaves it
    assert [entry["step"] for entry in broken.history] == [0, 2, 4, 6, 8]
    assert read_resume_point(broken)["step"] == 8

    train(broken)  # what the retried job does
    broken.refresh_from_db()
    unbroken = train(create_run(**options, seed=3))

    assert broken.status == "succeeded" and broken.step == 12 and broken.resumed_at == [8]
    assert [entry["step"] for entry in broken.history] == [0, 2, 4, 6, 8, 10, 12]
    assert broken.history == unbroken.history
    assert list(broken.checkpoints.values_list("step", flat=True)) == [0, 4, 8, 12]
    mine = torch.load(broken.checkpoints.get(step=12).path, weights_only=True)["state_dict"]
    theirs = torch.load(unbroken.checkpoints.get(step=12).path, weights_only=True)["state_dict"]
    assert mine.keys() == theirs.keys()
    assert all(torch.equal(mine[key], theirs[key]) for key in mine)
    assert not resume_file(broken).exists()  # kept only while the run might need it
    page = staff_client.get(f"/runs/{broken.pk}/").content.decode()
    assert "it went on from step 8" in page


def test_train_command_trains_on_the_device_asked_for_and_refuses_one_it_lacks(fakes):
    run_command(
        "train", "--model", "markov", "--dataset", "fakes", "--preset", "tiny", "--device", "cpu"
    )
    run = TrainingRun.objects.get()
    assert run.device == "cpu" and run.info["device"] == "cpu" and run.status == "succeeded"
    with pytest.raises(CommandError, match="unknown device 'gpu'"):
        run_command("train", "--model", "markov", "--dataset", "fakes", "--device", "gpu")
    if not torch.cuda.is_available():
        with pytest.raises(CommandError, match="no CUDA GPU"):
            run_command("train", "--model", "markov", "--dataset", "fakes", "--device", "cuda")
    assert TrainingRun.objects.count() == 1


def test_train_command_resumes_a_run_by_number_and_refuses_a_finished_one(fakes):
    from generation.services.training import create_run

    run = create_run(
        family="melody-rnn",
        dataset=fakes,
        preset="tiny",
        overrides={"steps": 6, "checkpoint_every": 3},
    )
    TrainingRun.objects.filter(pk=run.pk).update(status="failed", error="killed")
    output = run_command("train", "--resume", str(run.pk))
    assert "going on from the start (it had no checkpoint yet)" in output
    run.refresh_from_db()
    assert run.status == "succeeded" and run.step == 6 and not run.error
    with pytest.raises(CommandError, match="has finished; nothing to resume"):
        run_command("train", "--resume", str(run.pk))


def test_the_train_form_keeps_the_device_and_refuses_a_made_up_one(
    staff_client, fakes, django_capture_on_commit_callbacks
):
    form = {"model": "markov:events", "preset": "tiny", "dataset": "fakes", "seed": "0"}
    response = staff_client.post("/models/train/", {**form, "device": "quantum"})
    assert response.status_code == 400 and b"Select a valid choice" in response.content
    assert not TrainingRun.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post("/models/train/", {**form, "device": "cpu"})
    run = TrainingRun.objects.get()
    assert run.device == "cpu" and run.status == "succeeded"
    page = staff_client.get(f"/runs/{run.pk}/").content.decode()
    assert '<dd data-testid="device">cpu</dd>' in page


def test_a_worker_takes_only_the_queues_it_is_given(settings):
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "training"]}
    }
    with pytest.raises(CommandError, match="no queue 'trainig'; the queues are default, training"):
        call_command("run_worker", "--queue", "trainig")
