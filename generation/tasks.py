"""Background tasks (django-tasks). Each takes a Job id and reports through it."""

from django.urls import reverse
from django_tasks import task

from generation import services
from generation.jobs import finish_with, running
from generation.models import Piece
from generation.render_services import get_or_create_profile, render_pieces


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


@task()
def render_piece_task(job_id: int, piece_id: int, profile: str) -> dict:
    with running(job_id) as reporter:
        piece = Piece.objects.select_related("dataset").get(pk=piece_id)
        report = render_pieces(
            [piece], get_or_create_profile(profile), workers=1, progress=reporter.progress
        )
        if report.failed:
            raise RuntimeError(report.failed[0]["reason"])
        finish_with(job_id, result=report.as_dict(), result_url=piece.get_absolute_url())
    return report.as_dict()
