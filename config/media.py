"""Serving MEDIA_ROOT with HTTP range requests, to experimenters only.

Browsers read an Ogg clip's length from its last page and seek by ranges;
without range support they guess the duration and cannot seek. Participants never
see MEDIA_ROOT: a study serves them its clips under opaque per-trial addresses
(studies.participant_views), so no path can tell them which system made a clip.
"""

import mimetypes
import re
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponse
from django.utils._os import safe_join
from django.views.decorators.http import require_safe

from config.accounts import experimenter_required

RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
mimetypes.add_type("audio/ogg", ".ogg")
mimetypes.add_type("audio/mpeg", ".mp3")
mimetypes.add_type("audio/flac", ".flac")
mimetypes.add_type("audio/midi", ".mid")


@experimenter_required
@require_safe
def serve_media(request, path: str):
    try:
        target = Path(safe_join(settings.MEDIA_ROOT, path))
    except Exception as error:  # safe_join raises SuspiciousFileOperation on ../ escapes
        raise Http404("no such file") from error
    if not target.is_file() or target.name.startswith("."):
        raise Http404("no such file")
    return file_with_ranges(request, target)


def file_with_ranges(request, target: Path, content_type: str | None = None):
    """The file, or the byte range the request asks for; no file name goes with it.

    No Last-Modified or ETag either: both would tell a listener which clips were made
    together, or that a clip is one heard before.
    """
    content_type = (
        content_type or mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    )
    if settings.X_ACCEL_PREFIX:
        return _handed_to_proxy(target, content_type)
    size = target.stat().st_size
    match = RANGE.match(request.headers.get("Range", ""))
    if not match or match.groups() == ("", ""):
        # FileResponse closes the file when the response is done.
        response = FileResponse(open(target, "rb"), content_type=content_type)  # noqa: SIM115
        del response["Content-Disposition"]  # FileResponse names the file on its own
        response["Accept-Ranges"] = "bytes"
        return response
    first, last = match.groups()
    if first == "":  # the final N bytes
        start, end = max(0, size - int(last)), size - 1
    else:
        start, end = int(first), min(int(last) if last else size - 1, size - 1)
    if start >= size or start > end:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    with open(target, "rb") as handle:
        handle.seek(start)
        body = handle.read(end - start + 1)
    response = HttpResponse(body, status=206, content_type=content_type)
    response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Accept-Ranges"] = "bytes"
    return response


def _handed_to_proxy(target: Path, content_type: str) -> HttpResponse:
    """nginx serves the bytes (ranges included) from an internal location; the header
    naming the file goes no further than nginx."""
    relative = target.resolve().relative_to(Path(settings.MEDIA_ROOT).resolve())
    response = HttpResponse(content_type=content_type)
    response["X-Accel-Redirect"] = settings.X_ACCEL_PREFIX.rstrip("/") + "/" + relative.as_posix()
    return response
