"""The process-level drill: the job worker training a run is SIGKILLed; another worker takes
the run back and finishes it with exactly the weights of a run nobody stopped."""

import json
import signal
import sqlite3
import time

import pytest
import torch

from tests.served_site import JS_FAKES, served_on

QUEUE_A_RUN = """
from django.db import transaction
from generation.jobs.running import start_job
from generation.models import Dataset, TrainingRun
from generation.services.training import create_run
with transaction.atomic():
    run = create_run(family="melody-rnn", dataset=Dataset.objects.get(name="fakes"),
                     config="basic", preset="tiny", seed=1,
                     overrides={"steps": 100, "checkpoint_every": 10, "eval_every": 10,
                                "dropout": 0.2})
    job = start_job("train", "drill", "generation.tasks.train_run_task", run_id=run.pk)
    TrainingRun.objects.filter(pk=run.pk).update(job=job)
print(run.pk)
"""


@pytest.fixture(scope="module")
def site():
    with served_on(
        "sqlite", "training-drill", extra_env={"EARSHOT_WORKER_STALE_SECONDS": "2"}
    ) as served:
        served.manage("migrate", "--noinput")
        served.manage(
            "import_midi", str(JS_FAKES), "--name", "fakes", "--limit", "24", "--workers", "1"
        )
        yield served


def run_state(site, pk: int) -> dict:
    """The run's row, its job's and its checkpoints', read straight from the site's SQLite."""
    with sqlite3.connect(site.data_dir / "earshot.sqlite3", timeout=30) as database:
        status, step, resumed_at, job_id = database.execute(
            "SELECT status, step, resumed_at, job_id FROM generation_trainingrun WHERE id = ?",
            (pk,),
        ).fetchone()
        job = database.execute(
            "SELECT attempts, status FROM generation_job WHERE id = ?", (job_id,)
        ).fetchone()
        checkpoints = dict(
            database.execute(
                "SELECT step, file FROM generation_checkpoint WHERE run_id = ?", (pk,)
            ).fetchall()
        )
    return {
        "status": status,
        "step": step,
        "resumed_at": json.loads(resumed_at),
        "attempts": job and job[0],
        "job": job and job[1],
        "checkpoints": checkpoints,
    }


def latest_run(site) -> int:
    with sqlite3.connect(site.data_dir / "earshot.sqlite3", timeout=30) as database:
        return database.execute("SELECT max(id) FROM generation_trainingrun").fetchone()[0]


def final_weights(site, state: dict) -> dict:
    last = max(state["checkpoints"], key=int)
    path = site.data_dir / "checkpoints" / state["checkpoints"][last]
    return torch.load(path, weights_only=True)["state_dict"]


def test_a_job_worker_killed_mid_training_is_replaced_and_the_run_ends_as_if_unbroken(site):
    pk = int(site.manage("shell", "-c", QUEUE_A_RUN).split()[-1])
    resume = site.data_dir / "checkpoints" / f"run-{pk}" / "resume.pt"
    worker = site.start_worker()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if resume.exists():
            try:
                step = torch.load(resume, weights_only=True)["step"]
            except Exception:  # caught mid-replace: look again
                step = 0
            if step >= 20:
                break
        time.sleep(0.05)
    else:
        pytest.fail("the run never reached its second checkpoint")
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    killed_at = run_state(site, pk)
    assert killed_at["status"] == "running" and killed_at["step"] < 100, killed_at

    site.start_worker()  # finds the dead worker's run and takes it back
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        state = run_state(site, pk)
        if state["job"] in ("succeeded", "failed"):  # the job ends after its run
            break
        time.sleep(0.2)
    assert state["status"] == "succeeded" and state["step"] == 100, state
    assert state["attempts"] == 2 and state["job"] == "succeeded"
    assert len(state["resumed_at"]) == 1 and 20 <= state["resumed_at"][0] < 100
    assert not resume.exists()

    site.stop()  # the uninterrupted run, trained with the same options and seed
    site.manage(
        "train",
        *("--model", "melody-rnn", "--config", "basic", "--preset", "tiny", "--seed", "1"),
        *("--dataset", "fakes", "--steps", "100", "--set", "checkpoint_every=10"),
        *("--set", "eval_every=10", "--set", "dropout=0.2"),
    )
    unbroken = run_state(site, latest_run(site))
    assert unbroken["status"] == "succeeded" and not unbroken["resumed_at"]
    mine, theirs = final_weights(site, state), final_weights(site, unbroken)
    assert mine.keys() == theirs.keys()
    assert all(torch.equal(mine[key], theirs[key]) for key in mine)


def test_train_nproc_trains_one_run_in_two_processes_and_rank_0_records_it(site):
    output = site.manage(
        "train",
        *("--model", "melody-rnn", "--config", "basic", "--preset", "tiny", "--seed", "2"),
        *("--dataset", "fakes", "--steps", "8", "--set", "checkpoint_every=4"),
        *("--set", "eval_every=4", "--nproc", "2"),
    )
    pk = latest_run(site)
    state = run_state(site, pk)
    assert f"run {pk} finished at step 8" in output
    assert state["status"] == "succeeded" and state["step"] == 8
    assert sorted(state["checkpoints"]) == [0, 4, 8]  # written once, by rank 0
    with sqlite3.connect(site.data_dir / "earshot.sqlite3") as database:
        history = json.loads(
            database.execute(
                "SELECT history FROM generation_trainingrun WHERE id = ?", (pk,)
            ).fetchone()[0]
        )
    assert [entry["step"] for entry in history] == [0, 4, 8]  # not doubled by rank 1
