"""Studies through HTTP and services, checked in the database after each request."""

import json
from collections import Counter
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from generation.models import Rendering, SampleSet
from studies import exchange, selectors, services
from studies.models import Participant, Response, Stimulus, Study, Trial
from tests.conftest import run_command
from tests.factories import (
    ALL_BLOCKS,
    CLIP_SECONDS,
    answer_all,
    heard,
    listened,
    open_study,
    right_answer,
    spec,
    take_path,
    take_to_trials,
    tiny_checkpoint,
    trial_page,
)

pytestmark = pytest.mark.django_db


def test_create_study_command_builds_from_toml_and_is_idempotent(material, tmp_path):
    path = tmp_path / "study.toml"
    path.write_text(spec(ALL_BLOCKS).to_toml())
    output = run_command("create_study", "--from", str(path), "--open")
    assert "6 clips, 4 blocks, open" in output and take_path() in output
    study = Study.objects.get(slug="test-study")
    assert study.state == "open" and study.render_profile.settings["max_seconds"] == CLIP_SECONDS
    renderings = Rendering.objects.filter(pk__in=study.stimuli.values("rendering"))
    assert renderings.count() == 6
    assert all(r.duration_seconds <= CLIP_SECONDS + 0.01 for r in renderings)
    # Each clip traces back to its sample or piece.
    by_system = Counter(study.stimuli.values_list("system__name", flat=True))
    assert by_system == {"model-a": 2, "model-b": 2, "human": 2}
    assert study.stimuli.filter(system__name="human", piece__dataset__name="fakes").count() == 2
    assert (
        study.stimuli.filter(system__name="model-a", sample__sample_set__name="model-a").count()
        == 2
    )
    assert run_command("create_study", "--from", str(path)).count("created") == 0
    assert Study.objects.count() == 1 and Stimulus.objects.count() == 6
    path.write_text(spec(ALL_BLOCKS, title="Another").to_toml())
    with pytest.raises(Exception, match="exists with another design"):
        run_command("create_study", "--from", str(path))


def test_a_changed_study_file_replaces_a_study_only_simulated_listeners_took(material, tmp_path):
    path = tmp_path / "study.toml"
    path.write_text(spec(ALL_BLOCKS).to_toml())
    run_command("create_study", "--from", str(path), "--open")
    run_command("simulate_answers", "test-study", "--listeners", "3")
    first = Study.objects.get(slug="test-study")

    path.write_text(spec(ALL_BLOCKS, title="Another").to_toml())
    output = run_command("create_study", "--from", str(path), "--open", "--replace-if-unheard")
    assert "replaced study test-study" in output
    replaced = Study.objects.get(slug="test-study")
    assert replaced.pk != first.pk and replaced.title == "Another"
    assert not Participant.objects.filter(study=replaced).exists()

    # Once a real listener has joined, the study is data: kept as it is, with a warning.
    services.join(replaced, services.LinkParameters(pid="real-person"), consent=True)
    path.write_text(spec(ALL_BLOCKS, title="Third").to_toml())
    output = run_command("create_study", "--from", str(path), "--replace-if-unheard")
    kept = Study.objects.get(slug="test-study")
    assert kept.pk == replaced.pk and kept.title == "Another"
    assert kept.participants.filter(is_simulated=False).count() == 1


def test_a_spec_naming_missing_material_creates_nothing(material, tmp_path):
    path = tmp_path / "study.toml"
    bad = spec(ALL_BLOCKS).to_toml().replace('sample_set = "model-b"', 'sample_set = "nope"')
    path.write_text(bad)
    with pytest.raises(Exception, match="model-b: no sample set named 'nope'"):
        run_command("create_study", "--from", str(path))
    assert not Study.objects.exists()


def test_a_checkpoint_system_draws_samples_that_trace_back(material, fakes_checkpoint):
    spec_dict = spec(ALL_BLOCKS[:1]).to_dict()
    spec_dict["systems"][0] = {
        "name": "model-a",
        "checkpoint": fakes_checkpoint.pk,
        "sampling": {"bars": 2, "temperature": 0.8, "seed": 5},
    }
    study = services.build_study(services.create_study(type(spec(ALL_BLOCKS)).from_dict(spec_dict)))
    stimuli = study.stimuli.filter(system__name="model-a").select_related("sample__sample_set")
    assert stimuli.count() == 2
    sample_set = stimuli[0].sample.sample_set
    assert sample_set.checkpoint == fakes_checkpoint
    assert sample_set.settings["sampling"]["temperature"] == 0.8
    assert study.systems.get(name="model-a").sample_set == sample_set


@pytest.fixture
def fakes_checkpoint(material):
    return tiny_checkpoint(model="markov", config="events", dataset="fakes")


def test_builder_form_creates_and_builds_a_study(
    material, staff_client, django_capture_on_commit_callbacks
):
    form = {
        "build": "1",
        "title": "Built in the browser",
        "slug": "built",
        "instructions": "Listen.",
        "consent": "Agree?",
        "sample_sets": ["model-a", "model-b"],
        "human_datasets": ["fakes"],
        "human_split": "all",
        "temperature": "1.0",
        "bars": "8",
        "clips_per_system": "2",
        "clip_seconds": "1.5",
        "seed": "0",
        "rating": "on",
        "scale": "mos",
        "pairwise": "on",
        "instructed_checks": "1",
        "repeats": "0",
        "exclude_failed_checks": "on",
        "assignment_expiry_minutes": "30",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post("/studies/new/", form)
    assert response.status_code == 302, response.content.decode()
    study = Study.objects.get(slug="built")
    assert study.build_job.status == "succeeded" and study.stimuli.count() == 6
    kinds = list(study.blocks.values_list("kind", "scale"))
    assert kinds == [("rating", "mos"), ("pairwise", "1-10")]
    assert study.blocks.get(kind="pairwise").pairs == [
        ["model-a", "model-b"],
        ["model-a", "human-fakes"],
        ["model-b", "human-fakes"],
    ]
    # Style identification needs styles: the imported sets have none, so it is refused.
    response = staff_client.post("/studies/new/", {**form, "slug": "styled", "style": "on"})
    assert "style block: the answer list needs at least two styles" in response.content.decode()
    page = staff_client.get(study.get_absolute_url()).content.decode()
    assert study.participant_path() in page and "PROLIFIC_PID" in page


def test_builder_form_shows_what_is_wrong_and_creates_nothing(material, staff_client):
    response = staff_client.post(
        "/studies/new/",
        {"build": "1", "title": "x", "slug": "x", "instructions": "i", "consent": "c",
         "sample_sets": ["model-a"], "clips_per_system": "2", "clip_seconds": "2", "seed": "0",
         "temperature": "1", "bars": "8", "human_split": "test", "scale": "1-10",
         "pairwise": "on", "instructed_checks": "0", "repeats": "0",
         "assignment_expiry_minutes": "60"},
    )  # fmt: skip
    assert response.status_code == 200
    assert "a pairwise block needs at least two systems" in response.content.decode()
    assert not Study.objects.exists()


def test_spec_upload_creates_the_same_study_as_the_command(
    material, staff_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            "/studies/new/", {"upload": "1", "spec": spec(ALL_BLOCKS).to_toml()}
        )
    assert response.status_code == 302
    study = Study.objects.get(slug="test-study")
    assert study.design == spec(ALL_BLOCKS) and study.stimuli.count() == 6
    toml = staff_client.get("/studies/test-study/study.toml").content.decode()
    assert type(spec(ALL_BLOCKS)).from_toml(toml) == spec(ALL_BLOCKS)


def test_a_participant_goes_from_link_to_completion_code(material):
    study = open_study(
        ALL_BLOCKS, redirect_url="https://app.prolific.com/submissions/complete?cc=X"
    )
    client = Client()
    participant = take_to_trials(client, study, "?PROLIFIC_PID=p-1&STUDY_ID=st&SESSION_ID=se")
    assert (participant.prolific_pid, participant.prolific_study_id) == ("p-1", "st")
    assert (participant.age_band, participant.musical_training) == ("25-34", 2)
    assert participant.stage == "trials" and participant.order_seed is not None
    page = client.get(take_path()).content.decode()
    assert "Part 1 of 4" in page and "<h2>Rating</h2>" in page  # the block's introduction
    page = trial_page(client, study).content.decode()
    assert "<h2>Rating</h2>" in page and "Could a human have composed this?" in page
    assert 'name="rating" value="10"' in page and "Question 1 of 14" in page
    kinds = Counter(participant.trials.values_list("kind", flat=True))
    # Rating: all 6 clips, a check and a repeat; Turing 2; pairwise 2; style 2.
    assert kinds == {"main": 12, "instructed": 1, "repeat": 1}
    answer_all(client, participant)
    participant.refresh_from_db()
    assert participant.stage == "done" and participant.completed_at is not None
    assert Response.objects.filter(trial__participant=participant).count() == 14
    assert participant.exclusion_reasons == []
    page = client.get(take_path()).content.decode()
    assert study.completion_code in page and "https://app.prolific.com/submissions" in page
    # The same Prolific ID in another browser with the same attempt's SESSION_ID is the
    # same participant: no second take.
    other = Client()
    assert (
        study.completion_code
        in other.get(take_path() + "?PROLIFIC_PID=p-1&STUDY_ID=st&SESSION_ID=se").content.decode()
    )
    assert Participant.objects.count() == 1


def test_answers_are_saved_once_and_never_changed_by_a_resent_form(material):
    study = open_study(ALL_BLOCKS[:1])
    client = Client()
    participant = take_to_trials(client, study)
    trial = services.next_trial(participant)
    form = right_answer(trial)
    heard(client, trial)
    assert client.post(take_path(), form).status_code == 302
    assert client.post(take_path(), form).status_code == 302  # a retry: the same answer
    changed = {**form, "rating": "1" if form["rating"] != "1" else "2"}
    response = client.post(take_path(), changed)  # the back button, then another answer
    assert response.status_code == 409
    assert "your first answer is kept" in response.content.decode()
    assert Response.objects.filter(trial=trial).count() == 1
    assert Response.objects.get(trial=trial).rating == int(form["rating"])
    # A stale questionnaire page sent again changes nothing either.
    response = client.post(
        take_path(),
        {
            "step": "questionnaire",
            "age_band": "65+",
            "musical_training": "5",
            "listening_device": "phone",
        },
    )
    assert response.status_code == 409 and "already answered" in response.content.decode()
    participant.refresh_from_db()
    assert participant.age_band == "25-34" and participant.stage == "trials"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rating": "11"}, "not one of the answers"),
        ({"ended_0": "0"}, "listen to the clip to the end"),
        ({"could_be_human": ""}, "whether a human could have composed it"),
        ({"trial": "forged-token"}, "does not belong to you"),
        ({"listening_seconds": "nan"}, "non-negative"),
    ],
)
def test_a_tampered_answer_is_refused_with_a_reason_and_nothing_stored(material, change, message):
    study = open_study(ALL_BLOCKS[:1])
    client = Client()
    participant = take_to_trials(client, study)
    trial = services.next_trial(participant)
    response = client.post(take_path(), {**right_answer(trial), **change})
    assert response.status_code == 400 and message in response.content.decode()
    assert not Response.objects.exists()
    assert services.next_trial(participant) == trial  # still there to answer


def test_another_participants_trial_cannot_be_answered(material):
    study = open_study(ALL_BLOCKS[:1])
    first, second = Client(), Client()
    take_to_trials(first, study)
    other = take_to_trials(second, study)
    response = first.post(take_path(), right_answer(services.next_trial(other)))
    assert response.status_code == 400 and not Response.objects.exists()


def test_clips_are_served_under_opaque_addresses_to_their_participant_only(material, admin_client):
    study = open_study(ALL_BLOCKS[2:3])
    client = Client()
    participant = take_to_trials(client, study)
    trial = services.next_trial(participant)
    page = client.get(take_path()).content.decode()
    url = f"{take_path()}clip/{trial.token}/0.mp3"
    assert url in page and f"{take_path()}clip/{trial.token}/1.ogg" in page
    for secret in ("model-a", "model-b", "/media/", trial.first.rendering.midi_sha256[:12]):
        assert secret not in page
    response = client.get(url, headers={"Range": "bytes=0-99"})
    assert response.status_code == 206 and response["Content-Type"] == "audio/mpeg"
    assert "Content-Disposition" not in response
    whole = b"".join(client.get(url).streaming_content)
    assert b"model-a" not in whole and b"model-b" not in whole and b"fakes" not in whole
    assert Client().get(url).status_code == 404  # not this browser's trial
    assert client.get(f"{take_path()}clip/{trial.token}/2.mp3").status_code == 404
    # The clip's own file under /media/ is for logged-in experimenters only.
    media = "/media/" + trial.first.rendering.files["mp3"]
    assert client.get(media).status_code == 302 and admin_client.get(media).status_code == 200


def test_draft_and_closed_studies(material, admin_client):
    study = services.build_study(services.create_study(spec(ALL_BLOCKS[:1])))
    assert Client().get(take_path()).status_code == 403
    # An experimenter can preview a draft; the preview is kept apart from participants.
    admin_client.get(take_path() + "?preview=1")
    admin_client.post(take_path(), {"step": "consent", "consent": "yes"})
    preview = Participant.objects.get()
    assert preview.is_preview
    services.set_state(study, "open")
    client = Client()
    participant = take_to_trials(client, study)
    services.set_state(study, "closed")
    assert Client().get(take_path()).status_code == 403
    # Someone already taking part may finish.
    answer_all(client, participant)
    participant.refresh_from_db()
    assert participant.stage == "done"
    assert selectors.participant_counts(study).completed == 1
    assert selectors.participant_counts(study).previews == 1


def test_declining_consent_records_nothing_else(material):
    open_study(ALL_BLOCKS[:1])
    client = Client()
    client.get(take_path() + "?pid=x7")
    client.post(take_path(), {"step": "consent", "consent": "no"})
    participant = Participant.objects.get()
    assert participant.stage == "declined" and participant.external_pid == "x7"
    assert "chose not to take part" in client.get(take_path()).content.decode()
    assert not participant.trials.exists()


def test_failed_checks_are_recorded_and_excluded_as_the_study_says(material, staff_client):
    study = open_study(ALL_BLOCKS[:1], headphone_screen=True)
    client = Client()
    client.get(take_path())
    client.post(take_path(), {"step": "consent", "consent": "yes"})
    client.post(
        take_path(),
        {"step": "questionnaire", "age_band": "18-24", "musical_training": "0", "listening_device": "speakers"},
    )  # fmt: skip
    participant = Participant.objects.get()
    assert participant.stage == "screen" and sorted(participant.screen_order) == list(range(6))
    # Loudspeakers: the antiphase tone sounds quietest, so this listener picks it every time.
    from studies.headphone_screen import VARIANTS

    for index, variant in enumerate(participant.screen_order):
        assert client.get(f"{take_path()}screen/{index}.wav")["Content-Type"] == "audio/wav"
        wrong = VARIANTS[variant].index("antiphase") + 1
        client.post(
            take_path(),
            {"step": "screen", "index": str(index), "quietest": str(wrong), "plays_0": "1", "ended_0": "1"},
        )  # fmt: skip
    participant.refresh_from_db()
    assert participant.screen_passed is False and participant.stage == "instructions"
    assert participant.exclusion_reasons == ["failed the headphone screen (0 of 6 correct)"]
    client.post(take_path(), {"step": "instructions"})
    check = participant.trials.get(kind="instructed")
    while (trial := services.next_trial(participant)) is not None:
        form = right_answer(trial)
        if trial == check:
            form["rating"] = str(trial.expected["rating"] + 1)
        heard(client, trial)
        client.post(take_path(), form)
    participant.refresh_from_db()
    assert Response.objects.get(trial=check).passed_check is False
    assert participant.exclusion_reasons[1] == "failed 1 of 1 attention checks"
    rows = selectors.answer_rows(study)
    assert rows and all(row["excluded"] for row in rows)
    assert selectors.participant_counts(study).excluded == 1
    page = staff_client.get(study.get_absolute_url()).content.decode()
    assert "failed the headphone screen (0 of 6 correct)" in page


def finish(participant: Participant) -> None:
    while (trial := services.next_trial(participant)) is not None:
        listened(trial)
        services.record_answer(participant, trial.token, right_answer(trial))


def test_forty_participants_with_drop_outs_are_balanced(material):
    """Guarantee (studies/assignment.py): among completed and live assignments, exposure counts
    of a block's stimuli differ by at most 1, and each system pair's first position too."""
    study = open_study(
        [
            {"kind": "rating", "trials": 4},
            {
                "kind": "pairwise",
                "trials": 3,
                "pairs": [["model-a", "model-b"], ["model-a", "human"]],
            },
        ],
        assignment_expiry_minutes=30,
    )
    completed = 0
    for number in range(52):
        participant = services.join(study, services.LinkParameters(pid=f"p{number}"), consent=True)
        services.save_questionnaire(
            participant, {"age_band": "18-24", "musical_training": "1", "listening_device": "phone"}
        )
        services.start_trials(participant)
        if number % 4 == 3:
            # Drops out: the assignment expires before anyone else arrives.
            Participant.objects.filter(pk=participant.pk).update(
                expires_at=timezone.now() - timedelta(minutes=1)
            )
            continue
        finish(participant)
        completed += 1
    assert completed == 39
    done = Trial.objects.filter(participant__stage="done", kind="main")
    rating = Counter(done.filter(block__kind="rating").values_list("first_id", flat=True))
    assert len(rating) == 6 and max(rating.values()) - min(rating.values()) <= 1
    assert sum(rating.values()) == 39 * 4
    pairs, first = Counter(), Counter()
    for trial in done.filter(block__kind="pairwise").select_related(
        "first__system", "second__system"
    ):
        a, b = trial.first.system.name, trial.second.system.name
        pairs[frozenset((a, b))] += 1
        first[(frozenset((a, b)), a)] += 1
    assert max(pairs.values()) - min(pairs.values()) <= 1
    for pair in pairs:
        one, other = sorted(pair)
        assert abs(first[(pair, one)] - first[(pair, other)]) <= 1
    counts = selectors.participant_counts(study)
    assert (counts.completed, counts.dropped) == (39, 13)


def test_export_has_one_row_per_answer_and_imports_back(material, staff_client):
    study = open_study(ALL_BLOCKS)
    client = Client()
    participant = take_to_trials(client, study, "?pid=alpha")
    answer_all(client, participant)
    csv_text = staff_client.get("/studies/test-study/answers.csv").content.decode()
    rows = exchange.read_rows(csv_text)
    assert len(rows) == 14 and list(rows[0]) == selectors.EXPORT_COLUMNS
    pairwise = [r for r in rows if r["block_kind"] == "pairwise" and r["trial_kind"] == "main"]
    assert {r["system"] for r in pairwise} | {r["second_system"] for r in pairwise} == {
        "model-a",
        "model-b",
    }
    assert all(r["preferred_system"] == r["system"] for r in pairwise)  # "first" was chosen
    assert all(r["external_id"] == "alpha" and r["musical_training"] == "2" for r in rows)
    data = json.loads(staff_client.get("/studies/test-study/answers.json").content)
    assert len(data["answers"]) == 14 and data["answers"][0]["plays"] == [1]
    # Importing the export again changes nothing.
    report = services.import_answers(study, rows)
    assert (report.answers, report.unchanged, report.errors) == (0, 14, [])
    # Answers gathered elsewhere: a new participant's rows are stored, marked as imported.
    elsewhere = [{**row, "participant": "lab-7", "external_id": "lab-7"} for row in data["answers"]]
    upload = exchange.to_csv(elsewhere, selectors.EXPORT_COLUMNS).encode()
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = staff_client.post(
        "/studies/test-study/import/", {"file": SimpleUploadedFile("a.csv", upload)}, follow=True
    )
    assert "Imported 14 answers from 1 new participants" in response.content.decode()
    assert Response.objects.filter(source="import").count() == 14
    assert Participant.objects.get(external_pid="lab-7").stage == "done"


def test_a_bad_import_stores_nothing_and_names_the_rows(material):
    study = open_study(ALL_BLOCKS[:1])
    first = Stimulus.objects.filter(study=study).first()
    row = {"participant": "x", "block": "1", "stimulus": str(first.pk), "could_be_human": "yes"}
    rows = [
        {**row, "trial": "1", "rating": "5"},
        {**row, "trial": "2", "rating": "12"},
        {**row, "trial": "3", "rating": "5", "block": "9"},
        {**row, "trial": "4", "rating": "5", "stimulus": "999999"},
    ]
    report = services.import_answers(study, rows)
    assert len(report.errors) == 3
    assert report.errors[0].startswith("row 3:") and "not one of the answers" in report.errors[0]
    assert (
        "no block 9" in report.errors[1] and "not one of this study's stimuli" in report.errors[2]
    )
    assert not Participant.objects.exists() and not Response.objects.exists()


def test_clone_with_another_checkpoint_keeps_the_other_clips(
    material, fakes_checkpoint, staff_client, django_capture_on_commit_callbacks
):
    study = open_study(ALL_BLOCKS[:1])
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            "/studies/test-study/clone/",
            {"system": "model-a", "checkpoint": fakes_checkpoint.pk, "slug": "test-study-2", "title": "Clone"},
        )  # fmt: skip
    assert response.status_code == 302
    clone = Study.objects.get(slug="test-study-2")
    assert clone.cloned_from == study and clone.stimuli.count() == 6

    def same(s, name):
        return set(s.stimuli.filter(system__name=name).values_list("rendering", flat=True))

    assert same(clone, "model-b") == same(study, "model-b")
    assert same(clone, "human") == same(study, "human")
    assert same(clone, "model-a").isdisjoint(same(study, "model-a"))
    drawn = SampleSet.objects.get(pk=clone.systems.get(name="model-a").sample_set_id)
    assert drawn.checkpoint == fakes_checkpoint
    assert clone.completion_code != study.completion_code


def test_dashboard_counts_answers_per_stimulus_and_pair(material, staff_client):
    study = open_study(ALL_BLOCKS[2:3])
    for _ in range(3):
        client = Client()
        answer_all(client, take_to_trials(client, study))
    page = staff_client.get(study.get_absolute_url()).content.decode()
    table = selectors.pair_table(study.blocks.get())
    assert table[0]["answered"] == 6 and sum(table[0]["first"]) == 6
    assert abs(table[0]["first"][0] - table[0]["first"][1]) <= 1
    assert table[0]["wins"] == table[0]["first"]  # every listener chose the first clip
    assert 'data-testid="completed">3<' in page and "model-a vs model-b" in page


def test_export_and_import_commands_round_trip(material, tmp_path):
    study = open_study(ALL_BLOCKS[:1])
    client = Client()
    answer_all(client, take_to_trials(client, study))
    path = tmp_path / "answers.json"
    run_command("export_answers", "test-study", "--format", "json", "--output", str(path))
    assert len(json.loads(path.read_text())["answers"]) == 8
    assert "0 answers from 0 new participants; 8 were already here" in run_command(
        "import_answers", "test-study", str(path)
    )
    broken = tmp_path / "broken.csv"
    broken.write_text("participant,block,trial,stimulus,rating\nx,1,1,1,99\n")
    with pytest.raises(Exception, match="nothing imported:\n  row 2"):
        run_command("import_answers", "test-study", str(broken))


def test_rebuilding_a_draft_drops_previews_and_keeps_participants_safe(
    material, admin_client, django_capture_on_commit_callbacks
):
    study = services.build_study(services.create_study(spec(ALL_BLOCKS[:1])))
    admin_client.get(take_path() + "?preview=1")
    admin_client.post(take_path(), {"step": "consent", "consent": "yes"})
    preview = Participant.objects.get()
    services.save_questionnaire(
        preview, {"age_band": "18-24", "musical_training": "1", "listening_device": "phone"}
    )
    services.start_trials(preview)
    assert preview.trials.count() == 8
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post("/studies/test-study/build/")
    assert not Participant.objects.exists() and Stimulus.objects.filter(study=study).count() == 6
    services.set_state(study, "open")
    client = Client()
    take_to_trials(client, study)
    response = admin_client.post("/studies/test-study/build/", follow=True)
    assert "its clips cannot change" in response.content.decode()


def test_dashboard_counts_agree_with_its_lists_and_label_simulated_listeners(
    material, staff_client
):
    import re

    study = open_study(ALL_BLOCKS[:1])
    client = Client()
    answer_all(client, take_to_trials(client, study))
    run_command("simulate_answers", "test-study", "--listeners", "3")
    # Simulated listeners fail checks at random: exactly one fails here.
    simulated = study.participants.filter(is_simulated=True)
    simulated.update(exclusion_reasons=[])
    Participant.objects.filter(pk=simulated.first().pk).update(
        exclusion_reasons=["failed 2 of 2 attention checks"]
    )
    page = staff_client.get(study.get_absolute_url()).content.decode()
    # The person passed; the one excluded listener is simulated, and both cards say so.
    assert 'data-testid="excluded">0 excluded by failed checks (people only: see Simulated)' in page
    assert 'data-testid="simulated-excluded">1 excluded by failed checks' in page
    listed = re.search(r'<ul data-testid="exclusions">(.*?)</ul>', page, re.S).group(1)
    assert listed.count("<li>") == 1 and '<span class="pill">simulated</span>' in listed
    # Questionnaire answers in the questionnaire's words, not codes 0-5.
    assert "<td>1-3 years</td>" in page and "<th>Musical training</th>" in page

    studies = staff_client.get("/studies/").content.decode()
    row = re.search(rf'<a href="{study.get_absolute_url()}">.*?</tr>', studies, re.S).group(0)
    # Clips, started, completed, simulated: people and simulated listeners apart in both.
    assert re.findall(r'<td class="num">(\d+)</td>', row)[1:] == ["1", "1", "3"]


def test_study_link_prints_the_participant_link(material):
    study = open_study(ALL_BLOCKS[:1])
    printed = run_command("study_link", "test-study", "--base-url", "https://listen.example.org/")
    assert printed.strip().endswith(f"https://listen.example.org{study.participant_path()}")
    with pytest.raises(Exception, match="no study 'nope'"):
        run_command("study_link", "nope")
