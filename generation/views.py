from django.contrib.admin.views.decorators import staff_member_required
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from generation import selectors
from generation.forms import ImportCorpusForm
from generation.jobs import start_job
from generation.models import Job, Piece
from generation.pianoroll_svg import piano_roll_svg
from generation.render_services import DEFAULT_PROFILE
from generation.splits import SPLITS
from generation.tasks import import_corpus_task, render_piece_task


def home(request):
    return render(
        request,
        "generation/home.html",
        {
            "datasets": selectors.datasets_with_counts(),
            "jobs": selectors.recent_jobs() if request.user.is_staff else [],
        },
    )


def dataset_detail(request, name):
    dataset = get_object_or_404(selectors.datasets_with_counts(), name=name)
    split = request.GET.get("split")
    split = split if split in SPLITS else None
    page = Paginator(selectors.dataset_pieces(dataset, split), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "generation/dataset.html",
        {"dataset": dataset, "page": page, "split": split, "splits": SPLITS},
    )


def piece_detail(request, name, pk):
    piece = get_object_or_404(Piece.objects.select_related("dataset"), dataset__name=name, pk=pk)
    quantized = piece.load()
    # The SVG holds only numbers and fixed colours, never text from the piece.
    svg = mark_safe(piano_roll_svg(quantized.notes, steps_per_bar=quantized.steps_per_bar))
    return render(
        request,
        "generation/piece.html",
        {"piece": piece, "piano_roll": svg, "rendering": selectors.playable_rendering(piece)},
    )


@staff_member_required
@require_POST
def render_piece(request, name, pk):
    piece = get_object_or_404(Piece, dataset__name=name, pk=pk)
    job = start_job(
        "render", f"Render {piece}", render_piece_task, piece_id=piece.pk, profile=DEFAULT_PROFILE
    )
    return redirect(job)


@staff_member_required
@require_http_methods(["GET", "POST"])
def import_corpus(request):
    form = ImportCorpusForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        corpus, limit = form.cleaned_data["corpus"], form.cleaned_data["limit"]
        job = start_job(
            "import", f"Import {corpus}", import_corpus_task, corpus=corpus, limit=limit
        )
        return redirect(job)
    return render(request, "generation/import.html", {"form": form})


@staff_member_required
def job_detail(request, pk):
    return render(request, "generation/job.html", {"job": get_object_or_404(Job, pk=pk)})


@staff_member_required
def job_status(request, pk):
    job = get_object_or_404(Job, pk=pk)
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
