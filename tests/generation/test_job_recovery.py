"""What happens to the jobs of a job worker that died (the process-level drill, a worker
SIGKILLed mid-render, is in test_served.py)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from generation.jobs import workers
from generation.models import Dataset, Job, TrainingRun

pytestmark = pytest.mark.django_db


def held_by_a_dead_worker(kind: str, task_path: str, kwargs: dict, queue: str = "default") -> Job:
    """A job whose task a worker claimed two minutes ago, and which has not beaten since."""
    long_ago = timezone.now() - timedelta(minutes=2)
    job = Job.objects.create(kind=kind, title=f"a {kind} job", status=Job.Status.RUNNING)
    task = DBTaskResult.objects.create(
        status=TaskResultStatus.RUNNING,
        args_kwargs={"args": [], "kwargs": {"job_id": job.pk, **kwargs}},
        task_path=task_path,
        backend_name="default",
        queue_name=queue,
        run_after=long_ago,
        started_at=long_ago,
        worker_ids=["gone-1"],
    )
    workers.WorkerHeartbeat.objects.create(worker_id="gone-1", seen_at=long_ago)
    Job.objects.filter(pk=job.pk).update(task_result_id=str(task.pk))
    return job


def test_a_training_run_of_a_dead_worker_is_started_again_on_the_training_queue(settings):
    settings.TASKS = {  # queue it
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "training"]}
    }
    dataset = Dataset.objects.create(name="d", title="d", kind="midi", source="/x")
    run = TrainingRun.objects.create(family="markov", dataset=dataset, status="running")
    job = held_by_a_dead_worker(
        "train", "generation.tasks.train_run_task", {"run_id": run.pk}, queue="training"
    )
    workers.beat("alive-2")  # the worker doing the recovery

    recovered = workers.recover_orphans()

    assert [j.pk for j in recovered] == [job.pk]
    job.refresh_from_db()
    run.refresh_from_db()
    assert job.status == "queued" and job.attempts == 2
    assert "started again (attempt 2 of 3)" in job.message
    assert run.status == "running" and not run.error  # it goes on from its resume point
    retry = DBTaskResult.objects.get(pk=job.task_result_id)
    assert retry.task_path == "generation.tasks.train_run_task"
    assert retry.queue_name == "training" and retry.status == TaskResultStatus.READY
    assert workers.recover_orphans() == []  # once only


def test_a_live_workers_task_is_left_alone():
    job = held_by_a_dead_worker("render", "generation.tasks.render_sample_set_task", {})
    workers.beat("gone-1")  # it was only slow to beat: it is alive after all
    assert workers.recover_orphans() == []
    job.refresh_from_db()
    assert job.status == "running" and DBTaskResult.objects.get().status == TaskResultStatus.RUNNING


def test_a_study_build_of_a_dead_worker_is_started_again_by_the_kind_studies_registered(settings):
    # generation's worker names no other app's kind: studies registered "build-study" as
    # retryable (and private to the study's viewers) in its AppConfig.ready.
    from generation.jobs.running import job_kind

    settings.TASKS = {  # queue it
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "training"]}
    }

    assert job_kind("build-study").retryable and job_kind("build-study").may_see is not None
    job = held_by_a_dead_worker("build-study", "studies.tasks.build_study_task", {"study_id": 1})
    workers.beat("alive-2")
    workers.recover_orphans()
    job.refresh_from_db()
    assert job.status == "queued" and job.attempts == 2
    assert "started again (attempt 2 of 3)" in job.message
    retry = DBTaskResult.objects.get(pk=job.task_result_id)
    assert retry.task_path == "studies.tasks.build_study_task"
    assert retry.status == TaskResultStatus.READY


def test_a_job_of_an_unregistered_kind_is_refused_before_anything_is_stored():
    from generation.jobs.running import start_job

    with pytest.raises(ValueError, match="unknown job kind 'mystery'"):
        start_job("mystery", "A mystery", "generation.tasks.train_run_task", run_id=1)
    assert not Job.objects.exists()
