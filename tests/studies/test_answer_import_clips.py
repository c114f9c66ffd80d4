"""Answers gathered elsewhere name their clips as the researcher knows them (a file name, a
sample set and index), and published results that come as counts per clip import as such."""

import io
import json

import pytest
from django.core.management import call_command

from metrics.reports import build_report
from studies import services
from studies.models import Participant, Response, Study
from tests.factories import open_study

pytestmark = pytest.mark.django_db

SYSTEMS = [
    {"name": "model-a", "sample_set": "model-a", "clips": 3},
    {"name": "model-b", "sample_set": "model-b", "clips": 3},
    {"name": "human", "human": "fakes", "split": "all", "clips": 6},
]


def _study(blocks):
    return open_study(blocks, systems=SYSTEMS)


def _clip(study: Study, system: str, name: str):
    for stimulus in study.stimuli.filter(system__name=system).select_related("sample", "piece"):
        label = stimulus.sample.label if stimulus.sample_id else stimulus.piece.identifier
        if label.endswith(name):
            return stimulus
    raise AssertionError(f"{system} has no clip {name}")


def test_clips_are_found_by_file_name_or_sample_set_and_index(material):
    study = _study([{"kind": "rating"}])
    row = {"participant": "lab-1", "block": "1", "rating": "6"}
    rows = [
        {**row, "trial": "1", "clip": "102.mid"},  # the imported file's name
        {**row, "trial": "2", "clip": "results/1", "system": "human"},  # folder, no extension
        {**row, "trial": "3", "sample_set": "model-a", "sample_index": "0"},
        {**row, "trial": "4", "piece": "0.mid"},
    ]
    report = services.import_answers(study, rows)
    assert report.errors == [] and report.answers == 4
    heard = [
        r.trial.first
        for r in Response.objects.select_related("trial__first").order_by("trial__position")
    ]
    assert heard[0] == _clip(study, "model-a", "102.mid")
    assert heard[1] == _clip(study, "human", "1.mid")
    assert heard[2].sample.sample_set.name == "model-a" and heard[2].sample.index == 0
    assert heard[3] == _clip(study, "human", "0.mid")


def test_a_clip_name_two_systems_share_or_nobody_has_is_refused_with_the_fix(material):
    study = _study([{"kind": "rating"}])
    row = {"participant": "lab-1", "block": "1", "rating": "6", "trial": "1"}
    report = services.import_answers(
        study,
        [
            {**row, "clip": "0001.mid"},  # earshot's own name for a sample, in both sets
            {**row, "clip": "nothing.mid", "trial": "2"},
            {**row, "sample_set": "model-a", "sample_index": "7", "trial": "3"},
            {**row, "trial": "4"},
        ],
    )
    assert report.errors == [
        "row 2: column clip: '0001.mid' names 2 clips (systems model-a, model-b): add a system "
        "column, or give sample_set and sample_index",
        "row 3: column clip: no clip of this study is called 'nothing.mid'",
        "row 4: column sample_set: no clip of this study is sample 7 of sample set 'model-a'",
        "row 5: no clip named: give stimulus, clip (its file name), sample_set and "
        "sample_index, or piece",
    ]
    assert not Response.objects.exists()


def test_counts_per_clip_import_once_and_the_report_says_what_it_cannot_fit(material, tmp_path):
    study = _study([{"kind": "turing"}])
    # A published table: how often each clip was judged human, and not.
    counts = []
    for system, names, human_share in (
        ("model-a", ["100", "101", "102"], 3),
        ("human", ["0", "1", "2", "3", "4", "5"], 7),
    ):
        for name in names:
            row = {"block": 1, "system": system, "clip": f"{name}.mid"}
            counts.append({**row, "judged_human": True, "count": human_share})
            counts.append({**row, "judged_human": False, "count": 10 - human_share})
    path = tmp_path / "counts.json"
    path.write_text(json.dumps(counts))
    out = io.StringIO()
    call_command("import_answers", study.slug, str(path), stdout=out)
    assert "and 90 counted answers with no listener identity; 0 were already here" in (
        out.getvalue()
    )
    assert Participant.objects.filter(listener_unknown=True).count() == 90
    again = services.import_answers(study, counts)
    assert (again.counted, again.unchanged) == (0, 90)
    counts[0]["count"] = 5  # a corrected table adds only the difference
    assert services.import_answers(study, counts).counted == 2
    assert Response.objects.filter(trial__first__system__name="model-a").count() == 32

    report = build_report(study)
    block = report.blocks[0]
    assert block.answers == 92 and block.listeners == 0
    assert report.listeners.counted_answers == 92
    assert report.listeners.analysed == 0
    assert any("92 of the 92 answers were imported as counts per clip" in n for n in block.notes)
    shares = {s.system: s for s in block.systems_table}
    assert (shares["model-a"].successes, shares["model-a"].n) == (11, 32)
    assert (shares["human"].successes, shares["human"].n) == (42, 60)
    # The logit model is fitted with clips only: no listener effect it cannot know.
    assert block.model.formula == "answer ~ 0 + system + (1 | clip), logit, Laplace"
    assert block.model.listener_variance is None and block.model.clips == 9


def test_a_row_cannot_be_both_a_listener_and_a_count(material):
    study = _study([{"kind": "turing"}])
    report = services.import_answers(
        study,
        [{"participant": "p", "block": 1, "clip": "0.mid", "judged_human": True, "count": 2}],
    )
    assert report.errors == [
        "row 2: column count: a row is one listener's answer or a count, not both"
    ]


def test_the_dashboard_counts_counted_answers_apart_from_people(material, staff_client):
    study = _study([{"kind": "turing"}])
    services.import_answers(
        study, [{"block": 1, "clip": "0.mid", "judged_human": "true", "count": "4"}]
    )
    Study.objects.filter(pk=study.pk).update(created_by=None)
    page = staff_client.get(study.get_absolute_url()).content.decode()
    assert 'data-testid="counted">4<' in page and 'data-testid="completed">0<' in page


def test_exported_counted_answers_stay_without_a_listener_when_imported_elsewhere(material):
    study = _study([{"kind": "turing"}])
    services.import_answers(study, [{"block": 1, "clip": "0.mid", "judged_human": 1, "count": 2}])
    from studies.selectors import answer_rows

    rows = answer_rows(study)
    assert [r["listener_known"] for r in rows] == [False, False]
    other = open_study([{"kind": "turing"}], systems=SYSTEMS, slug="other")
    for row in rows:
        row["stimulus"] = _clip(other, "human", "0.mid").pk
    assert services.import_answers(other, rows).errors == []
    assert other.participants.filter(listener_unknown=True).count() == 2


def test_a_pairs_second_clip_is_settled_by_its_own_system_column(material):
    study = _study([{"kind": "pairwise", "pairs": [["model-a", "human"]]}])
    row = {"participant": "lab-1", "block": "1", "trial": "1", "choice": "first"}
    # The first clip's system column says nothing about the second clip.
    named = {**row, "clip": "100.mid", "system": "model-a", "second_clip": "1.mid"}
    report = services.import_answers(study, [named])
    assert report.errors == [] and report.answers == 1
    trial = Response.objects.get().trial
    assert (trial.first, trial.second) == (
        _clip(study, "model-a", "100.mid"),
        _clip(study, "human", "1.mid"),
    )
    wrong = {**named, "participant": "lab-2", "second_system": "model-a"}
    refused = services.import_answers(study, [wrong])
    assert refused.errors == ["row 2: column second_clip: no clip of this study is called '1.mid'"]
