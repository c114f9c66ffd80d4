"""Background tasks (django-tasks) for studies."""

from django_tasks import task

from generation.jobs.running import finish_with, running
from studies.models import Study
from studies.services import build_study


@task()
def build_study_task(job_id: int, study_id: int) -> dict:
    with running(job_id) as reporter:
        study = build_study(Study.objects.get(pk=study_id), progress=reporter.progress)
        result = {"study": study.slug, "stimuli": study.stimuli.count()}
        finish_with(job_id, result=result, result_url=study.get_absolute_url())
    return result
