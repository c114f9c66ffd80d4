"""The participant's way through a study: joining, questionnaire, screen, trials, answers."""

from __future__ import annotations

import functools
import hashlib
import logging
import random
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from config.prepared_queries import Number, PreparedQuery, Text
from studies import assignment, headphone_screen
from studies.answers import (
    AnswerConflict,
    AnswerError,
    BlockOptions,
    check_passed,
    exclusion_reasons,
    parse_answer,
    parse_listening,
    parse_questionnaire,
)
from studies.design import MULTI_CLIP_KINDS, BlockKind
from studies.integrity import (
    REASON_UNHEARD,
    AnsweredTrial,
    ClipTiming,
    hidden_reference_rating,
    listener_flags,
    playing_seconds,
    unheard_reason,
)
from studies.models import (
    Block,
    Participant,
    Response,
    Stimulus,
    Study,
    Trial,
    TrialClip,
    new_token,
)

logger = logging.getLogger("earshot.studies")

Stage = Participant.Stage


@dataclass(frozen=True)
class LinkParameters:
    """What a crowdsourcing platform appends to the study link."""

    prolific_pid: str = ""
    prolific_study_id: str = ""
    prolific_session_id: str = ""
    pid: str = ""

    @classmethod
    def from_query(cls, query) -> LinkParameters:
        def clean(name: str) -> str:
            return (query.get(name) or "").strip()[:100]

        return cls(clean("PROLIFIC_PID"), clean("STUDY_ID"), clean("SESSION_ID"), clean("pid"))

    @property
    def key(self) -> str:
        if self.prolific_pid:
            return f"prolific:{self.prolific_study_id}:{self.prolific_pid}"
        return f"pid:{self.pid}" if self.pid else ""


class StudyUnavailable(Exception):
    """The study is not taking participants; the message says why."""


class StartedElsewhere(Exception):
    """These link values started the study in another browser, and this one cannot show it
    is the same attempt: it is shown nothing of it, and nothing is stored."""


def returning_participant(study: Study, link: LinkParameters) -> Participant | None:
    """The participant these link values started, when the link proves it is the same
    attempt (the platform's SESSION_ID of that attempt); StartedElsewhere when they started
    one it does not prove; None when they started none."""
    if not link.key:
        return None
    found = Participant.objects.filter(study=study, link_key=link.key).first()
    if found is None:
        return None
    if link.prolific_session_id and link.prolific_session_id == found.prolific_session_id:
        return found
    raise StartedElsewhere


def join(
    study: Study,
    link: LinkParameters,
    *,
    consent: bool,
    public_id: str = "",
    user_agent: str = "",
    preview=False,
) -> Participant:
    """A new participant (consenting or declining) under the `public_id` this browser was
    given, or the one it already is (a consent sent twice). The same Prolific ID never takes
    a study twice; a decline does not hold the link, so someone declining with another
    person's ID cannot lock that person out."""
    if not preview and study.state != Study.State.OPEN:
        raise StudyUnavailable(
            "This study has closed."
            if study.state == Study.State.CLOSED
            else "This study is not open yet."
        )
    public_id = public_id or new_token()
    same_browser = Participant.objects.filter(study=study, public_id=public_id).first()
    if same_browser is not None:
        return same_browser
    if consent:
        existing = returning_participant(study, link)
        if existing is not None:
            return existing
    try:
        with transaction.atomic():
            return Participant.objects.create(
                study=study,
                public_id=public_id,
                link_key=link.key if consent else "",
                prolific_pid=link.prolific_pid,
                prolific_study_id=link.prolific_study_id,
                prolific_session_id=link.prolific_session_id,
                external_pid=link.pid,
                stage=Stage.QUESTIONNAIRE if consent else Stage.DECLINED,
                is_preview=preview,
                user_agent=user_agent[:300],
                expires_at=expiry_time(study),
            )
    except IntegrityError:
        # The same consent sent twice at once (a double click): both continue as one.
        same_browser = Participant.objects.filter(study=study, public_id=public_id).first()
        if same_browser is None:
            raise StartedElsewhere from None  # the link's owner consented in another browser
        return same_browser


def expiry_time(study: Study, now=None):
    return (now or timezone.now()) + timedelta(minutes=study.assignment_expiry_minutes)


def advance_participant(participant: Participant, stage: str, **changes) -> Participant:
    changes.update(stage=stage, expires_at=expiry_time(participant.study))
    Participant.objects.filter(pk=participant.pk).update(last_seen_at=timezone.now(), **changes)
    participant.refresh_from_db()
    return participant


_ORDER = [Stage.QUESTIONNAIRE, Stage.SCREEN, Stage.INSTRUCTIONS, Stage.TRIALS, Stage.DONE]


def is_repeat(participant: Participant, step: str, raw) -> bool:
    """Whether a POST for a stage the participant has passed is that stage's own answer sent
    again (a retry after a lost response), rather than a different one (a stale page)."""
    if step == "consent":
        said = raw.get("consent")
        return said in ("yes", "no") and (said == "no") == (participant.stage == Stage.DECLINED)
    if participant.stage not in _ORDER or step not in _ORDER:
        return False
    if _ORDER.index(step) >= _ORDER.index(participant.stage):
        return False
    if step == Stage.QUESTIONNAIRE:
        try:
            sent = parse_questionnaire(raw)
        except AnswerError:
            return False
        return all(getattr(participant, field) == value for field, value in sent.items())
    if step == Stage.SCREEN:
        try:
            index = int(raw.get("index", -1))
            return 0 <= index < len(participant.screen_answers) and participant.screen_answers[
                index
            ] == int(raw.get("quietest", 0))
        except ValueError:
            return False
    return step == Stage.INSTRUCTIONS


def save_questionnaire(participant: Participant, raw) -> Participant:
    if participant.stage != Stage.QUESTIONNAIRE:
        return participant  # a resubmitted page: the first answers stand
    answers = parse_questionnaire(raw)
    if participant.study.headphone_screen:
        order = headphone_screen.trial_order(random.Random(f"screen:{participant.public_id}"))
        return advance_participant(participant, Stage.SCREEN, screen_order=order, **answers)
    return advance_participant(participant, Stage.INSTRUCTIONS, **answers)


def answer_screen(participant: Participant, index: int, raw) -> Participant:
    """One headphone-screen answer: which tone (1, 2 or 3) was quietest. An index already
    answered is left alone, so a resent form cannot change it."""
    if participant.stage != Stage.SCREEN or index != len(participant.screen_answers):
        return participant
    parse_listening(raw, 1)
    choice = raw.get("quietest")
    if choice not in ("1", "2", "3"):
        raise AnswerError(gettext_noop("Please choose tone 1, 2 or 3."))
    answers = [*participant.screen_answers, int(choice)]
    if len(answers) < headphone_screen.N_TRIALS:
        return advance_participant(participant, Stage.SCREEN, screen_answers=answers)
    participant.screen_answers = answers
    participant.screen_passed = headphone_screen.passed(participant.screen_order, answers)
    return advance_participant(
        participant,
        Stage.INSTRUCTIONS,
        screen_answers=answers,
        screen_passed=participant.screen_passed,
        exclusion_reasons=exclusion_reasons_for(
            participant, checks_failed=participant.checks_failed
        ),
    )


def exclusion_reasons_for(participant: Participant, *, checks_failed: int) -> list[str]:
    """Why analyses would leave this listener out, from the screen and the checks so far."""
    return exclusion_reasons(
        screen_passed=participant.screen_passed,
        screen_score=participant.screen_score,
        checks_failed=checks_failed,
        checks_total=participant.check_count,
    )


def start_trials(participant: Participant) -> Participant:
    """Assign this participant's trials (balanced, seeded, recorded) and begin them."""
    if participant.stage != Stage.INSTRUCTIONS:
        return participant
    study = participant.study
    with transaction.atomic():
        # One assignment at a time per study, so that two arrivals never read the same counts.
        Study.objects.select_for_update().filter(pk=study.pk).first()
        participant.refresh_from_db()
        if participant.stage != Stage.INSTRUCTIONS:
            return participant
        seed = int.from_bytes(
            hashlib.sha256(f"{study.seed}:{participant.public_id}".encode()).digest()[:6], "big"
        )
        blocks = list(study.blocks.prefetch_related("systems").order_by("position"))
        materials = [block_material(block) for block in blocks]
        exposures = [block_exposure(block, exclude=participant) for block in blocks]
        plan = assignment.plan_study(materials, exposures, seed)
        stimuli = {s.pk: s for s in Stimulus.objects.filter(study=study)}
        rows = []
        for position, planned in enumerate(plan):
            rows.append(
                Trial(
                    participant=participant,
                    block=blocks[planned.block],
                    position=position,
                    kind=planned.kind,
                    first=stimuli[planned.stimuli[0]],
                    second=stimuli[planned.stimuli[1]] if len(planned.stimuli) > 1 else None,
                    expected=planned.expected,
                    # The first trial's page is what starting them redirects to.
                    shown_at=timezone.now() if position == 0 else None,
                )
            )
        for trial, planned in zip(rows, plan, strict=True):
            trial.more_clips = max(0, len(planned.stimuli) - 2)
        Trial.objects.bulk_create(rows)
        saved = list(participant.trials.order_by("position"))
        TrialClip.objects.bulk_create(
            TrialClip(trial=trial, slot=slot, stimulus=stimuli[stimulus])
            for planned, trial in zip(plan, saved, strict=True)
            for slot, stimulus in enumerate(planned.stimuli[2:], start=2)
        )
        for planned, trial in zip(plan, saved, strict=True):
            if planned.repeat_of is not None:
                trial.repeat_of = saved[planned.repeat_of]
        Trial.objects.bulk_update([t for t in saved if t.repeat_of_id], ["repeat_of"])
        counts = {
            "trial_count": len(saved),
            "check_count": sum(t.kind == Trial.Kind.INSTRUCTED for t in saved),
            "trials_done": 0,
        }
        if not saved:  # a study whose blocks have no clips: nothing to do but finish
            return advance_participant(
                participant, Stage.DONE, order_seed=seed, completed_at=timezone.now(), **counts
            )
        return advance_participant(participant, Stage.TRIALS, order_seed=seed, **counts)


def block_material(block: Block) -> assignment.BlockMaterial:
    by_system: dict[str, list[int]] = {}
    for stimulus in Stimulus.objects.filter(system__in=block.systems.all()).select_related(
        "system"
    ):
        by_system.setdefault(stimulus.system.name, []).append(stimulus.pk)
    return assignment.BlockMaterial(
        kind=BlockKind(block.kind),
        stimuli_by_system=by_system,
        trials=block.trials_per_participant,
        pairs=[tuple(pair) for pair in block.pairs],
        instructed_checks=block.instructed_checks,
        repeats=block.repeats,
        scale=block.scale,
        styles=tuple(block.styles),
        adaptive=block.adaptive,
        reference=block.reference.name if block.reference_id else "",
        anchor=block.anchor.name if block.anchor_id else "",
    )


def counted_trials(block: Block):
    """Main trials of assignments that still count: completed, or in progress and not expired."""
    live = Q(participant__stage=Stage.TRIALS, participant__expires_at__gt=timezone.now())
    return Trial.objects.filter(
        Q(participant__stage=Stage.DONE) | live,
        block=block,
        kind=Trial.Kind.MAIN,
        participant__is_preview=False,
    )


def block_exposure(block: Block, *, exclude: Participant | None = None) -> assignment.Exposure:
    """Counted in the database: one row per stimulus or ordered system pair, not per trial."""
    exposure = assignment.Exposure()
    trials = counted_trials(block)
    if exclude is not None:
        trials = trials.exclude(participant=exclude)
    for column in ("first_id", "second_id"):
        for stimulus, n in trials.values_list(column).annotate(n=Count("id")).order_by():
            if stimulus is not None:
                exposure.stimulus[stimulus] += n
    if block.kind in MULTI_CLIP_KINDS:
        _count_later_clips(block, trials, exposure)
    ordered = (
        trials.filter(second__isnull=False)
        .values_list("first__system__name", "second__system__name")
        .annotate(n=Count("id"))
        .order_by()
    )
    for first, second, n in ordered:
        pair = assignment.pair_key(first, second)
        exposure.pair[pair] += n
        exposure.first[(pair, first)] += n
    if block.adaptive:
        answered = (
            trials.filter(response__choice__in=["first", "second"])
            .values_list("first__system__name", "second__system__name", "response__choice")
            .annotate(n=Count("id"))
            .order_by()
        )
        for first, second, choice, n in answered:
            winner, loser = (first, second) if choice == "first" else (second, first)
            exposure.wins[(winner, loser)] += n
    return exposure


def _count_later_clips(block: Block, trials, exposure: assignment.Exposure) -> None:
    """A MUSHRA page's or an ABX trial's clips after the second, and which system gave X."""
    later = TrialClip.objects.filter(trial__in=trials)
    if block.kind == BlockKind.MUSHRA:
        # A page's hidden reference repeats its open one: the reference counts once a page.
        later = later.exclude(stimulus=F("trial__first"))
        exposure.stimulus.subtract(
            dict(
                trials.filter(second=F("first"))
                .values_list("first_id")
                .annotate(n=Count("id"))
                .order_by()
            )
        )
    for stimulus, n in later.values_list("stimulus_id").annotate(n=Count("id")).order_by():
        exposure.stimulus[stimulus] += n
    if block.kind == BlockKind.ABX:
        sources = (
            later.filter(slot=2)
            .values_list(
                "trial__first__system__name",
                "trial__second__system__name",
                "stimulus__system__name",
            )
            .annotate(n=Count("id"))
            .order_by()
        )
        for first, second, source, n in sources:
            exposure.x_source[(assignment.pair_key(first, second), source)] += n


def next_trial(participant: Participant) -> Trial | None:
    return (
        participant.trials.filter(response__isnull=True)
        .select_related("block", "first", "second")
        .order_by("position")
        .first()
    )


def block_options(block: Block) -> BlockOptions:
    return BlockOptions(
        kind=BlockKind(block.kind),
        scale=block.scale,
        ask_human=block.ask_human,
        ask_confidence=block.ask_confidence,
        allow_no_preference=block.allow_no_preference,
        styles=tuple(block.styles),
    )


def clip_count(trial: Trial) -> int:
    return (2 if trial.second_id else 1) + trial.more_clips


@dataclass
class Saved:
    response: Response
    created: bool  # False: this trial was answered before; the first answer stands


NOT_CURRENT = gettext_noop("That is not the clip you are on now; here is the one you are on.")


@functools.cache
def _columns(prefix: str, model) -> tuple[str, ...]:
    return tuple(f"{prefix}{field.name}" for field in model._meta.concrete_fields)


# What the participant pages read of a trial's clips. Compiling and decoding every column of
# the stimuli and renderings cost the hot path more than running its queries (profiled: a
# trial query took 0.9 ms to build and 0.06 ms to run), so only these are selected.
_CLIP_COLUMNS = tuple(
    f"{side}__{column}"
    for side in ("first", "second")
    for column in ("rendering", "rendering__files", "rendering__duration_seconds")
)


def trials_with_clips(*, block: bool = True, response: bool = False):
    """Trials with what their clips need, in one query; with `block` their block too, with
    `response` their answer."""
    related = ["first__rendering", "second__rendering"]
    columns = _columns("", Trial) + _CLIP_COLUMNS
    if block:
        related.append("block")
        columns += _columns("block__", Block)
    if response:
        related.append("response")
        columns += _columns("response__", Response)
    return Trial.objects.select_related(*related).only(*columns).order_by()


# The queries every trial page, answer and clip makes, compiled once (config.prepared_queries).
_JOINED_PARTICIPANT = PreparedQuery(
    lambda public_id, access_key: (
        Participant.objects.select_related("study")
        .filter(public_id=public_id, study__access_key=access_key)
        .order_by()
    ),
    public_id=Text,
    access_key=Text,
)
_CURRENT_TRIALS = PreparedQuery(
    lambda participant_id, position: (
        trials_with_clips()
        .filter(participant_id=participant_id, position__gte=position)
        .order_by("position")[:2]
    ),
    participant_id=Number,
    position=Number,
)
_TRIAL_TO_ANSWER = PreparedQuery(
    lambda participant_id, token: trials_with_clips(response=True).filter(
        token=token, participant_id=participant_id
    ),
    participant_id=Number,
    token=Text,
)
_TRIAL_OF_CLIP = PreparedQuery(
    lambda access_key, token: (
        trials_with_clips(block=False)
        .annotate(owner=F("participant__public_id"))
        .filter(token=token, participant__study__access_key=access_key)
    ),
    access_key=Text,
    token=Text,
)


def joined_participant(public_id: str, access_key: str) -> Participant | None:
    """The participant with this public id in the study with this access key, with the
    study, in one query."""
    return _JOINED_PARTICIPANT.first(public_id=public_id, access_key=access_key)


def trial_of_clip(access_key: str, token: str) -> Trial | None:
    """The trial with this token in the study with this access key, with its clips and its
    participant's public id (`owner`)."""
    return _TRIAL_OF_CLIP.first(access_key=access_key, token=token)


def record_answer(participant: Participant, trial_token: str, raw, *, now=None) -> Saved:
    """Store the answer to the participant's current trial.

    The trial's token is the answer's idempotency key: the same answer sent again (a double
    click, a retry after a lost connection) finds the stored one and changes nothing; a
    different answer for an answered trial, or one for a trial not reached yet, is an
    AnswerConflict. An answer that arrives before the server sent its clips, or sooner than
    they could have played, is an AnswerError (or stored and flagged, as the study says).
    So a participant's answers never have gaps and are never rewritten.

    Queries: the trial (with its answer, if any), then one conditional update of the
    participant (which also decides a race between two sends of one answer), the insert and
    the next trial's shown time; the last answer reads the participant's answers once more,
    for the listener's flags.
    """
    now = now or timezone.now()
    trial = _TRIAL_TO_ANSWER.first(participant_id=participant.pk, token=trial_token)
    if trial is None:
        raise AnswerError(
            gettext_noop("This trial does not belong to you; please reload the page.")
        )
    answer = parse_answer(block_options(trial.block), raw, clips=clip_count(trial))
    listening = parse_listening(raw, clip_count(trial))
    existing = _stored_answer(trial)
    if existing is not None:
        return _resent(existing, answer)
    if trial.position != participant.trials_done:
        raise AnswerConflict(NOT_CURRENT)
    study = participant.study
    unheard = unheard_reason(shown_at=trial.shown_at, clips=_clip_timings(trial), answered_at=now)
    if unheard and study.answer_timing == "refuse":
        raise AnswerError(unheard)
    passed = check_passed(trial.expected, answer)
    response = Response(
        trial=trial, passed_check=passed, too_fast=bool(unheard), **answer, **listening
    )
    response.answered_at = now
    changes = _progress_changes(participant, trial, response, now)
    with transaction.atomic(savepoint=False):
        advanced = Participant.objects.filter(pk=participant.pk, trials_done=trial.position).update(
            **changes
        )
        if advanced:
            response.save(force_insert=True)
            _stamp_next_shown(participant, trial, now)
    if not advanced:
        # The same answer sent twice at once: the other send stored it a moment ago.
        stored = Response.objects.filter(trial=trial).first()
        if stored is None:
            raise AnswerConflict(NOT_CURRENT)
        return _resent(stored, answer)
    for field_name, value in changes.items():
        setattr(participant, field_name, value)
    participant.trials_done = trial.position + 1
    return Saved(response, created=True)


def _stamp_next_shown(participant: Participant, trial: Trial, now) -> None:
    """The next trial's page is what this answer's redirect shows: its time is stamped here,
    in the answer's transaction, so that showing the page is a read. On SQLite every write
    transaction queues for the one database lock; one fewer per trial raised the answers a
    second the server sustains. The clips' timing check is as strict as before: the next
    answer still has to come at least its clips' playing time after this one."""
    if trial.position + 1 < participant.trial_count:
        Trial.objects.filter(
            participant=participant, position=trial.position + 1, shown_at__isnull=True
        ).update(shown_at=now)


def _stored_answer(trial: Trial) -> Response | None:
    try:
        return trial.response
    except Response.DoesNotExist:
        return None


def _clip_timings(trial: Trial) -> list[ClipTiming]:
    served = [trial.first_served_at, trial.second_served_at]
    served += [clip.served_at for clip in trial.later_clips]
    return [
        ClipTiming(
            duration_seconds=stimulus.rendering.duration_seconds or 0.0,
            first_served_at=served[index],
        )
        for index, stimulus in enumerate(trial.stimuli)
    ]


def _progress_changes(participant: Participant, trial: Trial, response: Response, now) -> dict:
    """The participant's row after this answer: one more trial done, and on the last one
    the stage, the completion time and the flags the whole set of answers earns."""
    changes = {"trials_done": F("trials_done") + 1, "last_seen_at": now}
    checks_failed = participant.checks_failed + (response.passed_check is False)
    if response.passed_check is False:
        changes["checks_failed"] = checks_failed
    reasons = exclusion_reasons_for(participant, checks_failed=checks_failed)
    if response.too_fast or REASON_UNHEARD in participant.exclusion_reasons:
        reasons.append(REASON_UNHEARD)
    if trial.position + 1 >= participant.trial_count:
        flags = listener_flags(
            _answered_trials(participant, trial, response),
            speeder_floor_seconds=participant.study.speeder_floor_seconds,
        )
        reasons += [flag for flag in flags if flag not in reasons]
        changes.update(stage=Stage.DONE, completed_at=now)
    if reasons != participant.exclusion_reasons:
        changes["exclusion_reasons"] = reasons
    changes["expires_at"] = expiry_time(participant.study, now)
    return changes


def _answered_trials(participant: Participant, current: Trial, response: Response):
    """Every web answer of the participant, this one included, as the flags read them."""
    rows = [
        (trial, trial.response)
        for trial in trials_with_clips(response=True).filter(
            participant=participant, response__isnull=False
        )
    ]
    rows.append((current, response))
    return [
        AnsweredTrial(
            block=trial.block.position,
            block_kind=trial.block.kind,
            main=trial.kind == Trial.Kind.MAIN,
            value=_answer_value(trial.block.kind, answer),
            hidden_reference=hidden_reference_rating(
                [s.pk for s in trial.stimuli], answer.ratings or []
            )
            if trial.block.post_screening
            else None,
            seconds_after_clips=_seconds_after_clips(trial, answer),
            too_fast=answer.too_fast,
        )
        for trial, answer in rows
        if answer.source == Response.Source.WEB
    ]


def _answer_value(kind: str, response: Response):
    return {
        BlockKind.RATING: response.rating,
        BlockKind.TURING: response.judged_human,
        BlockKind.PAIRWISE: response.choice,
        BlockKind.STYLE: response.style,
        BlockKind.MUSHRA: tuple(response.ratings or ()),
        BlockKind.ABX: response.choice,
    }[BlockKind(kind)]


def _seconds_after_clips(trial: Trial, response: Response) -> float | None:
    if trial.shown_at is None or response.answered_at is None:
        return None
    heard = playing_seconds(_clip_timings(trial))
    return max(0.0, (response.answered_at - trial.shown_at).total_seconds() - heard)


def _resent(existing: Response, answer: dict) -> Saved:
    if any(getattr(existing, field) != value for field, value in answer.items()):
        raise AnswerConflict(
            gettext_noop(
                "You have already answered that clip, and your first answer is kept; "
                "here is the clip you are on now."
            )
        )
    return Saved(existing, created=False)


def mark_shown(trial: Trial, now=None) -> None:
    """The trial page went out (when starting the trials or the answer before did not
    already stamp it)."""
    _stamp_first_time(trial, "shown_at", now)


def mark_served(trial: Trial, index: int, now=None) -> None:
    """A clip's bytes went out."""
    if index < 2:
        _stamp_first_time(trial, ("first_served_at", "second_served_at")[index], now)
        return
    clip = trial.later_clips[index - 2]
    if clip.served_at is None:
        clip.served_at = now or timezone.now()
        TrialClip.objects.filter(pk=clip.pk, served_at__isnull=True).update(
            served_at=clip.served_at
        )


def _stamp_first_time(trial: Trial, field_name: str, now) -> None:
    """The first time is the one that counts: written once (a reload or a range request
    after it writes nothing), and never over a time another request wrote first."""
    if getattr(trial, field_name) is None:
        stamp = now or timezone.now()
        setattr(trial, field_name, stamp)
        Trial.objects.filter(pk=trial.pk, **{f"{field_name}__isnull": True}).update(
            **{field_name: stamp}
        )


def introduce_block(participant: Participant, block_id: int) -> Participant:
    """The participant has passed this block's introduction screen. Sent twice (a double
    click, a second tab), it changes nothing."""
    if block_id in participant.introduced_blocks:
        return participant
    with transaction.atomic():
        locked = Participant.objects.select_for_update().get(pk=participant.pk)
        if block_id not in locked.introduced_blocks:
            locked.introduced_blocks = [*locked.introduced_blocks, block_id]
            locked.save(update_fields=["introduced_blocks"])
            # The block's first trial was stamped as shown when the answer before it was
            # stored; its page comes only now, and its response time counts from here.
            Trial.objects.filter(
                participant=locked, position=locked.trials_done, block_id=block_id
            ).update(shown_at=timezone.now())
    participant.introduced_blocks = locked.introduced_blocks
    return participant


def current_trials(participant: Participant) -> list[Trial]:
    """The trial the participant is on and the one after it (for prefetching), in one query."""
    return _CURRENT_TRIALS(participant_id=participant.pk, position=participant.trials_done)
