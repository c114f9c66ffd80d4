"""Typed readers for environment variables.

Every reader names the variable in its error, so a bad deployment fails at
start with a message that says what to fix instead of misbehaving later.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def read_bool(name: str, default: bool, environ: Mapping[str, str] = os.environ) -> bool:
    raw = environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={raw!r} is not a boolean; use one of 1/0, true/false, yes/no, on/off."
    )


def read_list(name: str, default: list[str], environ: Mapping[str, str] = os.environ) -> list[str]:
    raw = environ.get(name)
    if raw is None:
        return list(default)
    items = [item.strip() for item in raw.split(",")]
    if any(not item for item in items):
        raise ImproperlyConfigured(f"{name}={raw!r} has an empty entry; separate values by commas.")
    return items


def _read_whole_number(name: str, default, minimum: int, environ: Mapping[str, str]):
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r} must be a whole number of at least {minimum}.")
    return value


def read_positive_int(
    name: str, default: int | None, environ: Mapping[str, str] = os.environ
) -> int | None:
    return _read_whole_number(name, default, 1, environ)


def read_non_negative_int(name: str, default: int, environ: Mapping[str, str] = os.environ) -> int:
    return _read_whole_number(name, default, 0, environ)


def read_choice(
    name: str, choices: list[str], default: str, environ: Mapping[str, str] = os.environ
) -> str:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    if raw not in choices:
        raise ImproperlyConfigured(f"{name}={raw!r} must be one of: {', '.join(choices)}.")
    return raw


def is_device_name(text: str) -> bool:
    """auto, cpu, cuda, cuda:N or mps: the names a device setting, a run and a form take."""
    return re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", text) is not None


def read_device(name: str, default: str, environ: Mapping[str, str] = os.environ) -> str:
    """A torch device name: auto, cpu, cuda, cuda:N or mps (whether the machine has it is
    checked where a model is placed, since each machine reads its own environment)."""
    raw = environ.get(name, "").strip().lower()
    if not raw:
        return default
    if not is_device_name(raw):
        raise ImproperlyConfigured(
            f"{name}={raw!r} must be auto, cpu, cuda, cuda:N (a GPU's number) or mps."
        )
    return raw


def read_text(name: str, default: str = "", environ: Mapping[str, str] = os.environ) -> str:
    return environ.get(name, default).strip()


def read_directory(name: str, default: Path, environ: Mapping[str, str] = os.environ) -> Path:
    """A directory that exists or can be created; relative paths are refused."""
    raw = environ.get(name)
    path = default if raw is None else Path(raw)
    if raw is not None and not path.is_absolute():
        raise ImproperlyConfigured(f"{name}={raw!r} must be an absolute path.")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ImproperlyConfigured(f"{name}: cannot create directory {path}: {error}") from error
    if not os.access(path, os.W_OK):
        raise ImproperlyConfigured(f"{name}: directory {path} is not writable.")
    return path


def read_existing_file(name: str, default: Path, environ: Mapping[str, str] = os.environ) -> Path:
    """A file path; when set explicitly it must exist (a typo should not go unnoticed).

    The default may be missing: the system check for rendering reports that.
    """
    raw = environ.get(name)
    if raw is None:
        return default
    path = Path(raw)
    if not path.is_file():
        raise ImproperlyConfigured(f"{name}={raw!r}: no such file.")
    return path


def read_secret_key(name: str, fallback_file: Path, environ: Mapping[str, str] = os.environ) -> str:
    """The secret from the environment, or one generated once into `fallback_file`."""
    raw = environ.get(name)
    if raw is not None:
        if len(raw) < 32:
            raise ImproperlyConfigured(f"{name} is too short: use at least 32 characters.")
        return raw
    if fallback_file.exists():
        return fallback_file.read_text().strip()
    from django.core.management.utils import get_random_secret_key

    secret = get_random_secret_key()
    fallback_file.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(fallback_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secret)
    return secret


def read_database(name: str, default_sqlite: Path, environ: Mapping[str, str] = os.environ) -> dict:
    import dj_database_url

    raw = environ.get(name)
    if raw is None:
        config = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(default_sqlite)}
    else:
        try:
            config = dj_database_url.parse(raw, conn_max_age=60, conn_health_checks=True)
        except (ValueError, KeyError) as error:
            raise ImproperlyConfigured(f"{name} is not a usable database URL: {error}") from error
        if not config.get("ENGINE"):
            raise ImproperlyConfigured(f"{name}: unsupported database scheme in {raw!r}.")
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets the job worker write while the web server reads; IMMEDIATE
        # transactions avoid "database is locked" on lock upgrades.
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
        # Kept open between requests, as for PostgreSQL: a new SQLite connection parses the
        # schema again, and the last one to close checkpoints the WAL into the database.
        config.update(CONN_MAX_AGE=60, CONN_HEALTH_CHECKS=True)
    return config


LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1", "testserver", ".localhost"}


def refuse_debug_on_public_hosts(debug: bool, allowed_hosts: list[str]) -> None:
    """DEBUG shows settings and the URLconf to anyone who causes an error: a site that names
    a public host must not start with it on."""
    public = [
        host
        for host in allowed_hosts
        if host not in LOCAL_HOSTS
        and not host.endswith(".localhost")
        and not host.startswith("127.")
    ]
    if debug and public:
        raise ImproperlyConfigured(
            f"DEBUG is on while ALLOWED_HOSTS names public hosts ({', '.join(public)}): set "
            "EARSHOT_PRODUCTION=true (or DEBUG=false) to serve them"
        )
