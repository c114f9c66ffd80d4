"""Bad environment values stop the site at start, naming the variable."""

import json
import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from config import env
from tests.conftest import REPO


def test_boolean_variables_accept_the_usual_spellings():
    assert env.read_bool("DEBUG", False, {"DEBUG": "yes"}) is True
    assert env.read_bool("DEBUG", True, {"DEBUG": "0"}) is False
    assert env.read_bool("DEBUG", True, {}) is True


def test_a_mistyped_boolean_names_the_variable():
    with pytest.raises(ImproperlyConfigured, match="DEBUG='ture'"):
        env.read_bool("DEBUG", False, {"DEBUG": "ture"})


def test_device_names_are_read_as_torch_spells_them():
    assert env.read_device("EARSHOT_DEVICE", "auto", {}) == "auto"
    for name in ("cpu", "CUDA", "cuda:1", "mps", "auto"):
        assert env.read_device("EARSHOT_DEVICE", "auto", {"EARSHOT_DEVICE": name}) == name.lower()


def test_allowed_hosts_refuses_empty_entries():
    assert env.read_list("ALLOWED_HOSTS", [], {"ALLOWED_HOSTS": "a.org, b.org"}) == [
        "a.org",
        "b.org",
    ]
    with pytest.raises(ImproperlyConfigured, match="ALLOWED_HOSTS"):
        env.read_list("ALLOWED_HOSTS", [], {"ALLOWED_HOSTS": "a.org,,b.org"})


def test_database_url_for_postgres_and_garbage(tmp_path):
    config = env.read_database(
        "DATABASE_URL", tmp_path / "x.sqlite3", {"DATABASE_URL": "postgres://u:p@db:5433/earshot"}
    )
    assert (config["ENGINE"], config["HOST"], config["PORT"], config["NAME"]) == (
        "django.db.backends.postgresql",
        "db",
        5433,
        "earshot",
    )
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        env.read_database("DATABASE_URL", tmp_path / "x.sqlite3", {"DATABASE_URL": "nosuchdb://x"})


def test_default_sqlite_uses_write_ahead_logging(tmp_path):
    config = env.read_database("DATABASE_URL", tmp_path / "x.sqlite3", {})
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]
    # Kept open between requests: reconnecting parsed the schema again at every request.
    assert config["CONN_MAX_AGE"] > 0


def test_secret_key_is_generated_once_and_kept_private(tmp_path):
    secret_file = tmp_path / "secret_key"
    first = env.read_secret_key("SECRET_KEY", secret_file, {})
    assert env.read_secret_key("SECRET_KEY", secret_file, {}) == first
    assert len(first) >= 50
    assert secret_file.stat().st_mode & 0o077 == 0
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY is too short"):
        env.read_secret_key("SECRET_KEY", secret_file, {"SECRET_KEY": "short"})


def test_a_missing_soundfont_file_is_reported(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="EARSHOT_SOUNDFONT"):
        env.read_existing_file(
            "EARSHOT_SOUNDFONT", tmp_path / "d.sf2", {"EARSHOT_SOUNDFONT": "/nope.sf2"}
        )


def test_relative_data_dir_is_refused():
    with pytest.raises(
        ImproperlyConfigured, match="EARSHOT_DATA_DIR='var' must be an absolute path"
    ):
        env.read_directory("EARSHOT_DATA_DIR", REPO / "var", {"EARSHOT_DATA_DIR": "var"})


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DEBUG", "sometimes"),
        ("DATABASE_URL", "nosuchdb://x"),
        ("EARSHOT_SOUNDFONT", "/missing.sf2"),
        ("EARSHOT_HSTS_SECONDS", "600"),  # HSTS without EARSHOT_HTTPS
        ("EARSHOT_HSTS_SECONDS", "-1"),
        ("EARSHOT_RATE_LIMIT_PER_MINUTE", "0"),
        ("EARSHOT_WEB_WORKERS", "many"),
        ("EARSHOT_RATE_LIMIT_STORE", "redis"),
        ("EARSHOT_DEVICE", "gpu"),
        ("EARSHOT_DEVICE", "cuda:first"),
    ],
)
def test_manage_py_fails_at_start_naming_the_variable(variable, value, tmp_path):
    environment = {**os.environ, variable: value, "EARSHOT_DATA_DIR": str(tmp_path)}
    command = ["manage.py", "check"]
    if variable == "EARSHOT_WEB_WORKERS":  # read by gunicorn's settings file
        command = ["-c", "import runpy; runpy.run_path('config/gunicorn.conf.py')"]
    run = subprocess.run(
        [sys.executable, *command],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert run.returncode != 0
    assert variable in run.stderr


def test_https_deployments_get_secure_cookies_and_opt_in_hsts(tmp_path):
    show = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER]))"
    )

    def settings_under(**variables) -> list:
        environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith("EARSHOT_")},
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "EARSHOT_DATA_DIR": str(tmp_path),
            **variables,
        }
        environment.pop("DEBUG", None)
        run = subprocess.run(
            [sys.executable, "-c", show], cwd=REPO, env=environment, capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr
        return json.loads(run.stdout)

    assert settings_under(EARSHOT_PRODUCTION="true") == [False, False, False, False, 0, None]
    assert settings_under(EARSHOT_PRODUCTION="true", EARSHOT_HTTPS="true") == [
        False, True, True, True, 0, ["HTTP_X_FORWARDED_PROTO", "https"],
    ]  # fmt: skip
    assert settings_under(EARSHOT_HTTPS="1", EARSHOT_HSTS_SECONDS="31536000")[4] == 31536000


def test_commands_write_nothing_stray_on_standard_output_when_ci_is_set(tmp_path):
    # pyfluidsynth announces where it found its library on stdout when CI is set; a
    # researcher's `dumpdata > study.json` or `export_answers --format json > a.json`
    # on such a machine would get that line at the top of the file.
    environment = {**os.environ, "CI": "true", "EARSHOT_DATA_DIR": str(tmp_path)}

    def manage(*args: str) -> str:
        run = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env=environment,
            capture_output=True,
            text=True,
        )
        assert run.returncode == 0, run.stderr
        return run.stdout

    manage("migrate", "--verbosity", "0")
    assert json.loads(manage("dumpdata", "studies.Study", "generation.Dataset")) == []


def test_an_unhandled_error_is_logged_with_its_traceback_and_request_id(settings, caplog):
    import logging

    from django.test import Client

    settings.ROOT_URLCONF = "tests.config.failing_urls"
    settings.DEBUG = False
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = Client(raise_request_exception=False).get("/boom/")
    assert response.status_code == 500
    request_id = response["X-Request-ID"]
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.exc_info and "a deliberate failure" in str(record.exc_info[1])
    assert record.request_id == request_id
    handler = logging.getLogger("django.request").handlers[0]
    assert request_id in handler.format(record) and "Traceback" in handler.format(record)


def test_a_sentry_dsn_without_the_package_fails_loudly():
    import importlib.util

    import pytest
    from django.core.exceptions import ImproperlyConfigured

    from config.logs import start_sentry

    if importlib.util.find_spec("sentry_sdk") is None:
        with pytest.raises(ImproperlyConfigured, match="sentry-sdk is not installed"):
            start_sentry("https://key@sentry.example/1", "test")


def test_debug_never_serves_a_public_host_and_gunicorn_runs_production(tmp_path):
    show = "import django; django.setup(); from django.conf import settings as s; print(s.DEBUG)"
    base = {
        **{k: v for k, v in os.environ.items() if not k.startswith("EARSHOT_") and k != "DEBUG"},
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "EARSHOT_DATA_DIR": str(tmp_path),
    }

    def start(code: str, **variables) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", code],
            cwd=REPO,
            env={**base, **variables},
            capture_output=True,
            text=True,
        )

    refused = start(show, ALLOWED_HOSTS="study.example.org")
    assert refused.returncode != 0 and "DEBUG is on while ALLOWED_HOSTS" in refused.stderr
    assert start(show, ALLOWED_HOSTS="study.example.org", DEBUG="false").stdout.strip() == "False"
    assert start(show).stdout.strip() == "True"  # the demo on localhost keeps DEBUG
    # The README's command for machines 2..n: gunicorn's settings file, then the app.
    gunicorn = start(
        "import runpy; runpy.run_path('config/gunicorn.conf.py'); " + show,
        ALLOWED_HOSTS="study.example.org",
    )
    assert gunicorn.returncode == 0 and gunicorn.stdout.strip() == "False", gunicorn.stderr


def test_gunicorn_workers_fork_with_the_whole_site_imported(tmp_path):
    # gunicorn imports config.wsgi once and forks its workers from that process. Whatever the
    # first request still has to import, every new worker imports while its accepted
    # requests wait: the URLconf pulled in PyTorch and SciPy, and each worker that
    # max_requests replaced held participants' answers for several seconds.
    first_request = (
        "import io, sys, json; import config.wsgi as w; before = set(sys.modules); "
        "environ = {'REQUEST_METHOD': 'GET', 'PATH_INFO': '/healthz', 'SERVER_NAME': "
        "'127.0.0.1', 'SERVER_PORT': '80', 'wsgi.input': io.BytesIO(), 'wsgi.url_scheme': "
        "'http', 'REMOTE_ADDR': '127.0.0.1'}; statuses = []; "
        "b''.join(w.application(environ, lambda status, headers: statuses.append(status))); "
        "print(json.dumps([statuses, sorted(set(sys.modules) - before)]))"
    )
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("EARSHOT_") and k != "DEBUG"},
        "EARSHOT_DATA_DIR": str(tmp_path),
        "EARSHOT_PRODUCTION": "true",
    }
    run = subprocess.run(
        [sys.executable, "-c", first_request],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    statuses, imported = json.loads(run.stdout.strip().splitlines()[-1])
    assert statuses == ["200 OK"]
    heavy = ("torch", "scipy", "numpy", "config.", "studies", "metrics", "generation")
    assert [name for name in imported if name.startswith(heavy)] == []
