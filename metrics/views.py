"""Report pages and downloads (staff only). The numbers come from metrics.reports."""

from django.http import Http404, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from config.accounts import experimenter_required
from metrics import caching, comparison, reports
from metrics.analysis import Options
from metrics.forms import ComparisonForm, PowerForm
from metrics.statistics.power import listeners_for_preference, listeners_for_rating_difference
from studies.selectors import study_for, visible_studies


def _options(request, study) -> Options:
    """The report options in the query string; ValueError names a bad one. The correction
    defaults to the one the study's frozen plan names."""
    return Options(correction=request.GET.get("correction") or reports.default_correction(study))


def _paper(request) -> str | None:
    """The PDF's paper size from ``?paper=`` (any case; A4 when absent), None when unknown."""
    raw = (request.GET.get("paper") or "A4").lower()
    return next((size for size in reports.PAPER_SIZES if size.lower() == raw), None)


SIMULATED_VALUES = {"1": "yes", "yes": "yes", "0": "no", "no": "no", "auto": "auto"}


def _include_simulated(request, study) -> bool:
    """The report's ``simulated`` parameter, spelled as the comparison's: yes, no or auto
    (simulated listeners only while the study has no real one); 1 and 0 as before."""
    raw = request.GET.get("simulated", "no") or "no"
    if raw not in SIMULATED_VALUES:
        raise ValueError(f"simulated must be yes, no or auto, not {raw[:20]!r}")
    choice = SIMULATED_VALUES[raw]
    return choice == "yes" or (choice == "auto" and not comparison.has_real_listeners(study))


@experimenter_required
@require_safe
def sequential_panel(request, slug):
    """The sequential design's looks and decision, for the study's dashboard (which loads
    it here: studies' pages know nothing of the analysis)."""
    study = study_for(request.user, slug)
    if study.design.sequential is None:
        raise Http404("this study declares no sequential design")
    options = Options(correction=reports.default_correction(study))
    built = caching.report_for(study, include_simulated=False, options=options)
    return render(request, "metrics/_sequential.html", {"sequential": built.sequential})


@experimenter_required
@require_safe
def report(request, slug):
    study = study_for(request.user, slug)
    try:
        options = _options(request, study)
    except ValueError as error:
        return HttpResponseBadRequest(str(error))
    try:
        simulated = _include_simulated(request, study)
    except ValueError as error:
        return HttpResponseBadRequest(str(error), content_type="text/plain; charset=utf-8")
    built = caching.report_for(study, include_simulated=simulated, options=options)
    query = request.GET.copy()
    query.pop("paper", None)
    query = query.urlencode()
    links = {
        fmt: reverse("metrics:download", args=[slug, fmt]) + (f"?{query}" if query else "")
        for fmt in reports.FORMATS
    }
    links["pdf_letter"] = links["pdf"] + ("&" if query else "?") + "paper=letter"
    context = {**reports.report_context(built), "links": links}
    return render(request, "metrics/report_page.html", context)


@experimenter_required
@require_safe
def download(request, slug, fmt):
    if fmt not in reports.FORMATS:
        raise Http404("no such report format")
    study = study_for(request.user, slug)
    try:
        options = _options(request, study)
    except ValueError as error:
        return HttpResponseBadRequest(str(error))
    content_type, render_as = reports.FORMATS[fmt]
    try:
        simulated = _include_simulated(request, study)
    except ValueError as error:
        return HttpResponseBadRequest(str(error), content_type="text/plain; charset=utf-8")
    extra = {}
    if fmt == "pdf":
        paper = _paper(request)
        if paper is None:
            return HttpResponseBadRequest(
                f"paper must be one of {', '.join(reports.PAPER_SIZES)}",
                content_type="text/plain; charset=utf-8",
            )
        extra["paper"] = paper
    try:
        built = caching.report_for(study, include_simulated=simulated, options=options)
        body = render_as(built, **extra)
    except reports.ReportError as error:
        return HttpResponse(str(error), status=503, content_type="text/plain; charset=utf-8")
    response = HttpResponse(body, content_type=content_type)
    if fmt == "html":
        # A standalone file: its styles are inline, and it runs no script at all.
        response["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
        )
    name = f"{study.slug}-report" + ("-tables" if fmt == "zip" else "")
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


@experimenter_required
@require_safe
def power(request):
    """Listeners needed for a rating difference and for a preference share, as JSON."""
    form = PowerForm(request.GET)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    data = form.cleaned_data
    rating = listeners_for_rating_difference(
        data["difference"],
        data["sd"],
        power=data["power"],
        alpha=data["alpha"],
        within_subject=data["within"],
    )
    preference = listeners_for_preference(
        data["share"],
        data["trials_per_listener"],
        power=data["power"],
        alpha=data["alpha"],
        intraclass_correlation=data["icc"],
    )
    return JsonResponse(
        {
            "rating": {
                "listeners": rating.needed,
                "per_system": not data["within"],
                "effect_size_d": round(rating.effect, 4),
                "assumptions": rating.assumptions,
            },
            "preference": {
                "listeners": preference.needed,
                "effect_size_h": round(preference.effect, 4),
                "assumptions": preference.assumptions,
            },
            "power": data["power"],
            "alpha": data["alpha"],
        }
    )


def _comparison_inputs(request) -> dict:
    """The comparison asked for in the query string, with defaults for what it leaves out:
    every checkpoint with samples, the dataset they learnt from, its test split, the newest
    study that played them. ValueError names a bad input."""
    query = request.GET.copy()
    if query.get("simulated") in ("1", "0"):  # the report's spelling works here too
        query["simulated"] = SIMULATED_VALUES[query["simulated"]]
    form = ComparisonForm(query, user=request.user)
    if not form.is_valid():
        problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
        raise ValueError(f"Bad comparison request: {problems}")
    data = form.cleaned_data
    checkpoints = list(data["checkpoints"])
    if data["run"] is not None:
        checkpoints += [c for c in data["run"].checkpoints.all() if c not in checkpoints]
    if not checkpoints and "checkpoints" not in request.GET and data["run"] is None:
        if data["study"] is not None:
            checkpoints = comparison.checkpoints_in(data["study"])
        else:
            checkpoints = comparison.checkpoints_with_samples()
    dataset = data["dataset"] or comparison.default_reference(checkpoints)
    if dataset is None:
        raise ValueError("No dataset to compare against: import a corpus first.")
    study = data["study"]
    if study is None and "study" not in request.GET:
        found = comparison.studies_with(checkpoints, among=visible_studies(request.user))
        study = found[0] if found else None
    simulated = data["simulated"] or "auto"
    include_simulated = simulated == "yes" or (
        simulated == "auto" and study is not None and not comparison.has_real_listeners(study)
    )
    return {
        "form": form,
        "checkpoints": checkpoints,
        "dataset": dataset,
        "split": data["split"] or "test",
        "study": study,
        "include_simulated": include_simulated,
    }


def _bad_request(error: Exception) -> HttpResponseBadRequest:
    # Plain text: the message may quote what was sent.
    return HttpResponseBadRequest(str(error), content_type="text/plain; charset=utf-8")


@experimenter_required
@require_safe
def compare(request):
    try:
        inputs = _comparison_inputs(request)
    except ValueError as error:
        return _bad_request(error)
    form = inputs.pop("form")
    if not request.GET:
        # Show the defaults the comparison used as the form's starting point.
        form = ComparisonForm(
            user=request.user,
            initial={
                "checkpoints": inputs["checkpoints"],
                "dataset": inputs["dataset"],
                "split": inputs["split"],
                "study": inputs["study"],
            },
        )
    built = None
    problem = None
    if inputs["checkpoints"]:
        try:
            built = caching.comparison_for(inputs.pop("checkpoints"), **inputs)
        except comparison.ComparisonError as error:
            problem = str(error)
    query = request.GET.urlencode()
    links = {
        fmt: reverse("metrics:compare-download", args=[fmt]) + (f"?{query}" if query else "")
        for fmt in comparison.FORMATS
    }
    context = {
        "form": form,
        "comparison": built,
        "problem": problem,
        "links": links,
        **(comparison.page_context(built) if built else {}),
    }
    return render(request, "metrics/compare.html", context)


@experimenter_required
@require_safe
def compare_download(request, fmt):
    if fmt not in comparison.FORMATS:
        raise Http404("no such comparison format")
    try:
        inputs = _comparison_inputs(request)
        inputs.pop("form")
        built = caching.comparison_for(inputs.pop("checkpoints"), **inputs)
    except ValueError as error:  # ComparisonError included
        return _bad_request(error)
    content_type, render_as = comparison.FORMATS[fmt]
    response = HttpResponse(render_as(built), content_type=content_type)
    name = "checkpoint-comparison" + ("-tables" if fmt == "zip" else "")
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response
