"""Answers gathered elsewhere (a lab session, another platform) brought into a study."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from studies.answers import (
    AnswerError,
    check_passed,
    parse_answer,
)
from studies.design import BlockKind
from studies.models import Participant, Response, Stimulus, Study, Trial
from studies.services.participation import block_options

Stage = Participant.Stage


@dataclass
class ImportReport:
    participants: int = 0
    answers: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)


_TRUE, _FALSE = {"true", "yes", "1"}, {"false", "no", "0"}


def _flag(value) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise AnswerError(f"{value!r} is not true or false")


def _whole(value, name: str, *, required: bool = True) -> int | None:
    if value is None or value == "":
        if required:
            raise AnswerError(f"{name} is missing")
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        raise AnswerError(f"{name} {value!r} is not a whole number") from None


def _imported_answer_form(row: dict) -> dict:
    """An exported row's answer columns as the participant form would have sent them."""
    raw = {}
    if row.get("rating") not in (None, ""):
        raw["rating"] = str(row["rating"])
    for column, name, yes, no in (
        ("could_be_human", "could_be_human", "yes", "no"),
        ("judged_human", "judged", "human", "machine"),
    ):
        flag = _flag(row.get(column))
        if flag is not None:
            raw[name] = yes if flag else no
    for column, name in (
        ("confidence", "confidence"),
        ("choice", "choice"),
        ("style_answer", "style"),
    ):
        if row.get(column) not in (None, ""):
            raw[name] = str(row[column])
    return raw


def import_answers(study: Study, rows: list[dict]) -> ImportReport:
    """Answers gathered elsewhere, in the export's format. All or nothing: one bad row and
    nothing is stored, with every problem listed by row. Rows already here are left alone,
    so importing an export of this same study changes nothing."""
    report = ImportReport()
    blocks = {b.position + 1: b for b in study.blocks.all()}
    stimuli = {s.pk: s for s in Stimulus.objects.filter(study=study)}
    with transaction.atomic():
        participants: dict[str, Participant] = {}
        for number, row in enumerate(rows, start=2):  # row 1 of a CSV is its header
            try:
                _import_row(study, row, blocks, stimuli, participants, report)
            except ValueError as error:  # AnswerError, or JSON that does not parse
                report.errors.append(f"row {number}: {error}")
        if report.errors:
            transaction.set_rollback(True)
            report.participants = report.answers = report.unchanged = 0
    return report


def _import_row(study, row, blocks, stimuli, participants, report) -> None:
    name = str(row.get("participant") or "").strip()
    if not name:
        raise AnswerError("participant is missing")
    block = blocks.get(_whole(row.get("block"), "block"))
    if block is None:
        raise AnswerError(f"the study has no block {row.get('block')}")
    position = _whole(row.get("trial"), "trial") - 1
    if position < 0:
        raise AnswerError("trial numbers start at 1")
    first = stimuli.get(_whole(row.get("stimulus"), "stimulus"))
    second_id = _whole(row.get("second_stimulus"), "second_stimulus", required=False)
    second = stimuli.get(second_id) if second_id is not None else None
    if first is None or (second_id is not None and second is None):
        raise AnswerError("stimulus is not one of this study's stimuli")
    if (block.kind == BlockKind.PAIRWISE) != (second is not None):
        raise AnswerError(
            f"a {block.kind} trial has {'two' if block.kind == 'pairwise' else 'one'} stimuli"
        )
    kind = str(row.get("trial_kind") or Trial.Kind.MAIN)
    if kind not in Trial.Kind.values:
        raise AnswerError(f"trial_kind {kind!r} is not one of {', '.join(Trial.Kind.values)}")
    answer = parse_answer(block_options(block), _imported_answer_form(row))
    participant = participants.get(name) or _imported_participant(study, name, row, report)
    participants[name] = participant
    trial = Trial.objects.filter(participant=participant, position=position).first()
    if trial is None:
        expected = row.get("expected") or None
        if isinstance(expected, str):
            expected = json.loads(expected)
        trial = Trial.objects.create(
            participant=participant,
            block=block,
            position=position,
            kind=kind,
            first=first,
            second=second,
            expected=expected,
        )
    elif (trial.block_id, trial.first_id, trial.second_id) != (block.pk, first.pk, second_id):
        raise AnswerError(f"trial {position + 1} of {name} is stored with other stimuli")
    stored = Response.objects.filter(trial=trial).first()
    if stored is not None:
        if any(getattr(stored, key) != value for key, value in answer.items()):
            raise AnswerError(f"trial {position + 1} of {name} is stored with another answer")
        report.unchanged += 1
        return
    plays = row.get("plays") or []
    if isinstance(plays, str):
        plays = json.loads(plays) if plays.startswith("[") else [int(plays)]
    Response.objects.create(
        trial=trial,
        passed_check=check_passed(trial.expected, answer),
        plays=plays,
        listening_seconds=_number(row.get("listening_seconds")),
        response_seconds=_number(row.get("response_seconds")),
        trial_seconds=_number(row.get("trial_seconds")),
        source=Response.Source.IMPORT,
        **answer,
    )
    report.answers += 1


def _number(value) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except ValueError:
        raise AnswerError(f"{value!r} is not a number") from None


def _imported_participant(study, name: str, row: dict, report: ImportReport) -> Participant:
    found = Participant.objects.filter(study=study, public_id=name).first()
    found = found or Participant.objects.filter(study=study, link_key=f"import:{name}").first()
    if found is not None:
        return found
    report.participants += 1
    training = _whole(row.get("musical_training"), "musical_training", required=False)
    return Participant.objects.create(
        study=study,
        link_key=f"import:{name}",
        external_pid=str(row.get("external_id") or name)[:100],
        prolific_study_id=str(row.get("prolific_study_id") or "")[:100],
        prolific_session_id=str(row.get("prolific_session_id") or "")[:100],
        stage=Stage.DONE,
        age_band=str(row.get("age_band") or "")[:10],
        musical_training=training,
        listening_device=str(row.get("listening_device") or "")[:20],
        # Simulated answers stay simulated wherever they are imported.
        is_simulated=bool(_flag(row.get("simulated"))),
        completed_at=timezone.now(),
    )
