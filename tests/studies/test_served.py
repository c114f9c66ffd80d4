"""The production server (gunicorn, as `make serve` runs it) under faults: a web worker
killed mid-burst, the whole server restarted mid-study, the job worker killed mid-render.

Each test talks to the server over real HTTP, like a browser, and then reads the server's
own database (through `manage.py dumpdata`) to see what was stored.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import requests
import soundfile

from tests.served_site import TRIAL_CLIP, TRIAL_TOKEN, ServedSite

pytestmark = pytest.mark.served

TRIALS = 20


def own_database(tmp_path: Path) -> str | None:
    """On a PostgreSQL run, a fresh database of its own for the served site."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        return None
    import psycopg

    name = f"served_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url.replace("postgres://", "postgresql://"), autocommit=True) as db:
        db.execute(f"CREATE DATABASE {name}")
    return url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("served")
    served = ServedSite(
        folder,
        database_url=own_database(folder),
        web_workers=3,
        # These participants answer as fast as the server lets them, far faster than people.
        extra_env={"EARSHOT_WORKER_STALE_SECONDS": "3", "EARSHOT_RATE_LIMIT_PER_MINUTE": "100000"},
    )
    # These scripted participants answer at once: the faults, not the timing, are under test.
    served.prepare(trials=TRIALS, clip_seconds=1.0, answer_timing="flag")
    served.start_web()
    yield served
    served.stop()


class Participant:
    """One browser: a cookie jar, and an answer for every trial it is shown."""

    def __init__(self, site: ServedSite, number: int) -> None:
        self.site = site
        self.http = requests.Session()
        self.url = site.base_url + site.study_path
        self.number = number
        self.answers: dict[str, int] = {}  # trial token -> rating sent
        self.retries = 0

    def _send(self, method: str, url: str, **kwargs) -> requests.Response:
        """A request, repeated (same body) until the server answers it without a 5xx."""
        for attempt in range(40):
            try:
                response = self.http.request(method, url, timeout=30, **kwargs)
                if response.status_code < 500:
                    return response
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                pass  # the worker died mid-response: send it again, as a browser would
            self.retries += 1
            time.sleep(0.05 * (attempt + 1))
        raise AssertionError(f"{method} {url} kept failing")

    def page(self) -> str:
        response = self._send("GET", self.url)
        assert response.status_code == 200, response.text[:300]
        return response.text

    def post(self, form: dict) -> str:
        csrf = self.http.cookies.get("csrftoken")
        response = self._send(
            "POST",
            self.url,
            data={**form, "csrfmiddlewaretoken": csrf},
            headers={"Referer": self.url},
        )
        assert response.status_code == 200, response.text[:300]  # after the redirect
        return response.text

    def start(self) -> str:
        self.page()
        self.post({"step": "consent", "consent": "yes"})
        self.post(
            {
                "step": "questionnaire",
                "age_band": "25-34",
                "musical_training": "1",
                "listening_device": "headphones",
            }
        )
        return self.post({"step": "instructions"})

    def answer(self, page: str) -> str:
        token = TRIAL_TOKEN.search(page).group(1)
        clip = TRIAL_CLIP.search(page).group(1)
        audio = self._send("GET", self.site.base_url + clip, headers={"Range": "bytes=0-"})
        assert audio.status_code == 206 and len(audio.content) > 1000
        rating = 1 + (self.number + len(self.answers)) % 10
        self.answers[token] = rating
        form = {"step": "trials", "trial": token, "rating": str(rating)}
        return self.post({**form, "plays_0": "1", "ended_0": "1", "listening_seconds": "1.0"})


def stored(site: ServedSite) -> tuple[dict, dict]:
    """Trials by token and responses by trial id, read from the server's database."""
    rows = json.loads(site.manage("dumpdata", "studies.Trial", "studies.Response"))
    trials = {
        row["fields"]["token"]: {"pk": row["pk"], **row["fields"]}
        for row in rows
        if row["model"] == "studies.trial"
    }
    responses = Counter(
        row["fields"]["trial"] for row in rows if row["model"] == "studies.response"
    )
    ratings = {
        row["fields"]["trial"]: row["fields"]["rating"]
        for row in rows
        if row["model"] == "studies.response"
    }
    return trials, {"counts": responses, "ratings": ratings}


def assert_each_answer_stored_once(site: ServedSite, participants: list[Participant]) -> None:
    trials, responses = stored(site)
    for person in participants:
        assert len(person.answers) == TRIALS
        for token, rating in person.answers.items():
            trial = trials[token]["pk"]
            assert responses["counts"][trial] == 1, (
                f"trial {token}: {responses['counts'][trial]} answers"
            )
            assert responses["ratings"][trial] == rating
    # Nothing else stored for these participants: no stray or duplicate answers, no gaps.
    theirs = {trials[token]["participant"] for person in participants for token in person.answers}
    their_trials = [t for t in trials.values() if t["participant"] in theirs]
    assert len(their_trials) == TRIALS * len(participants)
    assert all(responses["counts"][t["pk"]] == 1 for t in their_trials)


def test_the_production_server_runs_without_debug_and_caches_static_files(site):
    missing = requests.get(site.base_url + "/no-such-page/")
    assert missing.status_code == 404 and "Traceback" not in missing.text
    assert "DEBUG = True" not in missing.text
    home = requests.get(site.base_url + "/").text
    stylesheet = re.search(r'href="(/static/site/earshot\.[0-9a-f]{12}\.css)"', home).group(1)
    response = requests.get(site.base_url + stylesheet)
    assert response.status_code == 200 and "immutable" in response.headers["Cache-Control"]
    assert "max-age=315360000" in response.headers["Cache-Control"]


def test_a_web_worker_killed_mid_burst_loses_and_doubles_no_answer(site):
    participants = [Participant(site, number) for number in range(9)]
    errors = []

    def take_part(person: Participant) -> None:
        try:
            page = person.start()
            while 'name="trial"' in page:
                page = person.answer(page)
            assert "completion-code" in page
        except Exception as error:  # reported below, with the participant
            errors.append((person.number, error))

    threads = [threading.Thread(target=take_part, args=(p,)) for p in participants]
    for thread in threads:
        thread.start()
    killed = 0
    deadline = time.monotonic() + 120
    while killed < 3 and time.monotonic() < deadline:
        time.sleep(0.7)
        if sum(len(p.answers) for p in participants) >= (killed + 1) * 30:
            victim = site.web_worker_pids()[0]
            os.kill(victim, signal.SIGKILL)
            killed += 1
    for thread in threads:
        thread.join(timeout=180)
    assert not errors, errors
    assert killed == 3
    print(
        f"killed 3 web workers; the participants retried {sum(p.retries for p in participants)} requests"
    )
    assert_each_answer_stored_once(site, participants)
    site.wait_until_up()  # gunicorn replaced the killed workers


def test_participants_resume_after_the_whole_server_restarts(site):
    person = Participant(site, 100)
    page = person.start()
    for _ in range(5):
        page = person.answer(page)
    assert "Question 6 of 20" in page
    site.stop_web(signal.SIGKILL)  # a crash: no graceful shutdown
    with pytest.raises(requests.ConnectionError):
        requests.get(site.base_url + "/healthz", timeout=2)
    site.start_web()
    page = person.page()  # the same browser, its cookie kept
    assert "Question 6 of 20" in page
    while 'name="trial"' in page:
        page = person.answer(page)
    assert "completion-code" in page
    assert_each_answer_stored_once(site, [person])


def log_in(site: ServedSite) -> requests.Session:
    site.env["DJANGO_SUPERUSER_PASSWORD"] = "drill-pass-123"
    site.manage("createsuperuser", "--noinput", "--username", "drill", "--email", "d@x.org")
    browser = requests.Session()
    login = site.base_url + "/login/"
    browser.get(login)
    response = browser.post(
        login,
        data={
            "username": "drill",
            "password": "drill-pass-123",
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
            "next": "/",
        },
        headers={"Referer": login},
    )
    assert response.status_code == 200 and "sessionid" in browser.cookies
    return browser


def test_a_job_worker_killed_mid_render_is_replaced_and_serves_no_half_clip(site):
    browser = log_in(site)
    page = browser.get(site.base_url + "/samples/load-a/").text
    assert "Render" in page
    response = browser.post(
        site.base_url + "/samples/load-a/render/",
        data={"csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        headers={"Referer": site.base_url + "/samples/load-a/"},
    )
    job_url = response.url.split("?")[0]
    assert re.search(r"/jobs/\d+/$", job_url), response.url
    worker = site.start_worker()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = browser.get(job_url.rstrip("/") + ".json").json()
        if status["status"] == "running" and 0 < status["done"] < status["total"]:
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"the render never got going: {status}")
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    site.start_worker()  # a new worker notices the dead one's job and starts it again
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        status = browser.get(job_url.rstrip("/") + ".json").json()
        if status["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.3)
    assert status["status"] == "succeeded", status
    rows = json.loads(site.manage("dumpdata", "generation.Rendering", "generation.Job"))
    job = next(
        r
        for r in rows
        if r["model"] == "generation.job"
        and r["fields"]["kind"] == "render"
        and r["fields"]["title"] == "Render load-a"
    )
    assert job["fields"]["attempts"] == 2
    media = site.data_dir / "media"
    renderings = [
        r["fields"]
        for r in rows
        if r["model"] == "generation.rendering" and r["fields"]["status"] == "ok"
    ]
    assert len(renderings) >= 7 + 21
    for rendering in renderings:
        for fmt, name in rendering["files"].items():
            if fmt in ("ogg", "flac", "wav"):
                info = soundfile.info(str(media / name))
                assert abs(info.duration - rendering["duration_seconds"]) < 0.05, name
    # Half-written files only ever exist under hidden temporary names, never served.
    for leftover in media.rglob(".*.tmp"):
        assert (
            browser.get(f"{site.base_url}/media/{leftover.relative_to(media)}").status_code == 404
        )
