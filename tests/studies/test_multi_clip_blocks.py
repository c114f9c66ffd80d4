"""MUSHRA pages and ABX trials: what a participant is given, what an answer stores, what a
tampered answer gets, and the long table the analysis reads."""

from collections import Counter

import pytest

from studies import services
from studies.assignment import BlockMaterial, Exposure, plan_block
from studies.design import BlockKind, SpecError
from studies.models import Participant, Response, Trial
from studies.selectors import answer_rows
from tests.factories import (
    answer_all,
    heard,
    open_study,
    right_answer,
    spec,
    take_to_trials,
    trial_page,
)

pytestmark = pytest.mark.django_db

MUSHRA = {"kind": "mushra", "reference": "human", "anchor": "model-b"}
ABX = {"kind": "abx", "reference": "human"}


def test_a_mushra_or_abx_spec_names_a_reference_a_human_one_for_mushra():
    assert spec([{"kind": "mushra"}]).blocks[0].kind == BlockKind.MUSHRA  # the only human
    with pytest.raises(SpecError, match="must be a human system"):
        spec([{"kind": "mushra", "reference": "model-a"}])
    with pytest.raises(SpecError, match="anchor 'nobody' is not one of its systems"):
        spec([{"kind": "mushra", "anchor": "nobody"}])
    with pytest.raises(SpecError, match="the hidden reference on every page"):
        spec([{"kind": "mushra", "repeats": 1}])
    with pytest.raises(SpecError, match="only MUSHRA blocks take an anchor"):
        spec([{"kind": "abx", "anchor": "model-b"}])
    with pytest.raises(SpecError, match="each system needs at least 2 clips"):
        spec([ABX], clips_per_system=1)
    with pytest.raises(SpecError, match="needs a system to test besides the reference"):
        spec([{"kind": "abx", "systems": ["human"]}])


def _material(kind, **options) -> BlockMaterial:
    return BlockMaterial(
        kind=kind,
        stimuli_by_system={"human": [1, 2, 3], "model-a": [11, 12], "model-b": [21, 22]},
        reference="human",
        **options,
    )


def test_mushra_pages_hold_the_reference_twice_and_one_clip_of_every_other_system():
    import random

    material = _material(BlockKind.MUSHRA, anchor="model-b")
    exposure = Exposure()
    hidden_slots = Counter()
    for seed in range(60):
        pages = plan_block(0, material, exposure, random.Random(seed))
        assert len(pages) == 3  # one page per reference clip
        assert sorted(p.stimuli[0] for p in pages) == [1, 2, 3]
        for page in pages:
            reference, *rated = page.stimuli
            assert rated.count(reference) == 1 and len(rated) == 3
            assert {s // 10 for s in rated if s != reference} == {1, 2}
            hidden_slots[rated.index(reference)] += 1
            for stimulus in page.stimuli[1:]:
                exposure.stimulus[stimulus] += 1
    # The hidden reference is not always in one place on the page.
    assert set(hidden_slots) == {0, 1, 2} and min(hidden_slots.values()) > 30


def test_abx_trials_balance_which_system_is_a_and_which_gives_x():
    import random

    material = _material(BlockKind.ABX)
    exposure = Exposure()
    a_systems, x_sources = Counter(), Counter()
    for seed in range(40):
        for trial in plan_block(0, material, exposure, random.Random(seed)):
            a, b, x = trial.stimuli
            assert x not in (a, b)  # X is another clip, never A or B again
            assert x // 10 in (a // 10, b // 10)  # of A's system or of B's
            assert 0 in (a // 10, b // 10)  # the reference (human, ids 1-3) is A or B
            pair = tuple(sorted(("human", "model-a" if 1 in (a // 10, b // 10) else "model-b")))
            exposure.pair[pair] += 1
            exposure.first[(pair, "human" if a < 10 else pair[1 - pair.index("human")])] += 1
            a_systems[a < 10] += 1
            exposure.x_source[(pair, "human" if x < 10 else pair[1 - pair.index("human")])] += 1
            x_sources[x < 10] += 1
    assert abs(a_systems[True] - a_systems[False]) <= 2
    assert abs(x_sources[True] - x_sources[False]) <= 2


def test_a_participant_rates_mushra_pages_and_answers_abx_trials_and_the_table_says_so(
    client, material
):
    study = open_study([MUSHRA, ABX])
    participant = take_to_trials(client, study)
    mushra = list(participant.trials.filter(block__position=0).order_by("position"))
    abx = list(participant.trials.filter(block__position=1).order_by("position"))
    assert len(mushra) == 2  # clips_per_system = 2: two reference clips, two pages
    assert len(abx) == 4  # two compared systems, twice each
    for trial in mushra:
        assert [s.system.name for s in trial.stimuli].count("human") == 2
        assert sorted(s.system.name for s in trial.stimuli[1:]) == ["human", "model-a", "model-b"]
    page = trial_page(client, study).content.decode()
    assert 'data-testid="rating-1"' in page and 'data-testid="rating-3"' in page
    assert "Play the reference" in page and "Excellent" in page
    answer_all(client, participant)
    participant.refresh_from_db()
    assert participant.stage == Participant.Stage.DONE and not participant.exclusion_reasons
    stored = Response.objects.get(trial=mushra[0])
    assert stored.ratings[0] is None and len(stored.ratings) == 4
    rows = answer_rows(study)
    mushra_rows = [r for r in rows if r["block_kind"] == "mushra"]
    assert len(mushra_rows) == 6  # three rated clips a page
    assert Counter(r["clip_role"] for r in mushra_rows) == {
        "hidden reference": 2,
        "anchor": 2,
        "tested": 2,
    }
    assert {r["rating"] for r in mushra_rows if r["clip_role"] == "hidden reference"} == {100}
    assert all(r["system"] == "model-b" for r in mushra_rows if r["clip_role"] == "anchor")
    abx_rows = [r for r in rows if r["block_kind"] == "abx"]
    assert len(abx_rows) == 4
    for row in abx_rows:
        assert row["x_system"] in (row["system"], row["second_system"])
        assert row["correct"] == (row["x_system"] == row["system"])  # the answer was "A"


def test_a_mushra_page_with_a_slider_missing_or_out_of_range_stores_nothing(client, material):
    study = open_study([MUSHRA])
    participant = take_to_trials(client, study)
    trial = services.next_trial(participant)
    heard(client, trial)
    form = right_answer(trial)
    for broken in ({"rating_2": ""}, {"rating_1": "101"}, {"rating_3": "lots"}):
        response = client.post(study.participant_path(), {**form, **broken})
        assert response.status_code == 400
        assert not Response.objects.filter(trial=trial).exists()
    assert client.post(study.participant_path(), form).status_code == 302
    assert client.post(study.participant_path(), form).status_code == 302  # a double submit
    assert Response.objects.filter(trial=trial).count() == 1


def test_a_listener_who_rates_the_hidden_reference_low_is_post_screened_out(client, material):
    study = open_study([MUSHRA])
    participant = take_to_trials(client, study)
    while (trial := services.next_trial(participant)) is not None:
        heard(client, trial)
        form = right_answer(trial)
        for slot, stimulus in enumerate(trial.stimuli):
            if slot and stimulus.pk == trial.first_id:
                form[f"rating_{slot}"] = "70"
        assert client.post(study.participant_path(), form).status_code == 302
    participant.refresh_from_db()
    assert participant.exclusion_reasons == [
        "rated the hidden reference below 90 on more than 15% of MUSHRA pages"
    ]
    assert all(r["excluded"] for r in answer_rows(study))


def test_every_clip_of_a_mushra_page_must_have_been_sent_before_its_answer(client, material):
    study = open_study([MUSHRA])
    participant = take_to_trials(client, study)
    trial = services.next_trial(participant)
    study_trial = Trial.objects.get(pk=trial.pk)
    heard(client, trial)
    study_trial.clips.filter(slot=3).update(served_at=None)  # the last clip never fetched
    response = client.post(study.participant_path(), right_answer(trial))
    assert response.status_code == 400
    assert "has not loaded each clip" in response.content.decode()
    assert not Response.objects.filter(trial=trial).exists()


def test_the_report_analyses_mushra_scores_and_abx_discrimination(client, material):
    from metrics.reports import build_report, tables, to_html
    from studies.models import Study

    study = open_study([MUSHRA, ABX])
    for _ in range(3):
        client.cookies.clear()
        answer_all(client, take_to_trials(client, study))
    report = build_report(Study.objects.get(pk=study.pk))
    mushra, abx = report.blocks
    assert mushra.kind == "mushra" and abx.kind == "abx"
    # Tested first, then the anchor and the hidden reference.
    assert [s.system for s in mushra.systems_table] == [
        "model-a",
        "model-b (anchor)",
        "human (hidden reference)",
    ]
    assert mushra.systems_table[-1].mean == 100
    assert mushra.hidden_reference_at_top.successes == mushra.hidden_reference_at_top.n == 6
    assert mushra.pages == 6 and mushra.ordinal is None
    assert [s.system for s in abx.systems_table] == ["model-a", "model-b"]
    assert sum(s.n for s in abx.systems_table) == 12
    assert abx.headline.measure.startswith("share of trials where X was matched")
    names = [t.name for t in tables(report)]
    assert "block1_mushra_hidden_reference" in names
    assert "block2_abx_discrimination" in names
    html = to_html(report)
    assert 'data-testid="mushra-1"' in html and 'data-testid="abx-2"' in html
    assert "told apart from human" in html


def test_the_post_screening_is_declared_in_the_frozen_plan():
    import json

    from studies.preregistration import plan_document

    document = json.loads(plan_document(spec([MUSHRA, ABX]), frozen_at="now", software="x"))
    screening = document["exclusions"]["mushra_post_screening"]
    assert screening["blocks"] == [1] and "below 90 on more than 15%" in screening["rule"]
    plain = json.loads(plan_document(spec([ABX]), frozen_at="now", software="x"))
    assert "mushra_post_screening" not in plain["exclusions"]


def test_mushra_and_abx_pages_speak_the_studys_language(client, material):
    import re

    from tests.studies.test_participant_languages import english_leaks

    study = open_study([MUSHRA, {**ABX, "instructed_checks": 1}], language="es")
    participant = take_to_trials(client, study)
    seen = []
    while (trial := services.next_trial(participant)) is not None:
        html = trial_page(client, study, seen=seen).content.decode()
        seen.append(html)
        heard(client, trial)
        assert client.post(study.participant_path(), right_answer(trial)).status_code == 302
    for html in seen:
        html = html if isinstance(html, str) else html.content.decode()
        labels = " ".join(re.findall(r'aria-label="([^"]*)"', html))
        text = re.sub(r"<script.*?</script>|<[^>]+>", " ", html, flags=re.S) + " " + labels
        assert english_leaks(text, "es") == [], text[:300]
    joined = " ".join(s if isinstance(s, str) else s.content.decode() for s in seen)
    assert "Reproducir la referencia" in joined and "La misma fuente que A" in joined
    assert "Control de atención" in joined


def test_the_designer_builds_mushra_and_abx_blocks(
    material, staff_client, django_capture_on_commit_callbacks
):
    from studies.models import Study
    from tests.factories import builder_form

    form = builder_form(
        rating="", mushra="on", mushra_anchor="model-b", abx="on", human_datasets=["fakes"],
        human_split="all", repeats="1", instructed_checks="1",
    )  # fmt: skip
    refused = staff_client.post("/studies/new/", {**form, "sample_sets": ["model-a"]})
    assert "the low anchor must be one of the sample sets chosen above" in refused.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        assert staff_client.post("/studies/new/", form).status_code == 302
    study = Study.objects.get(slug="built")
    mushra, abx = study.blocks.order_by("position")
    assert (mushra.kind, mushra.reference.name, mushra.anchor.name) == (
        "mushra",
        "human-fakes",
        "model-b",
    )
    assert mushra.post_screening and (mushra.repeats, mushra.instructed_checks) == (0, 0)
    assert (abx.kind, abx.reference.name, abx.instructed_checks) == ("abx", "human-fakes", 1)
    page = staff_client.get(study.get_absolute_url()).content.decode()
    assert (
        "MUSHRA: 0-100 sliders against human-fakes" in page and "model-b as the low anchor" in page
    )
    assert "ABX: each system told apart from human-fakes" in page


def test_abx_answers_import_one_trial_a_row(client, material):
    study = open_study([MUSHRA, ABX])
    answer_all(client, take_to_trials(client, study))
    exported = [{**row, "participant": "lab-1"} for row in answer_rows(study)]
    abx = [row for row in exported if row["block_kind"] == "abx"]
    report = services.import_answers(study, abx)
    assert report.errors == [] and report.answers == 4
    imported = Participant.objects.get(link_key="import:lab-1")
    for row in abx:
        trial = imported.trials.get(position=row["trial"] - 1)
        assert [s.pk for s in trial.stimuli] == [
            row["stimulus"],
            row["second_stimulus"],
            row["x_stimulus"],
        ]
        assert trial.response.choice == row["choice"]
    again = services.import_answers(study, abx)  # the same rows again change nothing
    assert again.errors == [] and again.answers == 0 and again.unchanged == 4
    # X named by its file name, with its own system column to settle a shared name.
    by_name = [{**abx[0], "participant": "lab-2", "x_stimulus": "", "x_clip": "nowhere.mid"}]
    refused = services.import_answers(study, by_name)
    assert refused.errors == ["row 2: column x_clip: no clip of this study is called 'nowhere.mid'"]
    no_x = services.import_answers(study, [{**abx[0], "participant": "lab-3", "x_stimulus": ""}])
    assert "an abx trial names its X" in no_x.errors[0]
    assert not Participant.objects.filter(link_key__in=["import:lab-2", "import:lab-3"]).exists()
    # The imported answers count in the analysis like the web ones.
    rows = [r for r in answer_rows(study) if r["block_kind"] == "abx"]
    assert len(rows) == 8 and all(r["correct"] is not None for r in rows)


def test_mushra_pages_import_from_their_rows_whole_or_not_at_all(client, material):
    study = open_study([MUSHRA])
    answer_all(client, take_to_trials(client, study))
    exported = [{**row, "participant": "lab-1"} for row in answer_rows(study)]
    assert len(exported) == 6  # two pages, three rated clips each
    report = services.import_answers(study, list(reversed(exported)))  # any row order
    assert report.errors == [] and report.answers == 2
    web = Participant.objects.exclude(link_key="import:lab-1").get()
    imported = Participant.objects.get(link_key="import:lab-1")
    for original in web.trials.all():
        copy = imported.trials.get(position=original.position)
        assert [s.pk for s in copy.stimuli] == [s.pk for s in original.stimuli]
        assert copy.response.ratings == original.response.ratings
    assert services.import_answers(study, exported).unchanged == 2  # nothing new
    page = [r for r in exported if r["trial"] == exported[0]["trial"]]
    renamed = [{**r, "participant": "lab-2"} for r in page]
    broken = {
        "a slot given twice": [renamed[0], {**renamed[1], "clip_slot": renamed[0]["clip_slot"]}],
        "a gap in the slots": [r for r in renamed if r["clip_slot"] != 2],
        "no hidden reference": [{**r, "clip_role": "tested"} for r in renamed],
        "a rating off the scale": [{**renamed[0], "rating": 101}, *renamed[1:]],
    }
    messages = {}
    for what, rows in broken.items():
        result = services.import_answers(study, rows)
        assert len(result.errors) == 1 and result.errors[0].startswith("rows "), what
        messages[what] = result.errors[0]
    assert "is given twice on one page" in messages["a slot given twice"]
    assert "without gaps" in messages["a gap in the slots"]
    assert "one hidden reference" in messages["no hidden reference"]
    assert "Ratings go from 0 to 100" in messages["a rating off the scale"]
    assert not Participant.objects.filter(link_key="import:lab-2").exists()
    # The imported listener's pages count in the analysis like the web ones.
    assert len([r for r in answer_rows(study) if r["participant"] == "lab-1"]) == 0
    assert len([r for r in answer_rows(study) if r["participant"] == imported.public_id]) == 6


def test_a_post_screened_mushra_block_counts_as_a_check_before_launch(material):
    from studies.preflight import study_findings

    def attention(study) -> str:
        return next(f.level for f in study_findings(study) if f.topic == "attention")

    assert attention(open_study([MUSHRA])) == "ok"
    unscreened = open_study([{**MUSHRA, "post_screening": False}], slug="unscreened")
    assert attention(unscreened) == "warn"
