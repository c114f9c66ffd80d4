"""Background tasks (django-tasks). Each takes a Job id and reports through it."""

from django.urls import reverse
from django_tasks import task

from generation import services
from generation.jobs import finish_with, running


@task()
def import_corpus_task(job_id: int, corpus: str, limit: int | None = None) -> dict:
    with running(job_id) as reporter:
        report = services.import_corpus(corpus, limit=limit, progress=reporter.progress)
        finish_with(
            job_id,
            result=report.as_dict(),
            result_url=reverse("generation:dataset", args=[report.dataset]),
        )
    return report.as_dict()
