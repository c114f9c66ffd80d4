"""Simulated listeners taking a study through the same path as real ones."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from generation.jobs.running import ProgressCallback
from studies.answers import (
    check_passed,
)
from studies.design import scale_values
from studies.integrity import (
    REASON_MUSHRA_REFERENCE,
    hidden_reference_rating,
    mushra_reference_missed,
)
from studies.models import Participant, Response, Study, System
from studies.services.participation import (
    StudyUnavailable,
    advance_participant,
    exclusion_reasons_for,
    expiry_time,
    start_trials,
)
from studies.simulation import Clip as SimulatedClip
from studies.simulation import ListenerModel, SimulatedListener, TrialView

Stage = Participant.Stage


AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
DEVICES = ("headphones", "speakers")


def simulate_listeners(
    study: Study, count: int, model: ListenerModel, *, progress: ProgressCallback | None = None
) -> int:
    """Add ``count`` simulated listeners who take the study as a participant would: the
    same balanced assignment, attention checks and repeats, with answers drawn from
    ``model``. They are flagged (Participant.is_simulated, Response.source) so reports
    leave them out unless asked. Returns how many were added."""
    if not study.is_built:
        raise StudyUnavailable("Build the study's clips before simulating listeners.")
    if count < 1:
        raise ValueError("simulate at least one listener")
    blocks = {b.pk: b for b in study.blocks.all()}
    already = study.participants.filter(is_simulated=True).count()
    for offset in range(count):
        number = already + offset
        listener = SimulatedListener(model, number)
        with transaction.atomic():  # a listener is added whole or not at all
            participant = Participant.objects.create(
                study=study,
                stage=Stage.INSTRUCTIONS,
                is_simulated=True,
                age_band=listener.rng.choice(AGE_BANDS),
                musical_training=listener.musical_training,
                listening_device=listener.rng.choice(DEVICES),
                screen_passed=True if study.headphone_screen else None,
                expires_at=expiry_time(study),
            )
            participant = start_trials(participant)
            _simulate_answers(participant, listener, blocks)
        if progress is not None:
            progress(offset + 1, count)
    return count


def _simulate_answers(participant: Participant, listener: SimulatedListener, blocks) -> None:
    trials = list(
        participant.trials.select_related("first__system", "second__system")
        .prefetch_related("clips__stimulus__system")
        .order_by("position")
    )
    responses, failed = [], 0
    for trial in trials:
        block = blocks[trial.block_id]
        clips = tuple(
            SimulatedClip(s.pk, s.system.name, s.system.kind == System.Kind.HUMAN, s.style)
            for s in (trial.first, trial.second, *(c.stimulus for c in trial.clips.all()))
            if s is not None
        )
        view = TrialView(
            kind=block.kind,
            clips=clips,
            scale_values=tuple(scale_values(block.scale)) if block.scale else (),
            ask_human=block.ask_human,
            ask_confidence=block.ask_confidence,
            allow_no_preference=block.allow_no_preference,
            styles=tuple(block.styles),
            expected=trial.expected,
        )
        answer = listener.answer(view)
        passed = check_passed(trial.expected, answer)
        failed += passed is False
        responses.append(
            Response(
                trial=trial,
                passed_check=passed,
                plays=[1] * len(clips),
                source=Response.Source.SIMULATED,
                **answer,
            )
        )
    Response.objects.bulk_create(responses)
    participant.checks_failed = failed
    reasons = exclusion_reasons_for(participant, checks_failed=failed)
    if _reference_missed(trials, responses, blocks):
        reasons.append(REASON_MUSHRA_REFERENCE)
    advance_participant(
        participant,
        Stage.DONE,
        checks_failed=failed,
        trials_done=len(trials),
        exclusion_reasons=reasons,
        completed_at=timezone.now(),
    )


def _reference_missed(trials, responses, blocks) -> bool:
    """MUSHRA's post-screening, as a real listener's answers get it."""
    hidden = [
        hidden_reference_rating(
            [trial.first_id, trial.second_id, *(c.stimulus_id for c in trial.clips.all())],
            response.ratings,
        )
        for trial, response in zip(trials, responses, strict=True)
        if blocks[trial.block_id].post_screening and trial.kind == "main" and response.ratings
    ]
    return mushra_reference_missed([rating for rating in hidden if rating is not None])
