"""Report pages and downloads (staff only). The numbers come from metrics.reports."""

from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_safe

from metrics import reports
from metrics.statistics.multiple import METHODS
from studies.models import Study

DOWNLOADS = {
    "html": ("text/html; charset=utf-8", reports.to_html),
    "pdf": ("application/pdf", reports.to_pdf),
    "tex": ("text/x-tex; charset=utf-8", reports.to_latex),
    "zip": ("application/zip", reports.to_csv_zip),
    "json": ("application/json", reports.to_json),
}


def _options(request) -> dict:
    correction = request.GET.get("correction", "holm")
    if correction not in METHODS:
        raise ValueError(f"correction must be one of {', '.join(sorted(METHODS))}")
    return {"include_simulated": request.GET.get("simulated") == "1", "correction": correction}


@staff_member_required
@require_safe
def report(request, slug):
    study = get_object_or_404(Study, slug=slug)
    try:
        options = _options(request)
    except ValueError as error:
        return HttpResponseBadRequest(str(error))
    built = reports.build_report(study, **options)
    query = request.GET.urlencode()
    links = {
        fmt: reverse("metrics:download", args=[slug, fmt]) + (f"?{query}" if query else "")
        for fmt in DOWNLOADS
    }
    context = {**reports.report_context(built), "links": links}
    return render(request, "metrics/report_page.html", context)


@staff_member_required
@require_safe
def download(request, slug, fmt):
    if fmt not in DOWNLOADS:
        raise Http404("no such report format")
    study = get_object_or_404(Study, slug=slug)
    try:
        options = _options(request)
    except ValueError as error:
        return HttpResponseBadRequest(str(error))
    content_type, render_as = DOWNLOADS[fmt]
    try:
        body = render_as(reports.build_report(study, **options))
    except reports.ReportError as error:
        return HttpResponse(str(error), status=503, content_type="text/plain; charset=utf-8")
    response = HttpResponse(body, content_type=content_type)
    name = f"{study.slug}-report" + ("-tables" if fmt == "zip" else "")
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response
