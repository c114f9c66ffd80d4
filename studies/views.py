"""Experimenter pages: designing, building, running and exporting studies (staff only)."""

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from config.accounts import experimenter_required
from studies import exchange, preflight, selectors, services
from studies.design import BlockKind, SpecError
from studies.forms import AnswersUploadForm, CloneForm, SpecUploadForm, StudyBuilderForm
from studies.models import Study


@experimenter_required
@require_safe
def study_list(request):
    return render(
        request, "studies/list.html", {"studies": selectors.studies_with_counts(request.user)}
    )


def _create_and_build(request, spec, *, cloned_from: Study | None = None):
    with transaction.atomic():
        study = services.create_study(spec, user=request.user, cloned_from=cloned_from)
        services.start_build(study)
    messages.success(request, f"Study {study.slug} created; its clips are being prepared.")
    title = preflight.public_title_finding(study)
    if title.level == preflight.WARN:
        messages.warning(request, title.message)
    return redirect(study.build_job)


@experimenter_required
@require_http_methods(["GET", "POST"])
def study_new(request):
    builder = StudyBuilderForm(request.POST if "build" in request.POST else None)
    upload = SpecUploadForm(request.POST if "upload" in request.POST else None)
    for form, spec_of in ((builder, lambda f: f.spec), (upload, lambda f: f.study_spec)):
        if form.is_bound and form.is_valid():
            try:
                return _create_and_build(request, spec_of(form))
            except SpecError as error:
                form.add_error(None, str(error))
    return render(request, "studies/new.html", {"builder": builder, "upload": upload})


@experimenter_required
@require_safe
def study_detail(request, slug):
    study = selectors.study_for(
        request.user,
        slug,
        Study.objects.select_related("build_job", "render_profile", "created_by"),
    )
    return _detail_page(request, study)


def _detail_page(request, study: Study, *, import_form=None, status: int = 200):
    blocks = []
    for block in study.blocks.prefetch_related("systems"):
        table = selectors.stimulus_table(block)
        pairs = selectors.pair_table(block) if block.kind == BlockKind.PAIRWISE else []
        blocks.append({"block": block, "stimuli": table, "pairs": pairs})
    context = {
        "study": study,
        "counts": selectors.participant_counts(study),
        "blocks": blocks,
        "systems": study.systems.select_related("sample_set", "checkpoint", "dataset"),
        "exclusions": selectors.exclusions(study),
        "participants": selectors.recent_participants(study),
        "link": request.build_absolute_uri(study.participant_path()),
        "collaborators": study.collaborators.order_by("username"),
        "can_share": selectors.can_share(request.user, study),
        "clone_form": CloneForm(study=study),
        "import_form": import_form or AnswersUploadForm(),
        "launch_check": _launch_check(request, study),
    }
    return render(request, "studies/detail.html", context, status=status)


# Headers a proxy adds with the client's address: seeing one while EARSHOT_CLIENT_IP_HEADER is
# empty means every participant would be counted as the proxy.
PROXY_ADDRESS_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")


def _launch_check(request, study: Study) -> preflight.Preflight:
    seen = next((name for name in PROXY_ADDRESS_HEADERS if request.headers.get(name)), "")
    return preflight.preflight(study, forwarded_header=seen)


@experimenter_required
@require_POST
def study_state(request, slug):
    study = selectors.study_for(request.user, slug)
    state = request.POST.get("state")
    if state not in Study.State.values:
        messages.error(request, "Unknown state.")
        return redirect(study)
    try:
        services.set_state(study, state)
    except SpecError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"The study is {state} now.")
        if state == Study.State.OPEN:
            failed = _launch_check(request, study).failed
            if failed:
                messages.warning(
                    request, f"{failed} launch check(s) fail: see Before launch below."
                )
    return redirect(study)


@experimenter_required
@require_POST
def study_collaborators(request, slug):
    study = selectors.study_for(request.user, slug)
    if not selectors.can_share(request.user, study):
        return HttpResponseForbidden("Only the study's owner may change who shares it.")
    try:
        if request.POST.get("add"):
            person = services.share_study(study, request.POST["add"])
            messages.success(request, f"{person.get_username()} may now see and run this study.")
        elif request.POST.get("remove"):
            services.unshare_study(study, request.POST["remove"])
            messages.success(request, f"{request.POST['remove']} no longer shares this study.")
    except SpecError as error:
        messages.error(request, str(error))
    return redirect(study)


@experimenter_required
@require_POST
def study_build(request, slug):
    study = selectors.study_for(request.user, slug)
    try:
        services.ensure_clips_can_change(study)
    except SpecError as error:
        messages.error(request, str(error))
        return redirect(study)
    services.start_build(study)
    return redirect(study.build_job)


@experimenter_required
@require_POST
def study_clone(request, slug):
    study = selectors.study_for(request.user, slug)
    form = CloneForm(request.POST, study=study)
    if not form.is_valid():
        messages.error(request, f"Not cloned: {form.errors.as_text()}")
        return redirect(study)
    try:
        return _create_and_build(
            request, services.clone_spec(study, **form.cleaned_data), cloned_from=study
        )
    except SpecError as error:
        messages.error(request, f"Not cloned: {error}")
        return redirect(study)


@experimenter_required
@require_safe
def study_spec(request, slug):
    study = selectors.study_for(request.user, slug)
    response = HttpResponse(study.design.to_toml(), content_type="application/toml")
    response["Content-Disposition"] = f'attachment; filename="{study.slug}.toml"'
    return response


@experimenter_required
@require_safe
def answers_export(request, slug, fmt):
    if fmt not in ("csv", "json"):
        raise Http404("answers export as .csv or .json")
    study = selectors.study_for(request.user, slug)
    rows = selectors.answer_rows(study, include_previews=request.GET.get("previews") == "1")
    if fmt == "csv":
        body, content_type = exchange.to_csv(rows, selectors.EXPORT_COLUMNS), "text/csv"
    else:
        body = exchange.to_json(rows, study=study.slug, columns=selectors.EXPORT_COLUMNS)
        content_type = "application/json"
    response = HttpResponse(body, content_type=f"{content_type}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{study.slug}-answers.{fmt}"'
    return response


@experimenter_required
@require_POST
def answers_import(request, slug):
    """Answers gathered elsewhere. A file that cannot be read, or any bad row, imports
    nothing and comes back as a 400 naming the problems."""
    study = selectors.study_for(request.user, slug)
    form = AnswersUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _detail_page(request, study, import_form=form, status=400)
    try:
        rows = exchange.read_rows(form.cleaned_data["file"].read().decode("utf-8"))
    except (UnicodeDecodeError, exchange.FormatError) as error:
        form.add_error("file", f"Nothing imported: {error}")
        return _detail_page(request, study, import_form=form, status=400)
    report = services.import_answers(study, rows)
    if report.errors:
        shown = "; ".join(report.errors[:10])
        more = f" (and {len(report.errors) - 10} more)" if len(report.errors) > 10 else ""
        form.add_error("file", f"Nothing imported: {shown}{more}")
        return _detail_page(request, study, import_form=form, status=400)
    messages.success(request, report.summary)
    return redirect(study)


@experimenter_required
@require_safe
def study_preregistration(request, slug):
    """The analysis plan frozen when the study opened, byte for byte as hashed."""
    study = selectors.study_for(request.user, slug)
    if not study.preregistration:
        raise Http404("this study has no frozen analysis plan")
    response = HttpResponse(
        study.preregistration.encode("utf-8"), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{study.slug}-preregistration.json"'
    return response
