"""Background tasks (django-tasks). Each takes a Job id and reports through it."""

from django.urls import reverse
from django_tasks import task

from generation.jobs.running import finish_with, running
from generation.models import Checkpoint, Piece, SampleSet, TrainingRun
from generation.services import corpora
from generation.services.rendering import (
    DEFAULT_PROFILE,
    get_or_create_profile,
    render_pieces,
    render_sample_set,
)
from generation.services.sampling import generate_samples
from generation.services.training import evaluate_checkpoint, train
from generation.zoo.sampling import SamplingSettings


@task()
def import_corpus_task(job_id: int, corpus: str, limit: int | None = None) -> dict:
    with running(job_id) as reporter:
        report = corpora.import_corpus(corpus, limit=limit, progress=reporter.progress)
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


@task(queue_name="training")  # a GPU machine's worker can take these alone
def train_run_task(job_id: int, run_id: int) -> dict:
    with running(job_id) as reporter:
        run = TrainingRun.objects.select_related("dataset").get(pk=run_id)
        run = train(run, progress=reporter.progress)
        result = {"run": run.pk, "step": run.step, "checkpoints": run.checkpoints.count()}
        finish_with(job_id, result=result, result_url=run.get_absolute_url())
    return result


@task()
def evaluate_checkpoint_task(job_id: int, checkpoint_id: int, split: str) -> dict:
    with running(job_id):
        checkpoint = Checkpoint.objects.get(pk=checkpoint_id)
        metrics = evaluate_checkpoint(checkpoint, split)
        finish_with(job_id, result={split: metrics}, result_url=checkpoint.get_absolute_url())
    return metrics


@task()
def generate_samples_task(
    job_id: int,
    checkpoint_id: int,
    sampling: dict,
    primer: dict | None,
    name: str | None,
    render_profile: str | None = DEFAULT_PROFILE,
    device: str = "",
) -> dict:
    """Draws the samples and, unless ``render_profile`` is None, renders their audio in the
    same job: the set is ready to listen to when the job ends."""
    with running(job_id) as reporter:
        checkpoint = Checkpoint.objects.get(pk=checkpoint_id)
        reporter.progress(0, 1, "drawing samples")
        sample_set = generate_samples(
            checkpoint, SamplingSettings(**sampling), primer=primer, name=name, device=device
        )
        result = {"sample_set": sample_set.name, "samples": sample_set.samples.count()}
        if render_profile is not None:
            report = render_sample_set(
                sample_set,
                get_or_create_profile(render_profile),
                progress=lambda done, total, message="": reporter.progress(
                    done, total, f"rendering audio: {done} of {total}"
                ),
            )
            result |= {"rendered": report.rendered + report.cached, "render_failed": report.failed}
        finish_with(job_id, result=result, result_url=sample_set.get_absolute_url())
    return result


@task()
def render_sample_set_task(job_id: int, sample_set: str, profile: str) -> dict:
    with running(job_id) as reporter:
        samples = SampleSet.objects.get(name=sample_set)
        report = render_sample_set(
            samples, get_or_create_profile(profile), progress=reporter.progress
        )
        finish_with(job_id, result=report.as_dict(), result_url=samples.get_absolute_url())
    return report.as_dict()
