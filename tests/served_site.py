"""earshot as `make serve` runs it, in a throwaway data folder: for the fault tests and the
participant-burst benchmark.

A ServedSite has its own EARSHOT_DATA_DIR (and database: SQLite in that folder, or the
DATABASE_URL given), a rehearsal study made by `create_load_study`, and gunicorn (and, when
asked, the job worker) started as subprocesses with production settings.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from generation.music.corpora import JS_FAKES_MIDI

REPO = Path(__file__).resolve().parent.parent
# What a participant's browser reads off a trial page: the trial's token and its MP3 clip.
TRIAL_TOKEN = re.compile(r'name="trial" value="([^"]+)"')
TRIAL_CLIP = re.compile(r'<source src="([^"]+\.mp3)"')
BIN = Path(sys.executable).parent
JS_FAKES = JS_FAKES_MIDI


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServedSite:
    def __init__(
        self,
        data_dir: Path,
        *,
        database_url: str | None = None,
        web_workers: int = 3,
        web_threads: int = 4,
        extra_env: dict | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DEBUG")},
            "EARSHOT_DATA_DIR": str(self.data_dir),
            "EARSHOT_PRODUCTION": "true",
            "EARSHOT_BIND": f"127.0.0.1:{self.port}",
            "EARSHOT_WEB_WORKERS": str(web_workers),
            "EARSHOT_WEB_THREADS": str(web_threads),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "PYTHONPATH": str(REPO),
            **(extra_env or {}),
        }
        self.env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        if database_url:
            self.env["DATABASE_URL"] = database_url
        self.web: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.study_path = ""

    # Setting up ------------------------------------------------------------------------

    def manage(self, *args: str, timeout: float = 600) -> str:
        done = subprocess.run(
            [str(BIN / "python"), str(REPO / "manage.py"), *args],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def prepare(
        self, *, trials: int = 20, clip_seconds: float = 8.0, answer_timing: str = "refuse"
    ) -> str:
        """Migrates, collects static files, creates the rehearsal study; its path."""
        self.manage("migrate", "--noinput")
        self.manage("collectstatic", "--noinput", "--verbosity", "0")
        output = self.manage(
            "create_load_study",
            "--midi-dir",
            str(JS_FAKES),
            "--trials",
            str(trials),
            "--clip-seconds",
            str(clip_seconds),
            "--answer-timing",
            answer_timing,
        )
        self.study_path = output.strip().splitlines()[-1]
        return self.study_path

    # Running ---------------------------------------------------------------------------

    def start_web(self, timeout: float = 60) -> None:
        self.web = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", str(REPO / "config" / "gunicorn.conf.py"), "config.wsgi"],
            env=self.env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=open(self.data_dir / "gunicorn.log", "ab"),  # noqa: SIM115
        )
        self.wait_until_up(timeout)

    def wait_until_up(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.base_url}/healthz?db=1", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            if self.web is not None and self.web.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log_tail()}")
            time.sleep(0.2)
        raise RuntimeError(f"the site did not come up in {timeout} s: {self.log_tail()}")

    def log_tail(self) -> str:
        log = self.data_dir / "gunicorn.log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else ""

    def web_worker_pids(self) -> list[int]:
        """The gunicorn worker processes (children of the master)."""
        assert self.web is not None
        children = Path(f"/proc/{self.web.pid}/task/{self.web.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def stop_web(self, sig: int = signal.SIGTERM) -> None:
        if self.web is not None and self.web.poll() is None:
            workers = self.web_worker_pids() if sig == signal.SIGKILL else []
            self.web.send_signal(sig)
            for pid in workers:  # a killed master leaves its workers to be killed too
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.web.wait(timeout=30)
        self.web = None

    def start_worker(self) -> subprocess.Popen:
        self.worker = subprocess.Popen(
            [str(BIN / "python"), str(REPO / "manage.py"), "run_worker", "--interval", "0.2"],
            env=self.env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=open(self.data_dir / "worker.log", "ab"),  # noqa: SIM115
        )
        return self.worker

    def stop(self) -> None:
        self.stop_web()
        if self.worker is not None and self.worker.poll() is None:
            self.worker.kill()
            self.worker.wait(timeout=30)


@contextlib.contextmanager
def served_on(engine: str, name: str, **site_options) -> Iterator[ServedSite]:
    """A ServedSite in a new temporary folder, on SQLite or (engine "postgres") a throwaway
    PostgreSQL cluster in that folder; the site and the cluster are stopped afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=f"earshot-{name}-{engine}-"))
    folder.chmod(0o755)  # the cluster runs as the postgres user when we are root
    cluster = [str(REPO / "scripts" / "throwaway-postgres")]
    database_url = None
    if engine == "postgres":
        database_url = subprocess.run(
            [*cluster, "start", str(folder / "pg")], check=True, capture_output=True, text=True
        ).stdout.strip()
    site = ServedSite(folder / "site", database_url=database_url, **site_options)
    try:
        yield site
    finally:
        site.stop()
        if engine == "postgres":
            subprocess.run([*cluster, "stop", str(folder / "pg")])
