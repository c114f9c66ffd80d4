"""The analysis plan, frozen when a study opens: its document and SHA-256 on the dashboard and
in every report, its hypotheses tested as it says, and deviations marked exploratory."""

import hashlib
import io
import json
import zipfile

import pytest
from django.core.management import call_command

from studies import services
from studies.design import SpecError
from studies.models import Study
from studies.preregistration import digest, plan_document
from tests.factories import open_study, spec

pytestmark = pytest.mark.django_db

PLAN = {
    "primary": {"block": 1, "better": "model-a", "than": "model-b"},
    "secondary": [
        {"block": 1, "better": "model-a", "than": "human"},
        {"block": 1, "better": "model-b", "than": "human"},
    ],
    "correction": "bonferroni",
    "planned_listeners": 30,
}


def test_the_plan_document_is_canonical_and_names_what_it_fixes():
    design = spec([{"kind": "rating", "instructed_checks": 1}], plan=PLAN)
    document = plan_document(design, frozen_at="2026-12-07T20:00:00+00:00", software="x")
    assert document == plan_document(design, frozen_at="2026-12-07T20:00:00+00:00", software="x")
    facts = json.loads(document)
    assert facts["primary_hypothesis"]["better"] == "model-a"
    assert facts["primary_hypothesis"]["measure"].startswith("difference in mean rating")
    assert [h["than"] for h in facts["secondary_hypotheses"]] == ["human", "human"]
    assert facts["correction"] == "bonferroni" and facts["planned_listeners"] == 30
    assert facts["exclusions"]["exclude_failed_checks"] is True
    assert facts["attention_checks"] == {"1": 1}
    assert digest(document) == hashlib.sha256(document.encode()).hexdigest()


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ({"correction": "fdr"}, "correction must be one of holm, bonferroni, bh"),
        ({"primary": {"block": 1, "better": "model-a"}}, "a hypothesis is block, better and than"),
        ({"secondary": [{"block": 2, "better": "model-a", "than": "model-b"}]}, "no block 2"),
        ({"secondary": [{"block": 1, "better": "model-a", "than": "nobody"}]}, "no system nobody"),
        ({"planned_listeners": 1}, "at least 2"),
    ],
)
def test_a_bad_plan_names_what_is_wrong(plan, message):
    with pytest.raises(SpecError, match=message):
        spec([{"kind": "rating"}], plan=plan)


def test_a_plan_and_a_sequential_design_share_one_primary_hypothesis():
    sequential = {"looks": [10, 20], "block": 1, "better": "model-b", "than": "model-a"}
    with pytest.raises(SpecError, match="differs from the sequential one"):
        spec([{"kind": "rating"}], plan=PLAN, sequential=sequential)
    design = spec([{"kind": "rating"}], plan={"correction": "holm"}, sequential=sequential)
    assert design.primary_hypothesis.label == "model-b over model-a (block 1)"


def _listeners(study, names):
    clips = {s.pk: s.system.name for s in study.stimuli.select_related("system")}
    level = {"model-a": 8, "model-b": 5, "human": 4}
    rows = [
        {"participant": name, "block": 1, "trial": trial, "stimulus": pk,
         "rating": level[system] + (trial + n) % 3 - 1}
        for n, name in enumerate(names)
        for trial, (pk, system) in enumerate(sorted(clips.items()), start=1)
    ]  # fmt: skip
    assert services.import_answers(study, rows).errors == []


def test_opening_freezes_the_plan_and_every_report_carries_its_hash(material, staff_client, capsys):
    study = services.create_study(spec([{"kind": "rating"}], plan=PLAN))
    page = staff_client.get(study.get_absolute_url()).content.decode()
    assert "declared; frozen when the study opens" in page
    study = services.set_state(services.build_study(study), "open")
    assert study.preregistration and study.preregistered_at is not None
    download = staff_client.get(f"/studies/{study.slug}/preregistration.json")
    assert download["Content-Type"] == "application/json; charset=utf-8"
    sha = hashlib.sha256(download.content).hexdigest()
    assert sha == study.preregistration_sha256
    assert sha in staff_client.get(study.get_absolute_url()).content.decode()
    # Closing and opening again keeps the plan frozen at the first opening.
    services.set_state(services.set_state(study, "closed"), "open")
    study.refresh_from_db()
    assert study.preregistration_sha256 == sha

    _listeners(study, [f"lab-{n}" for n in range(8)])
    report = staff_client.get(f"/studies/{study.slug}/report/").content.decode()
    assert sha in report and "This report follows the plan" in report
    assert 'data-testid="exploratory"' not in report
    call_command("report", study.slug, "--format", "json")
    plan = json.loads(capsys.readouterr().out)["preregistration"]
    assert plan["sha256"] == sha and plan["deviations"] == []
    primary, *secondary = plan["tests"]
    assert primary["role"] == "primary" and primary["estimate"] == pytest.approx(3, abs=0.5)
    assert primary["p_adjusted"] == primary["p"] and primary["supported"] is True
    # The secondary family is Bonferroni-adjusted as the plan froze it.
    assert [t["p_adjusted"] for t in secondary] == pytest.approx(
        [min(1, 2 * t["p"]) for t in secondary]
    )
    tex = staff_client.get(f"/studies/{study.slug}/report.tex").content.decode()
    assert sha in tex
    archive = zipfile.ZipFile(
        io.BytesIO(staff_client.get(f"/studies/{study.slug}/report.zip").content)
    )
    assert "preregistered_hypotheses.csv" in archive.namelist()

    # Another correction than the plan's, or exclusions changed after opening: exploratory.
    other = staff_client.get(f"/studies/{study.slug}/report/?correction=holm").content.decode()
    assert 'data-testid="exploratory"' in other and "the plan froze bonferroni" in other
    Study.objects.filter(pk=study.pk).update(exclude_failed_checks=False)
    changed = staff_client.get(f"/studies/{study.slug}/report/?correction=bonferroni")
    assert "exclusions changed after the study opened: exclude_failed_checks True to False" in (
        changed.content.decode()
    )


def test_a_study_without_a_plan_freezes_nothing(material, staff_client):
    study = open_study([{"kind": "rating"}])
    assert study.preregistration == "" and study.preregistration_sha256 == ""
    assert "none declared" in staff_client.get(study.get_absolute_url()).content.decode()
    assert staff_client.get(f"/studies/{study.slug}/preregistration.json").status_code == 404
