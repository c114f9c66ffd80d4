"""Reads for studies: the dashboard's counts and the long table of answers."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from django.db.models import Case, Count, Q, QuerySet, When
from django.http import Http404
from django.utils import timezone

from studies.assignment import pair_key
from studies.design import MULTI_CLIP_KINDS, BlockKind
from studies.models import Block, Participant, Response, Stimulus, Study, Trial, TrialClip

Stage = Participant.Stage
IN_PROGRESS = (Stage.QUESTIONNAIRE, Stage.SCREEN, Stage.INSTRUCTIONS, Stage.TRIALS)


def experimenter_named(username: str):
    """The staff account of that name, or None: only experimenters own or share studies."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(username=username.strip(), is_staff=True).first()


def visible_studies(user) -> QuerySet[Study]:
    """The studies an experimenter may see: their own, those shared with them, and those
    nobody owns (made from the command line); a superuser sees every study."""
    if not (user.is_authenticated and user.is_staff):
        return Study.objects.none()
    if user.is_superuser:
        return Study.objects.all()
    return Study.objects.filter(
        Q(created_by=user) | Q(collaborators=user) | Q(created_by__isnull=True)
    ).distinct()


def can_see(user, study: Study) -> bool:
    return visible_studies(user).filter(pk=study.pk).exists()


def can_share(user, study: Study) -> bool:
    """Who may change a study's collaborators: its owner, or a superuser."""
    return user.is_superuser or (study.created_by_id is not None and study.created_by_id == user.pk)


def study_for(user, slug: str, queryset: QuerySet[Study] | None = None) -> Study:
    """The study, if this experimenter may see it; otherwise 404, as if it did not exist."""
    found = (queryset if queryset is not None else Study.objects).filter(
        pk__in=visible_studies(user).values("pk"), slug=slug
    )
    # Slugs are unique per owner; where another's study shares one (a superuser's view, a
    # study made from the command line), the experimenter's own comes first.
    study = found.order_by(Case(When(created_by=user.pk, then=0), default=1), "-created_at").first()
    if study is None:
        raise Http404("no such study")
    return study


def studies_with_counts(user) -> QuerySet[Study]:
    real = Q(participants__is_preview=False, participants__is_simulated=False)
    return visible_studies(user).annotate(
        n_simulated=Count("participants", filter=Q(participants__is_simulated=True), distinct=True),
        n_started=Count(
            "participants", filter=real & ~Q(participants__stage=Stage.DECLINED), distinct=True
        ),
        n_completed=Count(
            "participants", filter=real & Q(participants__stage=Stage.DONE), distinct=True
        ),
        n_stimuli=Count("stimuli", distinct=True),
    )


def is_excluded(study: Study, participant: Participant) -> bool:
    return study.exclude_failed_checks and bool(participant.exclusion_reasons)


@dataclass
class ParticipantCounts:
    started: int = 0  # consented
    declined: int = 0
    in_progress: int = 0
    dropped: int = 0  # in progress past their assignment's expiry
    completed: int = 0
    excluded: int = 0  # completed, with a failed screen or check, and the study excludes them
    previews: int = 0
    simulated: int = 0  # listeners made by simulate_answers; in none of the counts above
    simulated_excluded: int = 0  # of those, the ones the study's checks exclude
    counted: int = 0  # answers imported as counts per clip (no listener); in none above


def participant_counts(study: Study) -> ParticipantCounts:
    counts = ParticipantCounts()
    now = timezone.now()
    for participant in study.participants.only(
        "stage", "is_preview", "is_simulated", "listener_unknown", "expires_at", "exclusion_reasons"
    ):
        if participant.listener_unknown:
            counts.counted += 1
        elif participant.is_simulated:
            counts.simulated += 1
            counts.simulated_excluded += is_excluded(study, participant)
        elif participant.is_preview:
            counts.previews += 1
        elif participant.stage == Stage.DECLINED:
            counts.declined += 1
        else:
            counts.started += 1
            if participant.stage == Stage.DONE:
                counts.completed += 1
                counts.excluded += is_excluded(study, participant)
            elif participant.expires_at and participant.expires_at <= now:
                counts.dropped += 1
            else:
                counts.in_progress += 1
    return counts


def _real_trials(block: Block) -> QuerySet[Trial]:
    return Trial.objects.filter(block=block, participant__is_preview=False)


def stimulus_table(block: Block) -> list[dict]:
    """Per stimulus of a block: assignments (main trials given out) and answers so far. A
    clip counts once per trial, though a MUSHRA page plays its reference twice."""
    trials = _real_trials(block).filter(kind=Trial.Kind.MAIN)
    later = (
        _later_clips(TrialClip.objects.filter(trial__in=trials))
        if block.kind in MULTI_CLIP_KINDS
        else {}
    )
    assigned: Counter = Counter()
    answered: Counter = Counter()
    for trial, first, second, has_answer in trials.values_list(
        "id", "first_id", "second_id", "response__id"
    ):
        for stimulus in {first, second, *later.get(trial, ())} - {None}:
            assigned[stimulus] += 1
            answered[stimulus] += has_answer is not None
    stimuli = Stimulus.objects.filter(system__in=block.systems.all()).select_related(
        "system", "sample__sample_set", "piece__dataset", "rendering"
    )
    return [
        {
            "stimulus": s,
            "assigned": assigned[s.pk],
            "answered": answered[s.pk],
        }
        for s in stimuli
    ]


def pair_table(block: Block) -> list[dict]:
    """Per system pair of a pairwise block: answers, who was heard first, and preferences."""
    rows = {pair_key(*pair): Counter() for pair in block.pairs}
    trials = (
        _real_trials(block)
        .filter(kind=Trial.Kind.MAIN)
        .select_related("first__system", "second__system", "response")
    )
    for trial in trials:
        first, second = trial.first.system.name, trial.second.system.name
        counts = rows.setdefault(pair_key(first, second), Counter())
        counts["assigned"] += 1
        counts[f"first:{first}"] += 1
        response = getattr(trial, "response", None)
        if response is not None:
            counts["answered"] += 1
            if response.choice == Response.Choice.NONE:
                counts["no preference"] += 1
            else:
                counts[f"won:{first if response.choice == 'first' else second}"] += 1
    return [
        {
            "systems": pair,
            "assigned": counts["assigned"],
            "answered": counts["answered"],
            "first": [counts[f"first:{name}"] for name in pair],
            "wins": [counts[f"won:{name}"] for name in pair],
            "no_preference": counts["no preference"],
        }
        for pair, counts in rows.items()
    ]


def exclusions(study: Study) -> QuerySet[Participant]:
    """Everyone who failed a screen or check: people first, then simulated listeners."""
    return (
        study.participants.filter(is_preview=False)
        .exclude(exclusion_reasons=[])
        .order_by("is_simulated", "started_at")
    )


def recent_participants(study: Study, limit: int = 20) -> list[Participant]:
    return list(
        study.participants.annotate(
            n_trials=Count("trials"), n_answers=Count("trials__response")
        ).order_by("-started_at")[:limit]
    )


# The long table: one row per answer -----------------------------------------------------

EXPORT_COLUMNS = [
    "study",
    "participant",
    "external_id",
    "prolific_study_id",
    "prolific_session_id",
    "preview",
    "simulated",
    "listener_known",
    "excluded",
    "exclusion_reasons",
    "completed_at",
    "age_band",
    "musical_training",
    "listening_device",
    "block",
    "block_kind",
    "trial",
    "trial_kind",
    "repeat_of_trial",
    "stimulus",
    "system",
    "system_kind",
    "checkpoint",
    "sample_set",
    "sample_index",
    "seed",
    "sampling",
    "piece",
    "true_style",
    "second_stimulus",
    "second_system",
    "second_system_kind",
    "second_checkpoint",
    "second_sample_set",
    "second_sample_index",
    "second_seed",
    "second_piece",
    "second_true_style",
    "clip_slot",
    "clip_role",
    "x_stimulus",
    "x_system",
    "correct",
    "rating",
    "could_be_human",
    "judged_human",
    "confidence",
    "choice",
    "preferred_system",
    "style_answer",
    "expected",
    "passed_check",
    "plays",
    "listening_seconds",
    "response_seconds",
    "trial_seconds",
    "answered_at",
    "source",
]


def _stimulus_columns(stimulus: Stimulus | None, prefix: str = "") -> dict:
    if stimulus is None:
        names = ("stimulus", "system", "system_kind", "checkpoint", "sample_set")
        names += ("sample_index", "seed", "piece", "true_style")
        return {prefix + name: None for name in names}
    sample_set = stimulus.sample.sample_set if stimulus.sample_id else None
    sampling = (sample_set.settings.get("sampling") or {}) if sample_set else {}
    columns = {
        "stimulus": stimulus.pk,
        "system": stimulus.system.name,
        "system_kind": stimulus.system.kind,
        "checkpoint": sample_set.checkpoint_id if sample_set else None,
        "sample_set": sample_set.name if sample_set else None,
        "sample_index": stimulus.sample.index if stimulus.sample_id else None,
        "seed": sampling.get("seed"),
        "piece": stimulus.piece.identifier if stimulus.piece_id else None,
        "true_style": stimulus.style or None,
    }
    if not prefix:
        columns["sampling"] = sampling or None
    return {prefix + key: value for key, value in columns.items()}


_RESPONSE_FIELDS = (
    "rating",
    "could_be_human",
    "judged_human",
    "confidence",
    "choice",
    "style",
    "passed_check",
    "plays",
    "listening_seconds",
    "response_seconds",
    "trial_seconds",
    "answered_at",
    "source",
    "trial__participant_id",
    "trial__position",
    "trial__kind",
    "trial__expected",
    "trial__repeat_of__position",
    "trial__first_id",
    "trial__second_id",
    "trial__block__position",
    "trial__block__kind",
    "trial_id",
    "trial__more_clips",
    "ratings",
)


def answer_rows(study: Study, *, include_previews: bool = False) -> list[dict]:
    # A study has few clips and participants but may have tens of thousands of answers:
    # clips and participants are read once each, answers as plain values.
    stimuli = Stimulus.objects.filter(study=study).select_related(
        "system", "sample__sample_set", "piece"
    )
    first_columns = {s.pk: _stimulus_columns(s) for s in stimuli}
    second_columns = {s.pk: _stimulus_columns(s, "second_") for s in stimuli}
    no_second = _stimulus_columns(None, "second_")
    system_of = {pk: columns["system"] for pk, columns in first_columns.items()}
    participants = {p.pk: p for p in study.participants.all()}
    responses = (
        Response.objects.filter(trial__participant__study=study)
        .order_by("trial__participant__started_at", "trial__participant_id", "trial__position")
        .values(*_RESPONSE_FIELDS)
    )
    if not include_previews:
        responses = responses.filter(trial__participant__is_preview=False)
    later = _later_clips(TrialClip.objects.filter(trial__participant__study=study))
    anchors = dict(
        study.blocks.filter(anchor__isnull=False).values_list("position", "anchor__name")
    )
    rows = []
    for response in responses:
        participant = participants[response["trial__participant_id"]]
        first, second = response["trial__first_id"], response["trial__second_id"]
        choice = response["choice"]
        preferred = None
        if choice in ("first", "second"):
            preferred = system_of[first if choice == "first" else second]
        repeat_of = response["trial__repeat_of__position"]
        row = {
            "study": study.slug,
            "participant": participant.public_id,
            "external_id": participant.external_id or None,
            "prolific_study_id": participant.prolific_study_id or None,
            "prolific_session_id": participant.prolific_session_id or None,
            "preview": participant.is_preview,
            "simulated": participant.is_simulated,
            "listener_known": not participant.listener_unknown,
            "excluded": is_excluded(study, participant),
            "exclusion_reasons": "; ".join(participant.exclusion_reasons) or None,
            "completed_at": participant.completed_at.isoformat()
            if participant.completed_at
            else None,
            "age_band": participant.age_band or None,
            "musical_training": participant.musical_training,
            "listening_device": participant.listening_device or None,
            "block": response["trial__block__position"] + 1,
            "block_kind": response["trial__block__kind"],
            "trial": response["trial__position"] + 1,
            "trial_kind": response["trial__kind"],
            "repeat_of_trial": repeat_of + 1 if repeat_of is not None else None,
            **first_columns[first],
            **(second_columns[second] if second is not None else no_second),
            "rating": response["rating"],
            "could_be_human": response["could_be_human"],
            "judged_human": response["judged_human"],
            "confidence": response["confidence"],
            "choice": choice or None,
            "preferred_system": preferred,
            "style_answer": response["style"] or None,
            "expected": response["trial__expected"],
            "passed_check": response["passed_check"],
            "plays": response["plays"],
            "listening_seconds": response["listening_seconds"],
            "response_seconds": response["response_seconds"],
            "trial_seconds": response["trial_seconds"],
            "answered_at": response["answered_at"].isoformat(),
            "source": response["source"],
            "clip_slot": None,
            "clip_role": None,
            "x_stimulus": None,
            "x_system": None,
            "correct": None,
        }
        kind = response["trial__block__kind"]
        if kind == BlockKind.MUSHRA:
            slots = [first, second, *later.get(response["trial_id"], [])]
            anchor = anchors.get(response["trial__block__position"])
            rows.extend(_mushra_rows(row, slots, response["ratings"] or [], first_columns, anchor))
            continue
        if kind == BlockKind.ABX:
            x = (later.get(response["trial_id"]) or [None])[0]
            row["x_stimulus"] = x
            row["x_system"] = system_of.get(x)
            if choice in ("first", "second") and x is not None:
                row["correct"] = row["x_system"] == preferred
            row["preferred_system"] = None  # X's system chosen, not a preference
        rows.append({column: row[column] for column in EXPORT_COLUMNS})
    return rows


def _later_clips(clips: QuerySet[TrialClip]) -> dict[int, list[int]]:
    """trial id -> the stimuli of its clips after the second, in slot order."""
    later: dict[int, list[int]] = {}
    for trial, stimulus in clips.order_by("trial_id", "slot").values_list(
        "trial_id", "stimulus_id"
    ):
        later.setdefault(trial, []).append(stimulus)
    return later


def _mushra_rows(row: dict, slots: list[int], ratings: list, columns: dict, anchor) -> list[dict]:
    """A MUSHRA page's answer as one row per rated clip (the long table's one rating per
    row): its slot, and whether it is the hidden reference, the anchor or a tested clip."""
    rows = []
    for slot in range(1, len(slots)):
        stimulus = slots[slot]
        clip = columns[stimulus]
        role = (
            "hidden reference"
            if stimulus == slots[0]
            else "anchor"
            if clip["system"] == anchor
            else "tested"
        )
        rated = {
            **row,
            **clip,
            **{key: None for key in row if key.startswith("second_")},
            "clip_slot": slot,
            "clip_role": role,
            "rating": ratings[slot] if slot < len(ratings) else None,
            "choice": None,
            "preferred_system": None,
        }
        rows.append({column: rated[column] for column in EXPORT_COLUMNS})
    return rows
