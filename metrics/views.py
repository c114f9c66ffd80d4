"""Report pages and downloads (staff only). The numbers come from metrics.reports."""

from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_safe

from metrics import reports
from metrics.analysis import Options
from metrics.forms import PowerForm
from metrics.statistics.power import listeners_for_preference, listeners_for_rating_difference
from studies.models import Study


def _options(request) -> Options:
    """The report options in the query string; ValueError names a bad one."""
    return Options(correction=request.GET.get("correction", "holm"))


@staff_member_required
@require_safe
def report(request, slug):
    study = get_object_or_404(Study, slug=slug)
    try:
        options = _options(request)
    except ValueError as error:
        return HttpResponseBadRequest(str(error))
    simulated = request.GET.get("simulated") == "1"
    built = reports.build_report(study, include_simulated=simulated, options=options)
    query = request.GET.urlencode()
    links = {
        fmt: reverse("metrics:download", args=[slug, fmt]) + (f"?{query}" if query else "")
        for fmt in reports.FORMATS
    }
    context = {**reports.report_context(built), "links": links}
    return render(request, "metrics/report_page.html", context)


@staff_member_required
@require_safe
def download(request, slug, fmt):
    if fmt not in reports.FORMATS:
        raise Http404("no such report format")
    study = get_object_or_404(Study, slug=slug)
    try:
        options = _options(request)
    except ValueError as error:
        return HttpResponseBadRequest(str(error))
    content_type, render_as = reports.FORMATS[fmt]
    simulated = request.GET.get("simulated") == "1"
    try:
        body = render_as(reports.build_report(study, include_simulated=simulated, options=options))
    except reports.ReportError as error:
        return HttpResponse(str(error), status=503, content_type="text/plain; charset=utf-8")
    response = HttpResponse(body, content_type=content_type)
    name = f"{study.slug}-report" + ("-tables" if fmt == "zip" else "")
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


@staff_member_required
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
