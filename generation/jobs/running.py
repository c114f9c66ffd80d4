"""Running a Job: status transitions and throttled progress writes."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from generation.models import Job

logger = logging.getLogger("earshot.jobs")

ProgressCallback = Callable[[int, int, str], None]

JobGuard = Callable[[object, Job], bool]


@dataclass(frozen=True)
class JobKind:
    """One kind of background work, as the app that starts it registers it (in its
    AppConfig.ready), so that generation, which runs every job, knows none of the others.

    retryable: a job a dead worker held is started again (its work is all-or-nothing, or
    finds what is already done) rather than marked failed. may_see: who may see its jobs;
    None shares them with every experimenter."""

    name: str
    retryable: bool = False
    may_see: JobGuard | None = None


_kinds: dict[str, JobKind] = {}


def register_job_kind(kind: JobKind) -> None:
    known = _kinds.get(kind.name)
    if known is not None and known != kind:
        raise ValueError(f"job kind {kind.name!r} is registered already, differently")
    _kinds[kind.name] = kind


def job_kind(name: str) -> JobKind:
    """The registered kind; an unknown one (a row left by an older version) is shared and
    not retried."""
    return _kinds.get(name) or JobKind(name)


def may_see_job(user, job: Job) -> bool:
    guard = job_kind(job.kind).may_see
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


def start_job(kind: str, title: str, task: str, **task_kwargs) -> Job:
    """Create the Job row, then enqueue the task once the row is committed.

    kind: a registered JobKind's name. task: the task's dotted path, resolved only when it
    is enqueued: the service that starts a job need not import the module whose task calls
    that service back (the way every app starts its work, with no import cycle)."""
    if kind not in _kinds:
        raise ValueError(f"unknown job kind {kind!r}: register it in its app's ready()")
    task_object = import_string(task)
    job = Job.objects.create(kind=kind, title=title)

    def enqueue() -> None:
        result = task_object.enqueue(job_id=job.pk, **task_kwargs)
        Job.objects.filter(pk=job.pk).update(task_result_id=str(result.id))

    transaction.on_commit(enqueue)
    return job


def finish_with(job_id: int, *, result: dict, result_url: str = "") -> None:
    Job.objects.filter(pk=job_id).update(result=result, result_url=result_url)
