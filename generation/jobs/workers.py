"""Job workers that can die: heartbeats, and recovery of the tasks a dead worker held.

django-tasks-db marks a task RUNNING when a worker claims it and never looks at it again,
so a worker killed mid-task (out of memory, a reboot, SIGKILL) would leave its job
"running" for ever. Every `run_worker` writes a heartbeat; any worker finding a running
task whose worker has been silent for longer than EARSHOT_WORKER_STALE_SECONDS closes that task, and starts
its job again when the job is safe to repeat (its results are written all-or-nothing or
content-addressed), else marks the job failed with the reason.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from generation.jobs.running import job_kind
from generation.models import Job, TrainingRun, WorkerHeartbeat

logger = logging.getLogger("earshot.jobs")

MAX_ATTEMPTS = 3
WORKER_LOST = "The job worker stopped while running this job (killed or restarted)."


def stale_after() -> timedelta:
    return timedelta(seconds=settings.WORKER_STALE_SECONDS)


def beat_every() -> float:
    """Seconds between heartbeats: a live worker beats several times within stale_after."""
    return settings.WORKER_STALE_SECONDS / 4


def new_worker_id() -> str:
    return f"{socket.gethostname()[:30]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def beat(worker_id: str) -> None:
    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id, defaults={"seen_at": timezone.now()}
    )


def forget(worker_id: str) -> None:
    WorkerHeartbeat.objects.filter(worker_id=worker_id).delete()


def live_workers(now=None) -> set[str]:
    now = now or timezone.now()
    return set(
        WorkerHeartbeat.objects.filter(seen_at__gte=now - stale_after()).values_list(
            "worker_id", flat=True
        )
    )


def recover_orphans(now=None) -> list[Job]:
    """Close the tasks of silent workers; returns the jobs retried or failed."""
    now = now or timezone.now()
    alive = live_workers(now)
    recovered = []
    candidates = DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING).only(
        "id", "worker_ids", "started_at"
    )
    for task_result in candidates:
        holder = task_result.worker_ids[-1] if task_result.worker_ids else ""
        if holder in alive:
            continue
        if task_result.started_at and task_result.started_at > now - stale_after():
            continue  # a worker from before heartbeats, or one just started: give it time
        job = _recover(task_result.pk, now)
        if job is not None:
            recovered.append(job)
    WorkerHeartbeat.objects.filter(seen_at__lt=now - 10 * stale_after()).delete()
    return recovered


def _recover(task_result_id, now) -> Job | None:
    with transaction.atomic():
        locked = (
            DBTaskResult.objects.select_for_update(skip_locked=True)
            .filter(pk=task_result_id, status=TaskResultStatus.RUNNING)
            .first()
        )
        if locked is None:
            return None  # another worker got there first, or it finished after all
        DBTaskResult.objects.filter(pk=locked.pk).update(
            status=TaskResultStatus.FAILED,
            finished_at=now,
            exception_class_path="generation.jobs.workers.WorkerLost",
            traceback=WORKER_LOST,
        )
        job = Job.objects.select_for_update().filter(task_result_id=str(locked.pk)).first()
        if job is None:
            return None
        retryable = job_kind(job.kind).retryable
        if retryable and job.attempts < MAX_ATTEMPTS:
            args_kwargs = locked.args_kwargs
            retry = locked.task.enqueue(*args_kwargs["args"], **args_kwargs["kwargs"])
            job.status = Job.Status.QUEUED
            job.attempts += 1
            job.task_result_id = str(retry.id)
            job.message = (
                f"the job worker stopped; started again (attempt {job.attempts} of {MAX_ATTEMPTS})"
            )
            job.save(update_fields=["status", "attempts", "task_result_id", "message"])
            logger.warning("job %s: its worker stopped; retrying", job.pk)
        else:
            advice = "" if retryable else " Start it again when you are ready."
            Job.mark_failed(job.pk, WORKER_LOST + advice, at=now)
            job.refresh_from_db()
            run_id = locked.args_kwargs["kwargs"].get("run_id")
            if run_id is not None:
                TrainingRun.mark_failed(run_id, WORKER_LOST, at=now, only_if_running=True)
            logger.warning("job %s: its worker stopped; marked failed", job.pk)
        return job


class Heart(threading.Thread):
    """Beats for the worker in the background and looks for orphans now and then."""

    def __init__(self, worker_id: str) -> None:
        super().__init__(name="earshot-heartbeat", daemon=True)
        self.worker_id = worker_id
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(beat_every()):
            try:
                close_old_connections()
                beat(self.worker_id)
                recover_orphans()
            except Exception:  # a database hiccup must not stop the heart for good
                logger.exception("heartbeat of %s failed", self.worker_id)
        connection.close()
