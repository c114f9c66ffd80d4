"""Error logging: every unhandled error goes to standard error with its traceback and the
request's id (also sent back as X-Request-ID, so a participant's report can be matched to
the log line); Sentry receives them too when SENTRY_DSN is set."""

from __future__ import annotations

import contextvars
import logging
import re
import uuid

from django.core.exceptions import ImproperlyConfigured

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    """Takes a trusted proxy's X-Request-ID when it looks like one, or makes one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get("X-Request-ID", "")
        request_id = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        token = _request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response["X-Request-ID"] = request_id
        return response


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True


def start_sentry(dsn: str, environment: str) -> None:
    """Sentry is optional: `pip install earshot[sentry]`; a DSN without the package fails
    loudly at start rather than losing the errors quietly."""
    if not dsn:
        return
    try:
        import sentry_sdk
        from sentry_sdk.integrations.django import DjangoIntegration
    except ImportError as error:
        raise ImproperlyConfigured(
            "SENTRY_DSN is set but sentry-sdk is not installed: pip install 'earshot[sentry]'"
        ) from error
    sentry_sdk.init(dsn=dsn, environment=environment, integrations=[DjangoIntegration()])
