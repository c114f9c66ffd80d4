"""Rate limits for the participant pages: fixed windows counted in the shared cache.

A participant is counted by their session; a browser without one (a script that drops
cookies) by its address. Starting a new participant is counted by address alone, so a
script cannot fill a study with empty participants.
"""

from __future__ import annotations

import functools
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse


def client_address(request) -> str:
    """The client's address: from the trusted proxy's header when one is configured."""
    if settings.CLIENT_IP_HEADER:
        forwarded = request.headers.get(settings.CLIENT_IP_HEADER, "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR", "")


def client_key(request) -> str:
    session_key = request.session.session_key if hasattr(request, "session") else None
    return f"session:{session_key}" if session_key else f"address:{client_address(request)}"


def spend(scope: str, key: str, *, limit: int, window_seconds: int) -> int:
    """Counts one request; returns 0 when allowed, else the seconds until the next window."""
    now = time.time()
    window = int(now // window_seconds)
    cache_key = f"earshot:rate:{scope}:{key}:{window}"
    if cache.add(cache_key, 1, timeout=window_seconds + 5):
        count = 1
    else:
        try:
            count = cache.incr(cache_key)
        except ValueError:  # the window's entry expired between add() and incr()
            cache.set(cache_key, 1, timeout=window_seconds + 5)
            count = 1
    if count <= limit:
        return 0
    return max(1, int(window_seconds - now % window_seconds) + 1)


def too_many(retry_after: int, what: str = "requests") -> HttpResponse:
    response = HttpResponse(
        f"Too many {what} from your browser. Nothing was lost: please wait {retry_after} "
        "seconds, then reload the page.\n",
        status=429,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(retry_after)
    return response


def per_participant(view):
    """At most EARSHOT_RATE_LIMIT_PER_MINUTE requests a minute from one participant."""

    @functools.wraps(view)
    def limited(request, *args, **kwargs):
        wait = spend(
            "participant",
            client_key(request),
            limit=settings.RATE_LIMIT_PER_MINUTE,
            window_seconds=60,
        )
        if wait:
            return too_many(wait)
        return view(request, *args, **kwargs)

    return limited


def join_allowed(request) -> int:
    """0 when this address may start another participant, else the seconds to wait."""
    return spend(
        "join", client_address(request), limit=settings.JOINS_PER_HOUR, window_seconds=3600
    )
