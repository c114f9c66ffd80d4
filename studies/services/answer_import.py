"""Answers gathered elsewhere (a lab session, another platform) brought into a study."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import PurePosixPath

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
from studies.models import Participant, Response, Stimulus, Study, Trial, TrialClip
from studies.services.participation import block_options

Stage = Participant.Stage


@dataclass
class ImportReport:
    participants: int = 0
    answers: int = 0
    unchanged: int = 0
    counted: int = 0  # answers that came as counts per clip, with no listener identity
    errors: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        counted = (
            f", and {self.counted} counted answers with no listener identity"
            if self.counted
            else ""
        )
        return (
            f"Imported {self.answers} answers from {self.participants} new participants"
            f"{counted}; {self.unchanged} were already here."
        )


class ClipIndex:
    """A study's clips, found the ways a researcher outside earshot knows them: the export's
    stimulus id, the clip's file name (an imported sample's or a dataset piece's, with or
    without its folder and extension), a sample set and sample index, or a piece identifier.
    A `system` column narrows a name that two systems share."""

    def __init__(self, study: Study) -> None:
        self.by_id: dict[int, Stimulus] = {}
        self.by_name: dict[str, list[Stimulus]] = defaultdict(list)
        self.by_sample: dict[tuple[str, int], Stimulus] = {}
        stimuli = Stimulus.objects.filter(study=study).select_related(
            "system", "sample__sample_set", "piece"
        )
        for stimulus in stimuli:
            self.by_id[stimulus.pk] = stimulus
            names = []
            if stimulus.sample_id:
                sample = stimulus.sample
                self.by_sample[(sample.sample_set.name, sample.index)] = stimulus
                names += [sample.label, PurePosixPath(sample.midi_file).name]
            if stimulus.piece_id:
                names.append(stimulus.piece.identifier)
            for name in filter(None, names):
                for key in _name_keys(name):
                    if stimulus not in self.by_name[key]:
                        self.by_name[key].append(stimulus)

    def find(self, row: dict, prefix: str = "") -> Stimulus | None:
        """The clip a row names (prefix "second_": its second clip); None if it names none."""
        given = {
            column: row.get(prefix + column)
            for column in ("stimulus", "clip", "sample_set", "sample_index", "piece")
        }
        if given["stimulus"] not in (None, ""):
            found = self.by_id.get(_whole(given["stimulus"], prefix + "stimulus"))
            if found is None:
                raise CellError(prefix + "stimulus", "not one of this study's stimuli")
            return found
        if given["sample_set"] not in (None, "") or given["sample_index"] not in (None, ""):
            key = (
                str(given["sample_set"] or "").strip(),
                _whole(given["sample_index"], prefix + "sample_index", low=0),
            )
            found = self.by_sample.get(key)
            if found is None:
                raise CellError(
                    prefix + "sample_set",
                    f"no clip of this study is sample {key[1]} of sample set {key[0]!r}",
                )
            return found
        for column in ("clip", "piece"):
            name = str(given[column] or "").strip()
            if name:
                return self._named(name, row, prefix, column)
        return None

    def require(self, row: dict) -> Stimulus:
        """The clip a row names; AnswerError when it names none."""
        found = self.find(row)
        if found is None:
            raise AnswerError(
                "no clip named: give stimulus, clip (its file name), sample_set and "
                "sample_index, or piece"
            )
        return found

    def _named(self, name: str, row: dict, prefix: str, column: str) -> Stimulus:
        # A pair's second clip (or ABX's X) is settled by its own system column.
        system = str(row.get(prefix + "system") or "").strip()
        column = prefix + column
        candidates = []
        for key in _name_keys(name):  # the most exact key that finds a clip
            candidates = [
                s for s in self.by_name.get(key, []) if not system or s.system.name == system
            ]
            if candidates:
                break
        if not candidates:
            raise CellError(column, f"no clip of this study is called {name[:80]!r}")
        if len(candidates) > 1:
            systems = ", ".join(sorted({s.system.name for s in candidates}))
            raise CellError(
                column,
                f"{name[:80]!r} names {len(candidates)} clips (systems {systems}): add a "
                "system column, or give sample_set and sample_index",
            )
        return candidates[0]


def _name_keys(name: str) -> list[str]:
    """A file name's lookup keys, most exact first: as given, without folders, without the
    extension; case does not count."""
    path = PurePosixPath(name.strip().replace("\\", "/").lower())
    return list(dict.fromkeys([str(path), path.name, path.stem]))


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
    clips = ClipIndex(study)
    with transaction.atomic():
        participants: dict[str, Participant] = {}
        pages: dict[tuple, list[tuple[int, dict]]] = {}
        for number, row in enumerate(rows, start=2):  # row 1 of a CSV is its header
            try:
                if _mushra_block(row, blocks) is not None:
                    # A MUSHRA page is one row per rated clip: gathered, then stored whole.
                    page = (_whole(row.get("block"), "block"), row.get("participant"))
                    pages.setdefault((*page, row.get("trial")), []).append((number, row))
                elif row.get("count") not in (None, ""):
                    _import_counted_row(study, row, blocks, clips, report)
                else:
                    _import_row(study, row, blocks, clips, participants, report)
            except ValueError as error:  # AnswerError, or JSON that does not parse
                report.errors.append(f"row {number}: {error}")
        for page in pages.values():
            numbers = ", ".join(str(number) for number, _ in page)
            try:
                _import_mushra_page(
                    study, [row for _, row in page], blocks, clips, participants, report
                )
            except ValueError as error:
                report.errors.append(f"rows {numbers}: {error}")
        if report.errors:
            transaction.set_rollback(True)
            report.participants = report.answers = report.unchanged = report.counted = 0
    return report


def _block_and_clips(row: dict, blocks: dict, clips: ClipIndex) -> tuple:
    block = blocks.get(_whole(row.get("block"), "block"))
    if block is None:
        raise CellError("block", f"the study has no block {str(row.get('block'))[:20]}")
    first = clips.require(row)
    second = clips.find(row, "second_")
    paired = block.kind in (BlockKind.PAIRWISE, BlockKind.ABX)
    if paired != (second is not None):
        raise AnswerError(f"a {block.kind} trial has {'two' if paired else 'one'} stimuli")
    return block, first, second


def _x_clip(row: dict, block, clips: ClipIndex):
    """An ABX trial's X, named as A and B are (x_stimulus, x_clip, x_sample_set and
    x_sample_index, or x_piece); None for other kinds."""
    if block.kind != BlockKind.ABX:
        return None
    x = clips.find(row, "x_")
    if x is None:
        raise AnswerError(
            "an abx trial names its X: give x_stimulus, x_clip, x_sample_set and "
            "x_sample_index, or x_piece"
        )
    return x


def _import_counted_row(study, row, blocks, clips: ClipIndex, report: ImportReport) -> None:
    """`count` answers given to a clip (or pair), as published results often come: no
    listener, no timing. Each is stored as one answer of a listener marked unknown, so the
    analysis knows which of its models need listeners it does not have. Importing the same
    counts again adds nothing; a higher count adds the difference."""
    if row.get("participant") not in (None, ""):
        raise CellError("count", "a row is one listener's answer or a count, not both")
    count = _whole(row.get("count"), "count", low=1, high=MAX_TRIAL)
    block, first, second = _block_and_clips(row, blocks, clips)
    if block.kind == BlockKind.ABX:
        raise CellError("count", "abx answers import one trial a row, with its participant")
    answer = parse_answer(block_options(block), _imported_answer_form(row))
    about = [block.position, first.pk, second.pk if second else None, answer]
    key = hashlib.sha256(json.dumps(about, sort_keys=True, default=str).encode()).hexdigest()
    stored = set(
        Participant.objects.filter(study=study, link_key__startswith=f"counted:{key}#").values_list(
            "link_key", flat=True
        )
    )
    for copy in range(count):
        link_key = f"counted:{key}#{copy}"
        if link_key in stored:
            report.unchanged += 1
            continue
        listener = Participant.objects.create(
            study=study,
            link_key=link_key,
            stage=Stage.DONE,
            listener_unknown=True,
            completed_at=timezone.now(),
        )
        trial = Trial.objects.create(
            participant=listener, block=block, position=0, first=first, second=second
        )
        Response.objects.create(trial=trial, plays=[], source=Response.Source.IMPORT, **answer)
        report.counted += 1


def _mushra_block(row: dict, blocks: dict):
    block = blocks.get(_whole(row.get("block"), "block"))
    return block if block is not None and block.kind == BlockKind.MUSHRA else None


def _import_mushra_page(study, rows, blocks, clips: ClipIndex, participants, report) -> None:
    """A MUSHRA page's rows (one per rated clip, as the export writes them) as one answer:
    the clips in their `clip_slot` order, the hidden reference (its `clip_role`, or the
    block's reference system) also the page's open reference."""
    first = rows[0]
    block = _mushra_block(first, blocks)
    if first.get("count") not in (None, ""):
        raise CellError("count", "mushra answers import one page of one participant")
    name = _participant_name(first)
    slots = {}
    hidden = []
    for row in rows:
        slot = _whole(row.get("clip_slot"), "clip_slot", low=1, high=MAX_TRIAL)
        if slot in slots:
            raise CellError("clip_slot", f"slot {slot} is given twice on one page")
        stimulus = clips.require(row)
        slots[slot] = (stimulus, row.get("rating"))
        role = str(row.get("clip_role") or "").strip()
        if role == "hidden reference" or (not role and stimulus.system_id == block.reference_id):
            hidden.append(stimulus)
    if sorted(slots) != list(range(1, len(slots) + 1)):
        raise CellError("clip_slot", "a page's clips are numbered 1, 2, 3, ... without gaps")
    if len(hidden) != 1:
        raise AnswerError("a mushra page has one hidden reference (clip_role 'hidden reference')")
    stimuli = [hidden[0]] + [slots[n][0] for n in sorted(slots)]
    form = {
        f"rating_{n}": str(value if value is not None else "") for n, (_, value) in slots.items()
    }
    answer = parse_answer(block_options(block), form, clips=len(stimuli))
    position = _whole(first.get("trial"), "trial", low=1, high=MAX_TRIAL) - 1
    _questionnaire_cells(first)
    participant = participants.get(name) or _imported_participant(study, name, first, report)
    participants[name] = participant
    trial = _imported_trial(participant, block, position, stimuli, name, kind=Trial.Kind.MAIN)
    _store_imported_answer(trial, answer, first, len(stimuli), name, report)


def _participant_name(row: dict) -> str:
    name = str(row.get("participant") or "").strip()
    if not name:
        raise CellError("participant", "missing (or give a count of answers per clip)")
    if len(name) > 100:
        raise CellError("participant", "longer than 100 characters")
    return name


def _imported_trial(participant, block, position, stimuli, name, *, kind, expected=None):
    """The trial at this position, made with these clips, or found with the same ones."""
    trial = Trial.objects.filter(participant=participant, position=position).first()
    if trial is None:
        trial = Trial.objects.create(
            participant=participant,
            block=block,
            position=position,
            kind=kind,
            first=stimuli[0],
            second=stimuli[1] if len(stimuli) > 1 else None,
            expected=expected,
            more_clips=max(0, len(stimuli) - 2),
        )
        TrialClip.objects.bulk_create(
            TrialClip(trial=trial, slot=slot, stimulus=stimulus)
            for slot, stimulus in enumerate(stimuli[2:], start=2)
        )
    elif trial.block_id != block.pk or [s.pk for s in trial.stimuli] != [s.pk for s in stimuli]:
        raise AnswerError(f"trial {position + 1} of {name} is stored with other stimuli")
    return trial


def _store_imported_answer(trial, answer, row, clip_count, name, report) -> None:
    stored = Response.objects.filter(trial=trial).first()
    if stored is not None:
        if any(getattr(stored, key) != value for key, value in answer.items()):
            raise AnswerError(f"trial {trial.position + 1} of {name} is stored with another answer")
        report.unchanged += 1
        return
    Response.objects.create(
        trial=trial,
        passed_check=check_passed(trial.expected, answer),
        plays=_plays(row, clip_count),
        source=Response.Source.IMPORT,
        **{c: _seconds(row, c) for c in ("listening_seconds", "response_seconds", "trial_seconds")},
        **answer,
    )
    report.answers += 1


def _import_row(study, row, blocks, clips: ClipIndex, participants, report) -> None:
    name = _participant_name(row)
    block, first, second = _block_and_clips(row, blocks, clips)
    x = _x_clip(row, block, clips)
    position = _whole(row.get("trial"), "trial", low=1, high=MAX_TRIAL) - 1
    kind = str(row.get("trial_kind") or Trial.Kind.MAIN)
    if kind not in Trial.Kind.values:
        raise AnswerError(f"trial_kind {kind!r} is not one of {', '.join(Trial.Kind.values)}")
    answer = parse_answer(block_options(block), _imported_answer_form(row))
    _questionnaire_cells(row)
    participant = participants.get(name) or _imported_participant(study, name, row, report)
    participants[name] = participant
    expected = _expected(row)
    stimuli = [s for s in (first, second, x) if s is not None]
    trial = _imported_trial(
        participant, block, position, stimuli, name, kind=kind, expected=expected
    )
    _store_imported_answer(trial, answer, row, len(stimuli), name, report)


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
        # So do answers whose listener nobody knows (counts per clip, exported).
        listener_unknown=_flag(row.get("listener_known")) is False,
        completed_at=timezone.now(),
    )
