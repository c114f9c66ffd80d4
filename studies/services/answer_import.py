"""Answers gathered elsewhere (a lab session, another platform) brought into a study."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from studies.answers import (
    MUSICAL_TRAINING,
    QUESTIONNAIRE,
    AnswerError,
    check_passed,
    parse_answer,
    seconds_value,
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
MAX_TRIAL = 100_000  # far more trials than any participant takes; the column is an integer
MAX_PLAYS = 1000
CHECK_KEYS = {"rating", "judged_human", "choice", "style"}


class CellError(AnswerError):
    """A cell the participant form would have refused; the message names its column."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(f"column {column}: {message}")


def _flag(value) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise AnswerError(f"{value!r} is not true or false")


def _whole(value, name: str, *, required: bool = True, low=None, high=None) -> int | None:
    if value is None or value == "":
        if required:
            raise CellError(name, "missing")
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        raise CellError(name, f"{str(value)[:40]!r} is not a whole number") from None
    if (low is not None and number < low) or (high is not None and number > high):
        raise CellError(name, f"{number} is outside {low}..{high}")
    return number


def _seconds(row: dict, column: str) -> float | None:
    try:
        return seconds_value(row.get(column), column)
    except AnswerError as error:
        raise CellError(column, str(error)) from None


def _expected(row: dict) -> dict | None:
    value = row.get("expected") or None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise CellError("expected", "not JSON") from None
    if value is None:
        return None
    if not isinstance(value, dict) or not value or not set(value) <= CHECK_KEYS:
        raise CellError("expected", f"an attention check's answer has keys {sorted(CHECK_KEYS)}")
    return value


def _plays(row: dict, clips: int) -> list[int]:
    value = row.get("plays")
    if value in (None, "", []):
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip().startswith("[") else [int(value)]
        except ValueError:
            raise CellError("plays", "not a list of play counts") from None
    if (
        not isinstance(value, list)
        or len(value) != clips
        or not all(isinstance(n, int) and not isinstance(n, bool) for n in value)
        or not all(0 <= n <= MAX_PLAYS for n in value)
    ):
        raise CellError("plays", f"one whole number from 0 to {MAX_PLAYS} per clip ({clips})")
    return value


def _questionnaire_cells(row: dict) -> tuple[int | None, str, str]:
    """The questionnaire columns, checked on every row as the participant form checks them."""
    training = _whole(
        row.get("musical_training"),
        "musical_training",
        required=False,
        low=min(MUSICAL_TRAINING),
        high=max(MUSICAL_TRAINING),
    )
    age_band = _choice_cell(row, "age_band", QUESTIONNAIRE["age_band"])
    device = _choice_cell(row, "listening_device", QUESTIONNAIRE["listening_device"])
    return training, age_band, device


def _choice_cell(row: dict, column: str, allowed) -> str:
    value = str(row.get(column) or "").strip()
    if value and value not in allowed:
        raise CellError(column, f"{value[:40]!r} is not one of {', '.join(map(str, allowed))}")
    return value


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
        raise CellError("participant", "missing")
    if len(name) > 100:
        raise CellError("participant", "longer than 100 characters")
    block = blocks.get(_whole(row.get("block"), "block"))
    if block is None:
        raise CellError("block", f"the study has no block {str(row.get('block'))[:20]}")
    position = _whole(row.get("trial"), "trial", low=1, high=MAX_TRIAL) - 1
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
    _questionnaire_cells(row)
    participant = participants.get(name) or _imported_participant(study, name, row, report)
    participants[name] = participant
    expected = _expected(row)
    plays = _plays(row, 2 if second is not None else 1)
    timings = {
        column: _seconds(row, column)
        for column in ("listening_seconds", "response_seconds", "trial_seconds")
    }
    trial = Trial.objects.filter(participant=participant, position=position).first()
    if trial is None:
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
    Response.objects.create(
        trial=trial,
        passed_check=check_passed(trial.expected, answer),
        plays=plays,
        source=Response.Source.IMPORT,
        **timings,
        **answer,
    )
    report.answers += 1


def _imported_participant(study, name: str, row: dict, report: ImportReport) -> Participant:
    found = Participant.objects.filter(study=study, public_id=name).first()
    found = found or Participant.objects.filter(study=study, link_key=f"import:{name}").first()
    if found is not None:
        return found
    training, age_band, device = _questionnaire_cells(row)
    report.participants += 1
    return Participant.objects.create(
        study=study,
        link_key=f"import:{name}",
        external_pid=str(row.get("external_id") or name)[:100],
        prolific_study_id=str(row.get("prolific_study_id") or "")[:100],
        prolific_session_id=str(row.get("prolific_session_id") or "")[:100],
        stage=Stage.DONE,
        age_band=age_band,
        musical_training=training,
        listening_device=device,
        # Simulated answers stay simulated wherever they are imported.
        is_simulated=bool(_flag(row.get("simulated"))),
        completed_at=timezone.now(),
    )
