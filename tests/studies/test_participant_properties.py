"""Property-based: any sequence of what a participant's browser might send (answers, bad
answers, resent and changed answers, answers out of turn or for someone else's trial, stale
pages, reloads) leaves the participant's answers a gap-free prefix of their trials, each
answered once, with the answer first sent."""

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studies import services
from studies.models import Participant, Response
from tests.factories import (
    ALL_BLOCKS,
    heard,
    import_material,
    open_study,
    right_answer,
    take_to_trials,
)

pytestmark = pytest.mark.django_db

ACTIONS = st.one_of(
    st.tuples(st.just("answer"), st.integers(1, 10)),
    st.tuples(st.just("bad-rating"), st.sampled_from(["0", "11", "", "seven", "5.5"])),
    st.tuples(st.just("not-listened"), st.integers(1, 10)),
    st.tuples(st.just("unheard"), st.integers(1, 10)),
    st.tuples(st.just("resend"), st.integers(0, 30)),
    st.tuples(st.just("change"), st.integers(0, 30)),
    st.tuples(st.just("ahead"), st.integers(1, 5)),
    st.tuples(st.just("foreign"), st.integers(1, 10)),
    st.tuples(st.just("stale-page"), st.just(0)),
    st.tuples(st.just("reload"), st.just(0)),
)


@pytest.fixture
def study_and_stranger(js_fakes, tmp_path):
    import_material(js_fakes, tmp_path)
    study = open_study(ALL_BLOCKS[:1])
    stranger = take_to_trials(Client(), study)
    return study, stranger


def form_for(trial, rating: int | str) -> dict:
    form = right_answer(trial)
    if not (trial.expected or {}):  # an attention check keeps its instructed answer
        form["rating"] = str(rating)
    return form


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(actions=st.lists(ACTIONS, max_size=30))
def test_any_sequence_of_posts_keeps_the_answers_whole(study_and_stranger, actions):
    study, stranger = study_and_stranger
    client = Client()
    participant = take_to_trials(client, study)
    trials = list(participant.trials.order_by("position"))
    sent: dict[int, dict] = {}  # trial pk -> the form first stored
    url = study.participant_path()

    for action, value in actions:
        current = services.next_trial(participant)
        answered = [t for t in trials if t.pk in sent]
        if action == "answer" and current is not None:
            form = form_for(current, value)
            heard(client, current)
            assert client.post(url, form).status_code == 302
            sent[current.pk] = form
        elif action == "bad-rating" and current is not None and not current.expected:
            assert client.post(url, {**form_for(current, 5), "rating": value}).status_code == 400
        elif action == "not-listened" and current is not None:
            form = {**form_for(current, value), "ended_0": "0"}
            assert client.post(url, form).status_code == 400
        elif action == "unheard" and current is not None:
            # The browser says it played the clip; the server never sent it.
            assert client.post(url, form_for(current, value)).status_code == 400
        elif action == "resend" and answered:
            trial = answered[value % len(answered)]
            assert client.post(url, sent[trial.pk]).status_code == 302
        elif action == "change" and answered:
            trial = answered[value % len(answered)]
            if trial.expected:
                continue
            old = int(sent[trial.pk]["rating"])
            form = {**sent[trial.pk], "rating": str(old % 10 + 1)}
            assert client.post(url, form).status_code == 409
        elif action == "ahead" and current is not None:
            later = [t for t in trials if t.position > current.position]
            if later:
                trial = later[(value - 1) % len(later)]
                assert client.post(url, form_for(trial, 5)).status_code == 409
        elif action == "foreign":
            theirs = services.next_trial(stranger)
            assert client.post(url, form_for(theirs, value)).status_code == 400
        elif action == "stale-page":
            form = {"step": "questionnaire", "age_band": "65+", "musical_training": "0"}
            assert client.post(url, {**form, "listening_device": "phone"}).status_code == 409
        elif action == "reload":
            assert client.get(url).status_code == 200

        # The invariants, read back from the database after every step.
        stored = {r.trial_id: r for r in Response.objects.filter(trial__participant=participant)}
        assert set(stored) == set(sent)
        positions = sorted(t.position for t in trials if t.pk in stored)
        assert positions == list(range(len(positions)))  # a prefix: no gaps
        for pk, form in sent.items():
            assert stored[pk].rating == int(form["rating"])
        participant.refresh_from_db()
        finished = len(stored) == len(trials)
        assert (participant.stage == Participant.Stage.DONE) == finished
        assert (participant.completed_at is not None) == finished
        assert not Response.objects.filter(trial__participant=stranger).exists()
