"""The checkpoint comparison through the site, its downloads and the compare command: real
tiny models trained on js-fake chorales, their samples rendered and rated by simulated
listeners, and the numbers checked against the report and the database."""

import csv
import io
import json
import re
import zipfile

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from generation.models import Checkpoint, Dataset
from generation.services.corpora import import_midi_folder
from generation.services.sampling import generate_samples
from generation.services.training import create_run, train
from generation.zoo.sampling import SamplingSettings
from metrics.records import to_json_data
from metrics.reports import build_report
from studies.design import StudySpec
from studies.services import build_study, create_study, set_state
from tests.conftest import run_command

pytestmark = pytest.mark.django_db(transaction=True)


def _samples(checkpoint: Checkpoint, name: str):
    return generate_samples(
        checkpoint, SamplingSettings(n=3, bars=2, temperature=1.0, seed=0), name=name
    )


@pytest.fixture
def material(js_fakes):
    """Two checkpoints of a tiny Melody RNN and a Markov chain, each with samples, in a
    rating study beside human chorales; simulated listeners prefer the checkpoint with the
    worse validation loss, so loss and listeners disagree."""
    import_midi_folder(js_fakes, name="fakes", style="bach", limit=30, workers=1)
    dataset = Dataset.objects.get(name="fakes")
    rnn = train(create_run(family="melody-rnn", dataset=dataset, config="basic", preset="tiny"))
    markov = train(create_run(family="markov", dataset=dataset, config="events", preset="tiny"))
    early, late = rnn.checkpoints.get(step=10), rnn.checkpoints.get(step=30)
    better_loss, worse_loss = sorted((early, late), key=lambda c: c.metric("valid", "loss"))
    _samples(better_loss, "better-loss")
    _samples(worse_loss, "worse-loss")
    _samples(markov.checkpoints.order_by("-step").first(), "markov")
    spec = StudySpec.from_dict(
        {
            "slug": "compare-study",
            "title": "Comparison study",
            "clips_per_system": 2,
            "clip_seconds": 1.5,
            "systems": [
                {"name": "better-loss", "sample_set": "better-loss"},
                {"name": "worse-loss", "sample_set": "worse-loss"},
                {"name": "markov", "sample_set": "markov"},
                {"name": "human", "human": "fakes", "split": "all"},
            ],
            "blocks": [
                {
                    "kind": "rating",
                    "systems": ["better-loss", "worse-loss", "markov", "human"],
                    "ask_human": True,
                    "trials": 8,
                }
            ],
        }
    )
    study = set_state(build_study(create_study(spec)), "open")
    run_command(
        "simulate_answers", study.slug, "--listeners", "30", "--attentive", "1",
        "--effect", "worse-loss=1.5", "--effect", "better-loss=-1.5", "--effect", "markov=0",
    )  # fmt: skip
    return {
        "dataset": dataset,
        "study": study,
        "better_loss": better_loss,
        "worse_loss": worse_loss,
        "markov": markov.checkpoints.order_by("-step").first(),
    }


def _query(material, **extra) -> dict:
    return {
        "checkpoints": [c.pk for c in (material["better_loss"], material["worse_loss"], material["markov"])],
        "dataset": material["dataset"].name,
        "split": "all",
        "study": material["study"].slug,
        "simulated": "yes",
        **extra,
    }  # fmt: skip


def test_comparison_page_sets_loss_music_and_listeners_side_by_side(material, staff_client):
    response = staff_client.get("/compare/", _query(material))
    assert response.status_code == 200
    page = response.content.decode()
    for checkpoint in ("better_loss", "worse_loss", "markov"):
        assert f'data-checkpoint="{material[checkpoint].pk}"' in page

    # The ratings beside each checkpoint are the report's mixed-model means.
    report = build_report(material["study"], include_simulated=True)
    table = {row.system: row for row in report.blocks[0].systems_table}
    comparison = response.context["comparison"]
    by_set = {e.sample_set: e for e in comparison.entries}
    for system in ("better-loss", "worse-loss", "markov"):
        assert by_set[system].listeners["rating"] == pytest.approx(table[system].model_mean)
        assert f"{table[system].model_mean:.2f} [" in page
    assert by_set["better-loss"].training.valid_loss == pytest.approx(
        material["better_loss"].metric("valid", "loss")
    )
    # The reference row carries the human clips' ratings.
    assert comparison.reference.listeners["rating"] == pytest.approx(table["human"].model_mean)
    assert "reference: fakes (all)" in page
    # The page says whose answers it shows.
    # Excluded listeners count among those who answered, never as more simulated
    # listeners than were analysed.
    counts = report.listeners
    said = page[page.index('data-testid="listeners-included"') :]
    assert said.startswith(
        f'data-testid="listeners-included">({counts.analysed} of {counts.with_answers} listeners '
        "analysed"
    )
    assert f"; {counts.simulated} of the {counts.with_answers} simulated)" in said
    # The report's spelling of the simulated switch works here too.
    again = staff_client.get("/compare/", {**_query(material), "simulated": "1"})
    assert again.status_code == 200 and again.context["comparison"].include_simulated
    # Music metrics were computed from the stored samples.
    assert by_set["markov"].music.pieces == 3
    assert 0 <= by_set["markov"].music.mean_overlap <= 1

    # Listeners preferred the checkpoint the loss did not pick: the chooser says so.
    [chooser] = comparison.choosers
    assert chooser.best_by_loss_step == material["better_loss"].step
    assert chooser.best_by_listeners_step == material["worse_loss"].step
    assert chooser.agree is False
    assert "They disagree" in page
    # Three heard checkpoints: correlations exist, with the few-checkpoints caveat in words.
    assert comparison.agreement.across_checkpoints
    assert any("Only 3 heard checkpoints" in n for n in comparison.agreement.notes)
    assert any("simulated listeners" in n for n in comparison.agreement.notes)
    assert 'data-testid="scatter-matrix"' in page
    # Across clips: one point per rated generated clip.
    clips = {r.n for r in comparison.agreement.across_stimuli}
    assert clips == {6}


def test_comparison_defaults_to_every_checkpoint_with_samples(material, staff_client):
    response = staff_client.get("/compare/")
    assert response.status_code == 200
    comparison = response.context["comparison"]
    compared = {material[k].pk for k in ("better_loss", "worse_loss", "markov")}
    assert {e.checkpoint.id for e in comparison.entries} == compared
    # The form starts from what was compared: those checkpoints ticked.
    ticked = re.findall(r'name="checkpoints" value="(\d+)"[^>]*checked', response.content.decode())
    assert {int(pk) for pk in ticked} == compared
    assert comparison.study.slug == "compare-study"
    # Only simulated listeners took the study, so "auto" includes them, and says so.
    assert comparison.include_simulated is True
    assert "simulated listeners included" in response.content.decode()


def test_a_study_report_links_to_a_comparison_of_the_checkpoints_it_played(material, staff_client):
    unheard = material["better_loss"].run.checkpoints.get(step=20)
    _samples(unheard, "not-in-the-study")
    report = staff_client.get("/studies/compare-study/report/").content.decode()
    link = re.search(r'href="([^"]+)" data-testid="report-compare"', report).group(1)
    assert link == "/compare/?study=compare-study"
    comparison = staff_client.get(link).context["comparison"]
    assert comparison.study.slug == "compare-study"
    # Only what the study played, not every checkpoint with samples.
    assert {e.checkpoint.id for e in comparison.entries} == {
        material[k].pk for k in ("better_loss", "worse_loss", "markov")
    }
    # The reference defaults to what they learnt from, its test split.
    assert comparison.reference.dataset == "fakes"
    assert comparison.reference.split == "test"


def test_comparison_downloads_carry_the_same_numbers(material, staff_client):
    query = _query(material)
    shown = staff_client.get("/compare/", query).context["comparison"]

    data = json.loads(staff_client.get("/compare.json", query).content)
    assert [e["key"] for e in data["entries"]] == [e.key for e in shown.entries]
    assert data["entries"][0]["training"] == to_json_data(shown.entries[0].training)

    response = staff_client.get("/compare.zip", query)
    assert (
        response["Content-Disposition"] == 'attachment; filename="checkpoint-comparison-tables.zip"'
    )
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert {"training.csv", "music.csv", "overlap.csv", "listeners.csv"} <= set(archive.namelist())
    listeners = list(csv.DictReader(io.StringIO(archive.read("listeners.csv").decode())))
    ratings = {row["system"]: float(row["rating"]) for row in listeners}
    for entry in shown.entries:
        system = entry.listeners["system"]
        assert ratings[system] == pytest.approx(entry.listeners["rating"])

    latex = staff_client.get("/compare.tex", query).content.decode()
    assert latex.count(r"\begin{tabular}") == len(archive.namelist())
    assert "better-loss" in latex


def test_bad_comparison_requests_get_a_clear_400(material, staff_client):
    response = staff_client.get("/compare/", _query(material, checkpoints=[999_999]))
    assert response.status_code == 400
    assert b"checkpoints" in response.content
    # The message quotes what was sent, so it is plain text, never HTML.
    response = staff_client.get("/compare/", _query(material, checkpoints=["<script>x</script>"]))
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert staff_client.get("/compare/", _query(material, split="everything")).status_code == 400
    assert staff_client.get("/compare.exe", _query(material)).status_code == 404
    # A reference too small to compare against is explained on the page, refused as a download.
    empty = Dataset.objects.create(name="empty", title="empty", kind="midi", source="nowhere")
    page = staff_client.get("/compare/", _query(material, dataset=empty.name))
    assert page.status_code == 200
    assert "needs at least two" in page.content.decode()
    assert (
        staff_client.get("/compare.json", _query(material, dataset=empty.name)).status_code == 400
    )
    # Experimenters only.
    anonymous = Client()
    assert anonymous.get("/compare/").status_code == 302
    assert anonymous.get("/compare.json", _query(material)).status_code == 302


def test_compare_command_prints_the_table_and_writes_exports(material, tmp_path):
    ids = [str(material[k].pk) for k in ("better_loss", "worse_loss", "markov")]
    output = run_command("compare", *ids, "--dataset", "fakes", "--split", "all", "--simulated")
    assert "reference: fakes (all)" in output
    assert "melody-rnn basic/tiny step 10" in output and "markov events/tiny" in output
    assert "DISAGREE" in output
    target = tmp_path / "comparison.json"
    run_command("compare", *ids, "--dataset", "fakes", "--split", "all", "--format", "json",
                "--output", str(target), "--study", "none")  # fmt: skip
    written = json.loads(target.read_text())
    assert written["study"] is None and len(written["entries"]) == 3
    assert all(e["listeners"] is None for e in written["entries"])
    with pytest.raises(CommandError, match="no checkpoint 999999"):
        call_command("compare", "999999", "--dataset", "fakes")
    with pytest.raises(CommandError, match="no dataset"):
        call_command("compare", ids[0], "--dataset", "nope")


def _count_calls(monkeypatch, module, name: str) -> list:
    """Wraps module.name (still called) and returns the list that grows by one per call."""
    calls = []
    original = getattr(module, name)
    monkeypatch.setattr(module, name, lambda *a, **k: calls.append(1) or original(*a, **k))
    return calls


def test_the_comparison_is_computed_once_per_revision_and_never_stale(
    material, staff_client, monkeypatch
):
    from metrics import caching

    computed = _count_calls(monkeypatch, caching, "build_comparison")
    first = staff_client.get("/compare/", _query(material)).context["comparison"]
    again = staff_client.get("/compare/", _query(material)).context["comparison"]
    assert len(computed) == 1 and again == first
    assert staff_client.get("/compare.json", _query(material)).status_code == 200
    assert len(computed) == 1  # the download reuses it

    run_command("simulate_answers", "compare-study", "--listeners", "32", "--top-up")
    answered = staff_client.get("/compare/", _query(material)).context["comparison"]
    assert len(computed) == 2 and answered != first

    _samples(material["markov"], "markov-more")  # a new sample set of a compared checkpoint
    sets = {
        e.sample_set
        for e in staff_client.get("/compare/", _query(material)).context["comparison"].entries
    }
    assert len(computed) == 3 and "markov-more" in sets


def test_a_comparison_reads_the_cached_report_instead_of_fitting_the_study_again(
    material, staff_client, monkeypatch
):
    from metrics.comparison import building

    fitted = _count_calls(monkeypatch, building, "build_report")
    page = staff_client.get("/studies/compare-study/report/?simulated=yes")
    assert page.status_code == 200
    comparison = staff_client.get("/compare/", _query(material)).context["comparison"]
    assert fitted == []  # the report page's report served the comparison
    assert comparison.study.slug == "compare-study"
    assert any(e.listeners is not None for e in comparison.entries)
