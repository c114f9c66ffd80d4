from dataclasses import dataclass

from django.contrib import messages
from django.db import transaction
from django.http import (
    FileResponse,
    Http404,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from config.accounts import experimenter_required
from generation import selectors
from generation.charts.curves import learning_curve_svg
from generation.charts.piano_roll import part_colour, piano_roll_svg
from generation.forms import (
    ContinueTrainingForm,
    GenerateForm,
    ImportCorpusForm,
    SampleUploadForm,
    TrainForm,
)
from generation.jobs.running import may_see_job, start_job
from generation.models import Checkpoint, Dataset, Job, Piece, Sample, SampleSet, TrainingRun
from generation.music.scores import PART
from generation.music.splits import SPLITS
from generation.services.rendering import DEFAULT_PROFILE
from generation.services.sampling import import_uploaded_samples, piece_primer
from generation.services.training import create_run

CURVE_METRICS = (
    "loss",
    "accuracy",
    "note_event_accuracy",
    "perplexity",
    "play_f1",
    "frame_accuracy",
)
# The run page's checkpoint table leaves out counts and shares; the checkpoint page has them.
RUN_TABLE_SKIPS = {"n_events", "n_steps", "no_event_share", "play_density"}


def home(request):
    return render(
        request,
        "generation/home.html",
        {
            "datasets": selectors.datasets_with_counts(request.user),
            "jobs": selectors.recent_jobs(request.user) if request.user.is_staff else [],
        },
    )


def dataset_detail(request, name):
    dataset = get_object_or_404(selectors.datasets_with_counts(request.user), name=name)
    split = request.GET.get("split")
    split = split if split in SPLITS else None
    page = selectors.dataset_pieces_page(dataset, split, request.GET.get("page"))
    return render(
        request,
        "generation/dataset.html",
        {"dataset": dataset, "page": page, "split": split, "splits": SPLITS},
    )


@experimenter_required
@require_POST
def dataset_visibility(request, name):
    public = request.POST.get("public")
    if public not in ("yes", "no"):
        return HttpResponseBadRequest("public must be yes or no")
    # An update, not save(): imported_at (auto_now) keeps meaning when it was imported.
    if not Dataset.objects.filter(name=name).update(is_public=public == "yes"):
        raise Http404("no such dataset")
    messages.success(
        request,
        f"{name} is now "
        + ("public: anyone may list its pieces." if public == "yes" else "for experimenters only."),
    )
    return redirect("generation:dataset", name=name)


@dataclass(frozen=True)
class PianoRoll:
    # The SVG holds only numbers, pitch names and fixed colours, never text from the piece.
    svg: str
    # (part name, colour) for each part that has notes: the template escapes the names.
    parts: list[tuple[str, str]]


def _piano_roll(quantized) -> PianoRoll:
    present = sorted(set(quantized.notes[:, PART].tolist()))
    names = quantized.part_names
    return PianoRoll(
        svg=mark_safe(piano_roll_svg(quantized.notes, steps_per_bar=quantized.steps_per_bar)),
        parts=[
            ((names[p] if p < len(names) else "") or f"part {p + 1}", part_colour(p))
            for p in present
        ],
    )


def piece_detail(request, name, pk):
    piece = get_object_or_404(
        Piece.objects.select_related("dataset"),
        dataset__in=selectors.visible_datasets(request.user),
        dataset__name=name,
        pk=pk,
    )
    return render(
        request,
        "generation/piece.html",
        {
            "piece": piece,
            "piano_roll": _piano_roll(piece.load()),
            "rendering": selectors.playable_rendering(piece),
        },
    )


@experimenter_required
@require_POST
def render_piece(request, name, pk):
    piece = get_object_or_404(Piece, dataset__name=name, pk=pk)
    job = start_job(
        "render",
        f"Render {piece}",
        "generation.tasks.render_piece_task",
        piece_id=piece.pk,
        profile=DEFAULT_PROFILE,
    )
    return _follow(job)


@experimenter_required
@require_http_methods(["GET", "POST"])
def import_corpus(request):
    form = ImportCorpusForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        corpus, limit = form.cleaned_data["corpus"], form.cleaned_data["limit"]
        job = start_job(
            "import",
            f"Import {corpus}",
            "generation.tasks.import_corpus_task",
            corpus=corpus,
            limit=limit,
        )
        return _follow(job)
    return render(request, "generation/import.html", {"form": form})


def _visible_job(request, pk) -> Job:
    job = get_object_or_404(Job, pk=pk)
    if not may_see_job(request.user, job):
        raise Http404("No such job.")
    return job


def _follow(job: Job):
    """To the job's page, which goes on to what the job made once it has succeeded."""
    return redirect(f"{job.get_absolute_url()}?then=result")


@experimenter_required
def job_detail(request, pk):
    job = _visible_job(request, pk)
    follow = request.GET.get("then") == "result"
    if follow and job.status == Job.Status.SUCCEEDED and job.result_url:
        return redirect(job.result_url)
    return render(request, "generation/job.html", {"job": job, "follow": follow})


@experimenter_required
def job_status(request, pk):
    job = _visible_job(request, pk)
    return JsonResponse(
        {
            "status": job.status,
            "finished": job.is_finished,
            "percent": job.percent,
            "done": job.progress_done,
            "total": job.progress_total,
            "message": job.message,
            "error": job.error.split("\n\n")[0] if job.error else "",
            "result_url": job.result_url,
        }
    )


# ---------------------------------------------------------------- models, checkpoints, samples


@experimenter_required
def models_home(request):
    return render(
        request,
        "generation/models.html",
        {"runs": selectors.run_summaries(50), "sample_sets": selectors.sample_sets(50)},
    )


@experimenter_required
@require_http_methods(["GET", "POST"])
def samples_upload(request):
    """MIDI files from any model become a sample set; files that are not usable MIDI are
    skipped with a reason, and if none is usable nothing is stored (400)."""
    form = SampleUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            sample_set, report = import_uploaded_samples(
                form.cleaned_data["files"],
                system=form.cleaned_data["system"],
                description=form.cleaned_data["description"],
            )
        except ValueError as error:
            form.add_error("files", f"Nothing imported: {error}")
        else:
            skipped = "; ".join(f"{s['file']}: {s['reason']}" for s in report.skipped[:5])
            messages.success(
                request,
                f"{report.imported} samples imported"
                + (f"; skipped {len(report.skipped)} ({skipped})" if report.skipped else ""),
            )
            return redirect(sample_set)
    status = 400 if request.method == "POST" else 200
    return render(request, "generation/sample_upload.html", {"form": form}, status=status)


@experimenter_required
@require_http_methods(["GET", "POST"])
def train_new(request):
    form = TrainForm(request.POST or None, initial={"dataset": request.GET.get("dataset")})
    if request.method == "POST" and form.is_valid():
        family, config = form.cleaned_data["model"]
        overrides = {"steps": form.cleaned_data["steps"]} if form.cleaned_data["steps"] else {}
        try:
            with transaction.atomic():
                # The dataset row lock makes a double submit find the first run, not make a second.
                dataset = Dataset.objects.select_for_update().get(
                    pk=form.cleaned_data["dataset"].pk
                )
                run = _queue_run(
                    family=family,
                    dataset=dataset,
                    extra_datasets=list(form.cleaned_data["more_datasets"]),
                    config=config or None,
                    preset=form.cleaned_data["preset"],
                    overrides=overrides,
                    seed=form.cleaned_data["seed"],
                    device=form.cleaned_data["device"],
                )
        except ValueError as error:
            form.add_error(None, str(error))
        else:
            return redirect(run)
    status = 400 if request.method == "POST" else 200
    return render(request, "generation/train.html", {"form": form}, status=status)


def _queue_run(**options) -> TrainingRun:
    """A run for the job worker; a form submitted twice finds the run the first one queued."""
    run = create_run(**options, reuse_pending=True)
    if run.job_id is None:
        job = start_job(
            "train", f"Train {run.label}", "generation.tasks.train_run_task", run_id=run.pk
        )
        TrainingRun.objects.filter(pk=run.pk).update(job=job)
    return run


@experimenter_required
def run_detail(request, pk):
    run = get_object_or_404(TrainingRun.objects.select_related("dataset", "job"), pk=pk)
    best = selectors.best_checkpoint(run)
    return render(
        request,
        "generation/run.html",
        {
            "run": run,
            "checkpoints": selectors.run_checkpoints(run),
            "best": best,
            "uses_melody_events": any(
                "no_event_share" in (e.get("valid") or {}) for e in run.history
            ),
            "uses_piano_roll": any("play_f1" in (e.get("valid") or {}) for e in run.history),
            "columns": [
                column
                for column in selectors.metric_columns(e.get("valid") for e in run.history)
                if column["key"] not in RUN_TABLE_SKIPS
            ],
        },
    )


@experimenter_required
def run_status(request, pk):
    run = get_object_or_404(TrainingRun, pk=pk)
    return JsonResponse(
        {
            "status": run.status,
            "finished": run.is_finished,
            "percent": run.percent,
            "step": run.step,
            "total": run.total_steps,
            "evaluations": len(run.history),
            "latest": run.latest_metrics,
            "error": run.error,
        }
    )


@experimenter_required
def run_curve(request, pk):
    run = get_object_or_404(TrainingRun, pk=pk)
    metric = request.GET.get("metric", "loss")
    if metric not in CURVE_METRICS:
        metric = "loss"
    response = HttpResponse(learning_curve_svg(run.history, metric), content_type="image/svg+xml")
    response["Cache-Control"] = "no-store"
    return response


@experimenter_required
def checkpoint_detail(request, pk):
    checkpoint = get_object_or_404(
        Checkpoint.objects.select_related("run__dataset", "dataset"), pk=pk
    )
    return _checkpoint_page(request, checkpoint, _generate_form(checkpoint))


def _generate_form(checkpoint: Checkpoint, data=None) -> GenerateForm:
    """The sampling form offers styles and adaptive temperature only to models that have them."""
    capabilities = selectors.checkpoint_capabilities(checkpoint)
    return GenerateForm(
        data,
        dataset=checkpoint.dataset,
        styles=capabilities["styles"],
        polyphonic=capabilities["polyphonic"],
    )


def _checkpoint_page(
    request,
    checkpoint: Checkpoint,
    form: GenerateForm,
    *,
    continue_form: ContinueTrainingForm | None = None,
    status: int = 200,
):
    splits = [(split, checkpoint.metrics.get(split)) for split in SPLITS]
    return render(
        request,
        "generation/checkpoint.html",
        {
            "checkpoint": checkpoint,
            "splits": splits,
            "columns": selectors.metric_columns(values for _, values in splits),
            "styles": form.styles,
            "polyphonic": "adaptive_temperature" in form.fields,
            "form": form,
            "continue_form": continue_form
            or ContinueTrainingForm(initial={"transfer": "extended"}),
            "sample_sets": selectors.sample_sets().filter(checkpoint=checkpoint),
        },
        status=status,
    )


@experimenter_required
@require_POST
def checkpoint_evaluate(request, pk):
    checkpoint = get_object_or_404(Checkpoint, pk=pk)
    split = request.POST.get("split", "test")
    if split not in SPLITS:
        return HttpResponseBadRequest("unknown split")
    job = start_job(
        "evaluate",
        f"Evaluate checkpoint {checkpoint.pk} on {split}",
        "generation.tasks.evaluate_checkpoint_task",
        checkpoint_id=checkpoint.pk,
        split=split,
    )
    return _follow(job)


@experimenter_required
@require_POST
def checkpoint_generate(request, pk):
    checkpoint = get_object_or_404(Checkpoint.objects.select_related("dataset"), pk=pk)
    form = _generate_form(checkpoint, request.POST)
    if not form.is_valid():
        return _checkpoint_page(request, checkpoint, form, status=400)
    piece = form.cleaned_data["primer_piece"]
    primer = piece_primer(piece, form.cleaned_data["primer_bars"]) if piece else None
    job = start_job(
        "generate",
        f"Sample from checkpoint {checkpoint.pk}",
        "generation.tasks.generate_samples_task",
        checkpoint_id=checkpoint.pk,
        sampling=form.sampling_settings(),
        primer=primer,
        name=None,
        device=form.cleaned_data["device"],
    )
    return _follow(job)


@experimenter_required
@require_POST
def checkpoint_continue(request, pk):
    checkpoint = get_object_or_404(Checkpoint.objects.select_related("run", "dataset"), pk=pk)
    form = ContinueTrainingForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                dataset = Dataset.objects.select_for_update().get(pk=data["dataset"].pk)
                run = _queue_run(
                    family=checkpoint.family,
                    dataset=dataset,
                    extra_datasets=list(data["more_datasets"]),
                    preset=(checkpoint.run.preset or None) if checkpoint.run else None,
                    overrides={"steps": data["steps"]},
                    seed=data["seed"],
                    parent=checkpoint,
                    transfer=data["transfer"],
                )
        except ValueError as error:
            form.add_error(None, str(error))
        else:
            return redirect(run)
    return _checkpoint_page(
        request, checkpoint, _generate_form(checkpoint), continue_form=form, status=400
    )


@experimenter_required
def checkpoint_weights(request, pk):
    checkpoint = get_object_or_404(Checkpoint, pk=pk)
    if not checkpoint.path.is_file():
        raise Http404("the weights file is missing")
    return FileResponse(
        open(checkpoint.path, "rb"), as_attachment=True, filename=f"checkpoint-{checkpoint.pk}.pt"
    )


@experimenter_required
def sample_set_detail(request, name):
    sample_set = get_object_or_404(selectors.sample_sets(), name=name)
    samples = [(sample, selectors.sample_rendering(sample)) for sample in sample_set.samples.all()]
    return render(
        request,
        "generation/sample_set.html",
        {
            "sample_set": sample_set,
            "samples": samples,
            "unrendered": sum(rendering is None for _, rendering in samples),
            "command": selectors.generate_command(sample_set) if sample_set.checkpoint_id else "",
        },
    )


@experimenter_required
@require_POST
def sample_set_render(request, name):
    sample_set = get_object_or_404(SampleSet, name=name)
    job = start_job(
        "render",
        f"Render {sample_set.name}",
        "generation.tasks.render_sample_set_task",
        sample_set=sample_set.name,
        profile=DEFAULT_PROFILE,
    )
    return _follow(job)


@experimenter_required
def sample_detail(request, name, index):
    sample = get_object_or_404(
        Sample.objects.select_related("sample_set__checkpoint"), sample_set__name=name, index=index
    )
    return render(
        request,
        "generation/sample.html",
        {
            "sample": sample,
            "piano_roll": _piano_roll(sample.load()),
            "rendering": selectors.sample_rendering(sample),
        },
    )


@experimenter_required
def sample_midi(request, name, index):
    sample = get_object_or_404(Sample, sample_set__name=name, index=index)
    if not sample.path.is_file():
        raise Http404("the MIDI file is missing")
    return FileResponse(
        open(sample.path, "rb"),
        as_attachment=True,
        filename=f"{sample.sample_set.name}-{sample.index:04d}.mid",
        content_type="audio/midi",
    )
