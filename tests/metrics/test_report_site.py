"""Reports and simulated listeners through the site and the commands, on a real study."""

import io
import json
import re
import zipfile

import pytest
from django.test import Client

from studies import exchange, selectors
from studies.models import Participant, Response
from tests.conftest import run_command
from tests.factories import ALL_BLOCKS, answer_all, import_material, open_study, take_to_trials

pytestmark = pytest.mark.django_db


@pytest.fixture
def study(js_fakes, tmp_path):
    import_material(js_fakes, tmp_path)
    return open_study(ALL_BLOCKS)


def simulate(study, listeners=12, *extra):
    return run_command(
        "simulate_answers", study.slug, "--listeners", str(listeners),
        "--effect", "model-a=0.8", "--effect", "model-b=-0.5", "--attentive", "1", *extra,
    )  # fmt: skip


def test_simulated_listeners_take_the_study_and_are_flagged_everywhere(study, staff_client):
    output = simulate(study)
    assert "12 simulated listeners added" in output and "model-a +0.8" in output
    simulated = Participant.objects.filter(study=study, is_simulated=True)
    assert simulated.count() == 12 and all(p.stage == "done" for p in simulated)
    # They went through the real assignment: every trial planned, every trial answered.
    assert Response.objects.filter(trial__participant__in=simulated).count() == 12 * 14
    assert set(Response.objects.values_list("source", flat=True)) == {"simulated"}
    # Topping up to 12 adds nobody; the dashboard counts them apart from real listeners.
    assert "already has" in simulate(study, 12, "--top-up")
    page = staff_client.get(f"/studies/{study.slug}/").content.decode()
    assert 'data-testid="simulated">12<' in page
    assert 'data-testid="completed">0<' in page
    rows = exchange.read_rows(
        staff_client.get(f"/studies/{study.slug}/answers.csv").content.decode()
    )
    assert len(rows) == 12 * 14 and {r["simulated"] for r in rows} == {"true"}


def test_simulate_answers_refuses_unknown_systems_and_leaves_the_study_alone(study):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no system model-z"):
        run_command("simulate_answers", study.slug, "--listeners", "3", "--effect", "model-z=1")
    with pytest.raises(CommandError, match="SYSTEM=NUMBER"):
        run_command("simulate_answers", study.slug, "--listeners", "3", "--effect", "model-a")
    assert not Participant.objects.filter(study=study).exists()


def test_report_leaves_simulated_listeners_out_unless_asked(study, staff_client):
    simulate(study)
    url = f"/studies/{study.slug}/report/"
    page = staff_client.get(url).content.decode()
    assert 'data-testid="only-simulated"' in page
    assert 'data-testid="listeners-analysed">0<' in page
    with_simulated = staff_client.get(url + "?simulated=1").content.decode()
    assert 'data-testid="simulated-banner"' in with_simulated
    assert 'data-testid="listeners-analysed">12<' in with_simulated
    assert "Listeners preferred model-" in with_simulated
    # A real participant joins: analysed by default, and the simulated ones still left out.
    client = Client()
    answer_all(client, take_to_trials(client, study, "?pid=real-1"))
    page = staff_client.get(url).content.decode()
    assert 'data-testid="listeners-analysed">1<' in page
    assert "12 simulated listeners are left out" in page


def test_every_report_format_downloads_with_the_same_numbers(study, staff_client):
    simulate(study)
    base = f"/studies/{study.slug}/report"
    data = json.loads(staff_client.get(base + ".json?simulated=1").content)
    assert data["versions"]["scipy"] and data["versions"]["statsmodels"]
    assert data["listeners"]["analysed"] + data["listeners"]["excluded"] == 12
    rating = next(b for b in data["blocks"] if b["kind"] == "rating")
    first = rating["systems_table"][0]
    assert first["answers"] == sum(
        1
        for r in selectors.answer_rows(study)
        if r["block_kind"] == "rating"
        and r["trial_kind"] == "main"
        and r["system"] == first["system"]
        and not r["excluded"]
    )
    tex = staff_client.get(base + ".tex?simulated=1").content.decode()
    assert r"\begin{tabular}" in tex and r"\toprule" in tex
    assert f"{first['model_mean']:.2f}" in tex
    archive = zipfile.ZipFile(io.BytesIO(staff_client.get(base + ".zip?simulated=1").content))
    ratings_csv = archive.read("block1_rating_ratings.csv").decode()
    assert ratings_csv.splitlines()[0].startswith("system,answers,listeners,mean")
    assert any(name.endswith("_confusion.csv") for name in archive.namelist())
    html = staff_client.get(base + ".html?simulated=1")
    assert html["Content-Disposition"].endswith('.html"')
    assert "<style>" in html.content.decode() and "<script" not in html.content.decode()
    pdf = staff_client.get(base + ".pdf?simulated=1")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert re.search(rb"/MediaBox \[0 0 59[45]\.?\d* 84[12]\.?\d*\]", pdf.content)  # A4
    letter = staff_client.get(base + ".pdf?simulated=1&paper=Letter")
    assert b"/MediaBox [0 0 612 792]" in letter.content
    bad_paper = staff_client.get(base + ".pdf?paper=legal")
    assert bad_paper.status_code == 400 and b"A4, Letter" in bad_paper.content
    assert staff_client.get(base + ".docx").status_code == 404
    assert staff_client.get(base + ".json?correction=tukey").status_code == 400
    assert (
        staff_client.get(base + ".json?correction=bonferroni").json()["correction"] == "Bonferroni"
    )


def test_reports_are_for_staff_only(study):
    response = Client().get(f"/studies/{study.slug}/report/")
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")


def test_report_command_writes_each_format(study, tmp_path):
    simulate(study, 6)
    # The PDF is printed once, on Letter (the view's test prints the A4 default).
    for fmt in ("html", "tex", "zip", "json"):
        target = tmp_path / f"report.{fmt}"
        run_command("report", study.slug, "--format", fmt, "--simulated", "--output", str(target))
        assert target.stat().st_size > 500, fmt
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["include_simulated"] and data["correction"] == "Holm"
    letter = tmp_path / "letter.pdf"
    run_command(
        "report", study.slug, "--format", "pdf", "--paper", "Letter", "--output", str(letter)
    )
    assert (
        letter.read_bytes().startswith(b"%PDF")
        and b"/MediaBox [0 0 612 792]" in letter.read_bytes()
    )


def test_power_planning_endpoint_matches_pwr(staff_client):
    response = staff_client.get(
        "/studies/power.json",
        {"difference": "1", "sd": "2", "within": "on", "share": "0.6",
         "trials_per_listener": "10", "icc": "0", "power": "0.8", "alpha": "0.05"},
    )  # fmt: skip
    body = response.json()
    # pwr.t.test(d = 0.5, power = 0.8, type = "paired") -> n = 33.37
    assert body["rating"]["listeners"] == 34 and body["rating"]["effect_size_d"] == 0.5
    assert body["preference"]["listeners"] == 20  # 194 trials, 10 per listener
    bad = staff_client.get("/studies/power.json", {"difference": "-1"})
    assert bad.status_code == 400 and "difference" in bad.json()["errors"]


def test_the_report_is_computed_once_per_revision_and_never_stale(study, staff_client, monkeypatch):
    from metrics import caching

    computed = []
    build = caching.build_report
    monkeypatch.setattr(
        caching, "build_report", lambda *a, **k: computed.append(1) or build(*a, **k)
    )

    def listeners() -> dict:
        url = f"/studies/{study.slug}/report.json?simulated=yes"
        return staff_client.get(url).json()["listeners"]

    simulate(study, 6)
    first = listeners()
    assert len(computed) == 1
    page = staff_client.get(f"/studies/{study.slug}/report/?simulated=yes")
    assert page.status_code == 200 and len(computed) == 1  # the page reuses it too
    assert listeners() == first and len(computed) == 1
    staff_client.get(f"/studies/{study.slug}/report.json?simulated=yes&correction=bonferroni")
    assert len(computed) == 2  # another question is another result

    simulate(study, 8, "--top-up")  # two more listeners answer: a new revision
    assert listeners()["with_answers"] == first["with_answers"] + 2 and len(computed) == 3

    someone = Participant.objects.filter(study=study).first()
    Participant.objects.filter(pk=someone.pk).update(exclusion_reasons=["failed 2 checks"])
    after = listeners()
    assert len(computed) == 4 and after["excluded"] == first["excluded"] + 1

    # A participant merely loading a page changes nothing a report reads.
    Participant.objects.filter(pk=someone.pk).update(last_seen_at=someone.last_seen_at)
    assert listeners() == after and len(computed) == 4
