"""Rate limits for the participant pages: fixed windows, counted in the database (shared by
every web machine) or in tally files in this machine's cache folder (EARSHOT_RATE_LIMIT_STORE).

A participant who has joined is counted by the signed identity cookie the join gave them;
any other browser (a first visit, a script that drops or mints cookies) by its address, so
a new cookie never starts a new count. Starting a new participant is counted by address
alone, so a script cannot fill a study with empty participants.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import hashlib
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from django.utils import translation
from django.utils.translation import gettext

from config.security import client_address
from studies.models import RateWindow, Study

# Share of counted requests that also delete the windows that have ended, so the table stays
# the size of the current windows without a separate clean-up job.
SWEEP_SHARE = 0.002


IDENTITY_COOKIE = "earshot_participant_{key}"
COOKIE_SALT = "earshot.participant"


@dataclass(frozen=True)
class Identity:
    """A browser's participant id for one study, and whether it has joined the study."""

    public_id: str
    joined: bool

    @property
    def value(self) -> str:
        return f"{self.public_id}:{int(self.joined)}"


def participant_identity(request, key: str) -> Identity | None:
    """The identity this browser's cookie for study `key` carries, when its signature holds."""
    value = request.get_signed_cookie(
        IDENTITY_COOKIE.format(key=key), default=None, salt=COOKIE_SALT
    )
    public_id, _, joined = (value or "").partition(":")
    if not public_id or joined not in ("0", "1"):
        return None
    return Identity(public_id=public_id, joined=joined == "1")


def client_key(request, study_key: str = "") -> str:
    identity = participant_identity(request, study_key) if study_key else None
    if identity is not None and identity.joined:
        return f"participant:{identity.public_id}"
    return f"address:{client_address(request)}"


def spend(scope: str, key: str, *, limit: int, window_seconds: int) -> int:
    """Counts one request; returns 0 when allowed, else the seconds until the next window."""
    now = time.time()
    window = int(now // window_seconds)
    window_key = f"earshot:rate:{scope}:{key}:{window}"
    ends_at = (window + 1) * window_seconds
    if settings.RATE_LIMIT_STORE == "database":
        count = _count_in_database(window_key[:250], ends_at)
    else:
        count = _count_on_this_machine(window_key, ends_at)
    if count <= limit:
        return 0
    return max(1, int(window_seconds - now % window_seconds) + 1)


def _count_on_this_machine(window_key: str, ends_at: float) -> int:
    """One byte appended to the window's tally file; the file's length is the count.

    Appends (O_APPEND) from any number of processes and threads are atomic, so every request
    is counted, where a cache's increment (read, then write back) loses counts made at the
    same moment. It is also a third of the work: Django's file cache listed its whole
    folder on every write, which with a few hundred participants took a third of the web
    workers' time in benchmarks/participant_capacity.py (sampled with py-spy)."""
    folder = Path(settings.RATE_LIMIT_DIR)
    name = hashlib.sha256(window_key.encode()).hexdigest()[:32]
    path = folder / f"{int(ends_at)}-{name}"
    try:
        handle = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except FileNotFoundError:
        folder.mkdir(parents=True, exist_ok=True)
        handle = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(handle, b".")
        # Where this write left the file's offset: this request's own place in the count.
        # The file's size instead can already include a write made a moment later by
        # another process, and two requests then both read the later count (a test saw 59
        # of 60 allowed).
        counted = os.lseek(handle, 0, os.SEEK_CUR)
    finally:
        os.close(handle)
    if random.random() < SWEEP_SHARE:
        _sweep_tallies(folder)
    return counted


def _sweep_tallies(folder: Path) -> None:
    """Deletes the tally files of windows that have ended (their names start with the end)."""
    now = time.time()
    for entry in os.scandir(folder):
        ends_at, _, _ = entry.name.partition("-")
        if ends_at.isdigit() and int(ends_at) < now:
            with contextlib.suppress(FileNotFoundError):  # another process swept it first
                os.unlink(entry.path)


def _count_in_database(window_key: str, ends_at: float) -> int:
    """One atomic statement (an upsert, on SQLite and PostgreSQL alike): two machines counting
    the same window at the same moment both get counted."""
    expires_at = datetime.datetime.fromtimestamp(ends_at, tz=datetime.UTC)
    quote = connection.ops.quote_name
    table, count = quote(RateWindow._meta.db_table), quote("count")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({quote('key')}, {count}, {quote('expires_at')}) "
            f"VALUES (%s, 1, %s) ON CONFLICT ({quote('key')}) "
            f"DO UPDATE SET {count} = {table}.{count} + 1 RETURNING {count}",
            [window_key, connection.ops.adapt_datetimefield_value(expires_at)],
        )
        counted = cursor.fetchone()[0]
    if random.random() < SWEEP_SHARE:
        RateWindow.objects.filter(expires_at__lt=datetime.datetime.now(tz=datetime.UTC)).delete()
    return counted


def too_many(retry_after: int, *, joins: bool = False) -> HttpResponse:
    """A 429 in the active language (the study's, where the caller knows it)."""
    message = (
        gettext(
            "Too many new participants from your browser. Nothing was lost: please wait "
            "%(seconds)s seconds, then reload the page."
        )
        if joins
        else gettext(
            "Too many requests from your browser. Nothing was lost: please wait %(seconds)s "
            "seconds, then reload the page."
        )
    )
    response = HttpResponse(
        message % {"seconds": retry_after} + "\n",
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
            client_key(request, kwargs.get("key", "")),
            limit=settings.RATE_LIMIT_PER_MINUTE,
            window_seconds=60,
        )
        if wait:
            # Rare, so one query for the study's language is no cost on the hot path.
            language = (
                Study.objects.filter(access_key=kwargs.get("key", ""))
                .values_list("language", flat=True)
                .first()
            )
            with translation.override(language or settings.LANGUAGE_CODE):
                return too_many(wait)
        return view(request, *args, **kwargs)

    return limited


def join_allowed(request) -> int:
    """0 when this address may start another participant, else the seconds to wait."""
    return spend(
        "join", client_address(request), limit=settings.JOINS_PER_HOUR, window_seconds=3600
    )
