"""Response headers and request limits that every page gets."""

from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe


def client_address(request) -> str:
    """The client's address: from the trusted proxy's header when one is configured.

    Rate limits and the login lockout both count by it."""
    if settings.CLIENT_IP_HEADER:
        forwarded = request.headers.get(settings.CLIENT_IP_HEADER, "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR", "")


class ContentSecurityPolicyMiddleware:
    """Adds the site's Content-Security-Policy unless a view set its own (a downloaded report)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response


class PrivateDownloadsMiddleware:
    """Every download (answers, reports, study files, model weights) is `private, no-store`:
    no shared proxy or browser cache keeps an experimenter's data after they log out."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.get("Content-Disposition", "").startswith("attachment"):
            response["Cache-Control"] = "private, no-store"
        return response


class RequestSizeLimitMiddleware:
    """A body larger than EARSHOT_MAX_UPLOAD_MB is refused before any of it is read.

    Django caps form fields but not uploaded files; without this a single request could
    fill the disk with a temporary upload.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.headers.get("Content-Length") or 0)
        except ValueError:
            return HttpResponse(
                "Content-Length is not a number.\n", status=400, content_type="text/plain"
            )
        if length > settings.MAX_UPLOAD_BYTES:
            megabytes = settings.MAX_UPLOAD_BYTES // (1024 * 1024)
            return HttpResponse(
                f"This request is too large: uploads may be at most {megabytes} MB.\n",
                status=413,
                content_type="text/plain",
            )
        return self.get_response(request)


@never_cache
@require_safe
def healthz(request):
    """For load balancers and monitors: 200 "ok"; with ?db=1 the database answers too."""
    if request.GET.get("db") == "1":
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    return HttpResponse("ok\n", content_type="text/plain")


def csrf_failure(request, reason: str = ""):
    """A form sent without its token (an expired page, cookies blocked, or a forged post)."""
    return HttpResponse(
        "This page has expired or your browser blocked its cookie, so nothing was saved from "
        "it. Please reload the page (your earlier answers are kept) and make sure cookies "
        "are allowed for this site.\n",
        status=403,
        content_type="text/plain; charset=utf-8",
    )
