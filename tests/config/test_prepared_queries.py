"""Prepared queries (config.prepared_queries): the participant pages' queries compiled once."""

import pytest
from django.db import connection
from django.db.models import F
from django.test import Client
from django.test.utils import CaptureQueriesContext

from config.prepared_queries import Number, PreparedQuery, Text
from studies import services
from studies.models import Trial
from tests.factories import ALL_BLOCKS, open_study, take_to_trials

pytestmark = pytest.mark.django_db


def _clips(trial: Trial) -> list:
    return [(s.pk, s.rendering.pk, s.rendering.files) for s in trial.stimuli]


def test_a_prepared_query_returns_what_its_queryset_returns_for_each_new_value(material):
    study = open_study(ALL_BLOCKS)
    participant = take_to_trials(Client(), study)
    trials = list(participant.trials.order_by("position"))
    prepared = PreparedQuery(
        lambda participant_id, position: (
            services.trials_with_clips()
            .annotate(owner=F("participant__public_id"))
            .filter(participant_id=participant_id, position__gte=position)
            .order_by("position")[:2]
        ),
        participant_id=Number,
        position=Number,
    )
    seen_kinds = set()
    for position in range(len(trials)):
        with CaptureQueriesContext(connection) as queries:
            found = prepared(participant_id=participant.pk, position=position)
        assert len(queries) == 1
        expected = trials[position : position + 2]
        assert [t.pk for t in found] == [t.pk for t in expected]
        for got, want in zip(found, expected, strict=True):
            assert (got.token, got.block.kind, got.owner) == (
                want.token,
                want.block.kind,
                participant.public_id,
            )
            assert _clips(got) == _clips(want)  # single clips and pairs alike
            seen_kinds.add((got.block.kind, got.second_id is not None))
    assert ("pairwise", True) in seen_kinds and ("rating", False) in seen_kinds
    assert prepared(participant_id=participant.pk + 1000, position=0) == []


def test_the_hot_path_lookups_find_only_their_own_rows(material):
    study = open_study(ALL_BLOCKS)
    participant = take_to_trials(Client(), study)
    trial = participant.trials.order_by("position").first()
    assert services.joined_participant(participant.public_id, study.access_key) == participant
    assert services.joined_participant(participant.public_id, "another-study") is None
    assert services.trial_of_clip(study.access_key, trial.token).owner == participant.public_id
    assert services.trial_of_clip("another-study", trial.token) is None
    # A value that looks like SQL is a value like any other.
    assert services.trial_of_clip(study.access_key, "' OR 1=1 --") is None


def test_a_lookup_that_rewrites_its_value_cannot_be_prepared():
    # icontains wraps the value in %...%: its stand-in is not among the parameters as given.
    prepared = PreparedQuery(lambda token: Trial.objects.filter(token__icontains=token), token=Text)
    with pytest.raises(ValueError, match="'token' appears 0 times"):
        prepared(token="abc")
    with pytest.raises(TypeError, match="expected values for"):
        prepared(other="abc")
