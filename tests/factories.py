"""Shared factories for the objects many tests need.

Plain objects (no database): ``comparison_entry``. With the database:
``tests.study_material`` builds a study with rendered clips from real MIDI
(``import_material``, ``open_study``); ``participant_at_trial`` takes a participant
through the questionnaire to a given trial; ``tiny_checkpoint`` trains a checkpoint of a
real family in a few steps.
"""

from __future__ import annotations

from metrics.comparison.results import (
    CheckpointFacts,
    Entry,
    FeatureSummary,
    MusicFigures,
    TrainingFigures,
)


def comparison_entry(key, *, run=1, step=100, valid_loss=1.0, unit="nats per melody-events token",
                     rating=None, entropy=2.5) -> Entry:  # fmt: skip
    """A row of the checkpoint comparison: a checkpoint of ``run`` at ``step``, its loss,
    one music feature, and (when ``rating`` is given) what listeners said of it."""
    return Entry(
        key=key,
        label=key,
        sample_set=key,
        sample_set_label=key,
        checkpoint=CheckpointFacts(
            id=sum(map(ord, key)),
            family="melody-rnn",
            config="small",
            preset="",
            step=step,
            run=run,
            run_label=f"run {run}",
            run_best_step=300,
            dataset="fakes",
        ),
        loss_unit=unit,
        training=TrainingFigures(
            train_loss=None,
            valid_loss=valid_loss,
            test_loss=None,
            perplexity=None,
            accuracy=0.7,
            note_event_accuracy=None,
            cv_loss=None,
            cv_sd=None,
            cv_k=None,
        ),
        music=MusicFigures(
            pieces=4,
            features={"pitch_class_entropy": FeatureSummary(mean=entropy, sd=None, n=4)},
            histograms={},
            distances={},
        ),
        listeners=None if rating is None else {"system": key, "rating": rating},
    )
