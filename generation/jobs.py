"""Running a Job: status transitions and throttled progress writes."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from contextlib import contextmanager

from django.db import transaction
from django.utils import timezone

from generation.models import Job

logger = logging.getLogger("earshot.jobs")

ProgressCallback = Callable[[int, int, str], None]

# Who may see a job of a given kind. Jobs are shared by every experimenter unless the app that
# starts them says otherwise: a study's build job is private to those who may see the study.
# Apps register here (studies does in its AppConfig.ready), so generation knows none of them.
JobGuard = Callable[[object, Job], bool]
_guards: dict[str, JobGuard] = {}


def guard_jobs(kind: str, may_see: JobGuard) -> None:
    _guards[kind] = may_see


def may_see_job(user, job: Job) -> bool:
    guard = _guards.get(job.kind)
    return guard is None or guard(user, job)


class JobReporter:
    """Progress writes are throttled: a fast loop must not turn into a write storm."""

    def __init__(self, job: Job, min_interval: float = 0.5) -> None:
        self.job = job
        self.min_interval = min_interval
        self._last_write = 0.0

    def progress(self, done: int, total: int, message: str = "") -> None:
        now = time.monotonic()
        if done < total and now - self._last_write < self.min_interval:
            return
        self._last_write = now
        Job.objects.filter(pk=self.job.pk).update(
            progress_done=done, progress_total=total, message=message[:500]
        )


@contextmanager
def running(job_id: int):
    """Marks the job running; on exit succeeded, or failed with the error kept for the page."""
    Job.objects.filter(pk=job_id).update(status=Job.Status.RUNNING, started_at=timezone.now())
    job = Job.objects.get(pk=job_id)
    reporter = JobReporter(job)
    try:
        yield reporter
    except Exception as error:
        logger.exception("job %s failed", job_id)
        Job.mark_failed(
            job_id, f"{type(error).__name__}: {error}\n\n{traceback.format_exc(limit=8)}"
        )
        raise
    else:
        Job.objects.filter(pk=job_id).update(
            status=Job.Status.SUCCEEDED, finished_at=timezone.now(), message="done"
        )


def start_job(kind: str, title: str, task, **task_kwargs) -> Job:
    """Create the Job row, then enqueue the task once the row is committed."""
    job = Job.objects.create(kind=kind, title=title)

    def enqueue() -> None:
        result = task.enqueue(job_id=job.pk, **task_kwargs)
        Job.objects.filter(pk=job.pk).update(task_result_id=str(result.id))

    transaction.on_commit(enqueue)
    return job


def finish_with(job_id: int, *, result: dict, result_url: str = "") -> None:
    Job.objects.filter(pk=job_id).update(result=result, result_url=result_url)
