"""Background work: job kinds, starting and running jobs (running), and job workers that
can die (workers)."""

from generation.jobs.running import (
    JobGuard,
    JobKind,
    JobReporter,
    ProgressCallback,
    finish_with,
    job_kind,
    may_see_job,
    register_job_kind,
    running,
    start_job,
)

__all__ = [
    "JobGuard",
    "JobKind",
    "JobReporter",
    "ProgressCallback",
    "finish_with",
    "job_kind",
    "may_see_job",
    "register_job_kind",
    "running",
    "start_job",
]
