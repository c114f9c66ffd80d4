"""The launch check: what would break a live study is found before anybody takes it."""

import io
import json
import shutil
from collections import namedtuple
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from generation.jobs import workers
from studies.models import Participant, Study
from tests.conftest import run_command
from tests.factories import ALL_BLOCKS, answer_all, open_study, take_to_trials

pytestmark = pytest.mark.django_db

DiskUsage = namedtuple("DiskUsage", "total used free")


@pytest.fixture
def disk(monkeypatch):
    """The free space the check reads, set by the test: the real disk's varies by machine."""

    def set_free(free_bytes: int) -> None:
        monkeypatch.setattr(
            shutil, "disk_usage", lambda path: DiskUsage(2**40, 2**40 - free_bytes, free_bytes)
        )

    set_free(50 * 2**30)
    return set_free


@pytest.fixture
def served_like_a_launch(settings):
    settings.DEBUG = False
    settings.HTTPS = True
    settings.CLIENT_IP_HEADER = "X-Forwarded-For"
    settings.ALLOWED_HOSTS = ["study.example.org", "testserver"]


def findings_by_topic(output: str) -> dict[str, dict]:
    return {finding["topic"]: finding for finding in json.loads(output)}


def test_a_study_ready_for_launch_passes_every_check(
    material, disk, served_like_a_launch, staff_client, django_user_model
):
    study = open_study(
        ALL_BLOCKS[:1],
        redirect_url="https://app.prolific.com/submissions/complete?cc=READY123",
        completion_code="READY123",
    )
    Study.objects.filter(pk=study.pk).update(
        created_by=django_user_model.objects.get(username="experimenter")
    )
    answer_all(staff_client, take_to_trials(staff_client, study, "?preview=1"))
    workers.beat("worker-on-this-machine")

    output = run_command("preflight", study.slug)

    assert output.splitlines()[-1] == "ready (0 warning(s))"
    assert all(line.startswith("ok") for line in output.splitlines()[:-1]), output
    assert "All 6 clips are on this machine." in output  # 3 systems x 2 clips
    assert "Finishers are sent to app.prolific.com." in output


def test_what_would_break_a_launch_is_named_and_fails_the_command(material, disk, settings):
    settings.DEBUG = True
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1"]  # the demo's default
    settings.RATE_LIMIT_STORE = "cache"
    study = open_study(
        ALL_BLOCKS[1:2],  # a Turing block without attention checks
        redirect_url="https://app.prolific.com/submissions/complete?cc=OLDCODE1",
        completion_code="NEWCODE2",
    )
    Study.objects.filter(pk=study.pk).update(state=Study.State.DRAFT)
    first_clip = study.stimuli.first().rendering
    missing = next(iter(first_clip.files.values()))
    (Path(django_settings.MEDIA_ROOT) / missing).unlink()
    disk(50 * 2**20)

    with pytest.raises(CommandError, match=r"4 check\(s\) failed"):
        run_command("preflight", study.slug)
    found = findings_by_topic(_json_findings(study.slug))
    assert found["debug"]["level"] == "fail"
    assert found["disk"]["level"] == "fail" and "Only 50 MB free" in found["disk"]["message"]
    assert found["clips"]["level"] == "fail"
    assert (
        f"1 of the study's audio files are missing or empty on this machine (first: {missing})"
        in (found["clips"]["message"])
    )
    assert found["completion"]["level"] == "fail"
    assert "OLDCODE1" in found["completion"]["message"]
    assert "NEWCODE2" in found["completion"]["message"]
    for topic in ("state", "attention", "owner", "preview", "worker", "hosts", "https"):
        assert found[topic]["level"] == "warn", topic
    assert found["reference"]["level"] == "ok"
    # Per-machine counts are fine for SQLite's one machine, not for a shared PostgreSQL.
    assert found["limits"]["level"] == ("ok" if connection.vendor == "sqlite" else "warn")


def _json_findings(slug: str) -> str:
    """The --json findings of a failing preflight: printed before the command fails."""
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("preflight", slug, "--json", stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_strict_preflight_fails_on_warnings_alone(material, disk, served_like_a_launch):
    study = open_study(ALL_BLOCKS[:1])  # no owner, never previewed, no worker
    assert run_command("preflight", study.slug).splitlines()[-1] == "ready (3 warning(s))"
    with pytest.raises(CommandError, match=r"0 check\(s\) failed, 3 warned"):
        run_command("preflight", study.slug, "--strict")
    with pytest.raises(CommandError, match="no study 'nope'"):
        run_command("preflight", "nope")


def test_the_study_page_shows_a_proxy_that_would_turn_participants_away(
    material, disk, settings, staff_client
):
    settings.HTTPS = False
    settings.CLIENT_IP_HEADER = ""
    study = open_study(ALL_BLOCKS[:1])
    behind_proxy = staff_client.get(study.get_absolute_url(), HTTP_X_FORWARDED_FOR="203.0.113.9")
    page = behind_proxy.content.decode()
    assert 'data-testid="launch-check" open' in page
    assert "this request came with X-Forwarded-For" in page
    assert f"after {settings.JOINS_PER_HOUR} new participants in an hour" in page

    settings.CLIENT_IP_HEADER = "X-Forwarded-For"
    page = staff_client.get(study.get_absolute_url(), HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert "Client addresses come from X-Forwarded-For." in page.content.decode()
    assert "this request came with" not in page.content.decode()


def test_opening_a_study_that_fails_a_check_says_so(material, disk, settings, staff_client):
    settings.DEBUG = True
    study = open_study(ALL_BLOCKS[:1])
    Study.objects.filter(pk=study.pk).update(state=Study.State.DRAFT)
    response = staff_client.post(f"/studies/{study.slug}/state/", {"state": "open"}, follow=True)
    assert Study.objects.get().state == Study.State.OPEN
    page = response.content.decode()
    assert "The study is open now." in page
    assert "1 launch check(s) fail: see Before launch below." in page
    assert not Participant.objects.exists()
