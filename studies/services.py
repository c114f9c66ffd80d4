"""Writes for studies: building one from a spec, the participant's way through it, answers."""

from __future__ import annotations

import hashlib
import json
import logging
import random
from dataclasses import dataclass, field, replace
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from generation.jobs.running import ProgressCallback, start_job
from generation.models import Checkpoint, Dataset, Piece, Rendering, Sample, SampleSet
from generation.services.rendering import (
    RenderItem,
    get_or_create_profile,
    piece_midi_bytes,
    render_items,
)
from generation.services.sampling import generate_samples
from generation.zoo.piano_roll_base import style_label
from generation.zoo.sampling import SamplingSettings
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
from studies.design import BlockKind, SpecError, StudySpec, SystemSpec, scale_values
from studies.models import Block, Participant, Response, Stimulus, Study, System, Trial
from studies.selectors import experimenter_named
from studies.simulation import Clip as SimulatedClip
from studies.simulation import ListenerModel, SimulatedListener, TrialView

logger = logging.getLogger("earshot.studies")

Stage = Participant.Stage


# Designing and building ------------------------------------------------------------------


def check_sources(spec: StudySpec) -> None:
    """Every sample set, checkpoint and dataset the spec names exists and is big enough."""
    problems = []
    for system in spec.systems:
        if system.sample_set:
            found = SampleSet.objects.filter(name=system.sample_set).first()
            if found is None:
                problems.append(f"{system.name}: no sample set named {system.sample_set!r}")
            elif found.samples.count() < spec.clips_per_system:
                problems.append(
                    f"{system.name}: sample set {system.sample_set!r} has "
                    f"{found.samples.count()} samples, fewer than {spec.clips_per_system} clips"
                )
        elif system.checkpoint is not None:
            if not Checkpoint.objects.filter(pk=system.checkpoint).exists():
                problems.append(f"{system.name}: no checkpoint {system.checkpoint}")
            try:
                SamplingSettings(**{"n": spec.clips_per_system, **system.sampling})
            except (TypeError, ValueError) as error:
                problems.append(f"{system.name}: sampling settings: {error}")
        else:
            dataset = Dataset.objects.filter(name=system.human).first()
            if dataset is None:
                problems.append(f"{system.name}: no dataset named {system.human!r}")
            elif _human_pieces(dataset, system.split).count() < spec.clips_per_system:
                problems.append(
                    f"{system.name}: dataset {system.human!r} has fewer than "
                    f"{spec.clips_per_system} pieces in split {system.split!r}"
                )
    if problems:
        raise SpecError("; ".join(problems))


def _human_pieces(dataset: Dataset, split: str):
    pieces = Piece.objects.filter(dataset=dataset)
    return pieces if split == "all" else pieces.filter(split=split)


def create_study(spec: StudySpec, *, user=None, cloned_from: Study | None = None) -> Study:
    """The study, its systems and blocks, as a draft; its clips come from build_study."""
    check_sources(spec)
    if Study.objects.filter(slug=spec.slug).exists():
        raise SpecError(f"a study with the slug {spec.slug!r} exists; choose another slug")
    return create_study_rows(spec, user=user, cloned_from=cloned_from)


def create_study_rows(spec: StudySpec, *, user=None, cloned_from: Study | None = None) -> Study:
    """The rows of create_study without checking the spec's sources: for callers that
    bring their own clips (the benchmarks make stimuli without audio)."""
    with transaction.atomic():
        study = Study.objects.create(
            slug=spec.slug,
            title=spec.title,
            instructions=spec.instructions,
            consent_text=spec.consent,
            spec=spec.to_dict(),
            seed=spec.seed,
            headphone_screen=spec.headphone_screen,
            exclude_failed_checks=spec.exclude_failed_checks,
            redirect_url=spec.redirect_url,
            assignment_expiry_minutes=spec.assignment_expiry_minutes,
            created_by=user if user is not None and user.is_authenticated else None,
            cloned_from=cloned_from,
            **({"completion_code": spec.completion_code} if spec.completion_code else {}),
        )
        systems = {}
        for item in spec.systems:
            systems[item.name] = System.objects.create(
                study=study,
                name=item.name,
                kind=System.Kind.HUMAN if item.is_human else System.Kind.GENERATED,
                sample_set=SampleSet.objects.filter(name=item.sample_set).first(),
                checkpoint=Checkpoint.objects.filter(pk=item.checkpoint).first(),
                dataset=Dataset.objects.filter(name=item.human).first(),
                style=style_label(item.style) if item.style else "",
            )
        for position, item in enumerate(spec.blocks):
            block = Block.objects.create(
                study=study,
                position=position,
                kind=item.kind,
                title=item.display_title,
                prompt=item.prompt,
                trials_per_participant=item.trials,
                scale=item.scale,
                ask_human=item.ask_human,
                ask_confidence=item.ask_confidence,
                allow_no_preference=item.allow_no_preference,
                pairs=[list(p) for p in spec.block_pairs(item)]
                if item.kind == BlockKind.PAIRWISE
                else [],
                styles=spec.block_styles(item) if item.kind == BlockKind.STYLE else [],
                instructed_checks=item.instructed_checks,
                repeats=item.repeats,
            )
            block.systems.set([systems[s.name] for s in spec.block_systems(item)])
    return study


def start_build(study: Study) -> Study:
    job = start_job(
        "build-study",
        f"Build study {study.slug}",
        "studies.tasks.build_study_task",
        study_id=study.pk,
    )
    Study.objects.filter(pk=study.pk).update(build_job=job)
    study.build_job = job
    return study


def study_profile(spec: StudySpec):
    """One render profile for every clip of a study: same length, loudness and instrument."""
    if spec.render_profile:
        return get_or_create_profile(spec.render_profile)
    return get_or_create_profile(
        f"clip-{spec.clip_seconds:g}s", {"max_seconds": float(spec.clip_seconds)}
    )


@dataclass
class _Clip:
    system: System
    item: RenderItem
    sample: Sample | None = None
    piece: Piece | None = None
    style: str = ""


def delete_unheard_study(study: Study) -> None:
    """Delete a study nobody real has taken (its previews and simulated listeners go with it);
    a study with a real participant is data and is never deleted here."""
    if study.participants.filter(is_preview=False, is_simulated=False).exists():
        raise SpecError(
            f"Real participants have taken study {study.slug!r}: it cannot be replaced."
        )
    with transaction.atomic():
        # Trials protect the clips they played, so the listeners go first.
        study.participants.all().delete()
        study.delete()


def ensure_clips_can_change(study: Study) -> None:
    if study.participants.filter(is_preview=False).exists():
        raise SpecError("Participants have taken this study: its clips cannot change.")


def build_study(study: Study, *, progress: ProgressCallback | None = None) -> Study:
    """Draw (or reuse) each system's samples, pick human pieces, render every clip with the
    study's profile, and store the stimuli. A rebuild replaces the clips of a draft."""
    spec = study.design
    ensure_clips_can_change(study)
    check_sources(spec)
    systems = list(study.systems.all())
    total = len(systems) + 1
    clips: list[_Clip] = []
    for done, system in enumerate(systems):
        if progress:
            progress(done, total, f"clips of {system.name}")
        clips.extend(_system_clips(spec, system))
    profile = study_profile(spec)
    if progress:
        progress(len(systems), total, f"rendering {len(clips)} clips")
    report = render_items([clip.item for clip in clips], profile)
    if report.failed:
        failures = "; ".join(f"{f['source']}: {f['reason']}" for f in report.failed)
        raise RuntimeError(f"{len(report.failed)} clips could not be rendered: {failures}")
    with transaction.atomic():
        # Experimenters' previews heard the old clips; they go with them.
        study.participants.filter(is_preview=True).delete()
        Stimulus.objects.filter(study=study).delete()
        for clip in clips:
            digest = hashlib.sha256(clip.item.midi_bytes).hexdigest()
            rendering = (
                Rendering.objects.filter(
                    midi_sha256=digest, profile=profile, status=Rendering.Status.OK
                )
                .order_by("-created_at")
                .first()
            )
            Stimulus.objects.get_or_create(
                study=study,
                system=clip.system,
                rendering=rendering,
                defaults={"sample": clip.sample, "piece": clip.piece, "style": clip.style},
            )
        Study.objects.filter(pk=study.pk).update(render_profile=profile, built_at=timezone.now())
    if progress:
        progress(total, total, f"{len(clips)} clips ready")
    study.refresh_from_db()
    return study


def _system_clips(spec: StudySpec, system: System) -> list[_Clip]:
    item = spec.system(system.name)
    if item.is_human:
        pieces = list(_human_pieces(system.dataset, item.split).order_by("identifier"))
        # Seeded by the study and the system: a rebuild or a clone hears the same pieces.
        chooser = random.Random(f"{spec.seed}:{system.name}")
        chosen = sorted(chooser.sample(pieces, spec.clips_per_system), key=lambda p: p.identifier)
        return [
            _Clip(
                system,
                RenderItem(
                    f"{piece.dataset.name}/{piece.identifier}", piece_midi_bytes(piece), piece.pk
                ),
                piece=piece,
                style=system.style
                or style_label(piece.style or system.dataset.style or system.dataset.name),
            )
            for piece in chosen
        ]
    if system.sample_set_id is None:
        n = max(item.sampling.get("n", 0), spec.clips_per_system)
        sampling = SamplingSettings(**{**item.sampling, "n": n})
        sample_set = generate_samples(system.checkpoint, sampling)
        System.objects.filter(pk=system.pk).update(sample_set=sample_set)
        system.sample_set = sample_set
    samples = list(system.sample_set.samples.order_by("index")[: spec.clips_per_system])
    style = system.style or sample_set_style(system.sample_set)
    return [
        _Clip(
            system,
            RenderItem(f"{system.sample_set.name}/{s.index:04d}", s.path.read_bytes()),
            sample=s,
            style=style,
        )
        for s in samples
    ]


def sample_set_style(sample_set: SampleSet) -> str:
    mixture = (sample_set.settings.get("sampling") or {}).get("style") or {}
    return next(iter(mixture)) if len(mixture) == 1 else ""


def clone_spec(
    study: Study, *, system: str, checkpoint: Checkpoint, slug: str, title: str
) -> StudySpec:
    """The same design with one system's model swapped; the other clips are reused as they are
    (same sample sets, same human pieces, same renderings from the cache)."""
    spec = study.design.with_checkpoint(system, checkpoint.pk, slug=slug, title=title)
    # Systems drawn for the original keep their drawn sample sets, so their clips are the same.
    pinned = []
    for item in spec.systems:
        row = study.systems.get(name=item.name)
        if item.name != system and item.checkpoint is not None and row.sample_set_id:
            item = SystemSpec(name=item.name, sample_set=row.sample_set.name, style=item.style)
        pinned.append(item)
    # A redirect that carries the completion code (Prolific's ?cc=) keeps working only with it.
    keeps_code = bool(study.redirect_url) and study.completion_code in study.redirect_url
    return replace(
        spec,
        systems=tuple(pinned),
        completion_code=study.completion_code if keeps_code else "",
    )


def share_study(study: Study, username: str):
    """Adds an experimenter (a staff account) as a collaborator."""
    person = experimenter_named(username)
    if person is None:
        raise SpecError(f"no experimenter account is called {username.strip()!r}")
    if person.pk == study.created_by_id:
        raise SpecError(f"{person.get_username()} owns this study already")
    study.collaborators.add(person)
    return person


def unshare_study(study: Study, username: str) -> None:
    study.collaborators.remove(*study.collaborators.filter(username=username.strip()))


def set_state(study: Study, state: str) -> Study:
    if state == Study.State.OPEN and not study.is_built:
        raise SpecError("the study has no clips yet: build it before opening it")
    now = timezone.now()
    changes = {"state": state}
    if state == Study.State.OPEN:
        changes["opened_at"] = study.opened_at or now
    elif state == Study.State.CLOSED:
        changes["closed_at"] = now
    Study.objects.filter(pk=study.pk).update(**changes)
    study.refresh_from_db()
    return study


# The participant's way through ------------------------------------------------------------


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


def returning_participant(study: Study, link: LinkParameters) -> Participant | None:
    if not link.key:
        return None
    return Participant.objects.filter(study=study, link_key=link.key).first()


def join(
    study: Study, link: LinkParameters, *, consent: bool, user_agent: str = "", preview=False
) -> Participant:
    """A new participant (consenting or declining), or the one these link parameters already
    made: the same Prolific ID never takes a study twice."""
    if not preview and study.state != Study.State.OPEN:
        raise StudyUnavailable(
            "This study has closed."
            if study.state == Study.State.CLOSED
            else "This study is not open yet."
        )
    existing = returning_participant(study, link)
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return Participant.objects.create(
                study=study,
                link_key=link.key,
                prolific_pid=link.prolific_pid,
                prolific_study_id=link.prolific_study_id,
                prolific_session_id=link.prolific_session_id,
                external_pid=link.pid,
                stage=Stage.QUESTIONNAIRE if consent else Stage.DECLINED,
                is_preview=preview,
                user_agent=user_agent[:300],
                expires_at=_expiry(study),
            )
    except IntegrityError:
        # Two tabs with the same link consented at once: both continue as one participant.
        return Participant.objects.get(study=study, link_key=link.key)


def _expiry(study: Study):
    return timezone.now() + timedelta(minutes=study.assignment_expiry_minutes)


def _advance(participant: Participant, stage: str, **changes) -> Participant:
    changes.update(stage=stage, expires_at=_expiry(participant.study))
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
        return _advance(participant, Stage.SCREEN, screen_order=order, **answers)
    return _advance(participant, Stage.INSTRUCTIONS, **answers)


def answer_screen(participant: Participant, index: int, raw) -> Participant:
    """One headphone-screen answer: which tone (1, 2 or 3) was quietest. An index already
    answered is left alone, so a resent form cannot change it."""
    if participant.stage != Stage.SCREEN or index != len(participant.screen_answers):
        return participant
    parse_listening(raw, 1)
    choice = raw.get("quietest")
    if choice not in ("1", "2", "3"):
        raise AnswerError("Please choose tone 1, 2 or 3.")
    answers = [*participant.screen_answers, int(choice)]
    if len(answers) < headphone_screen.N_TRIALS:
        return _advance(participant, Stage.SCREEN, screen_answers=answers)
    participant.screen_answers = answers
    participant.screen_passed = headphone_screen.passed(participant.screen_order, answers)
    return _advance(
        participant,
        Stage.INSTRUCTIONS,
        screen_answers=answers,
        screen_passed=participant.screen_passed,
        exclusion_reasons=_exclusions(participant, checks_failed=participant.checks_failed),
    )


def _exclusions(participant: Participant, *, checks_failed: int) -> list[str]:
    """Why analyses would leave this listener out, from the screen and the checks so far."""
    return exclusion_reasons(
        screen_passed=participant.screen_passed,
        screen_score=participant.screen_score,
        checks_failed=checks_failed,
        checks_total=participant.trials.filter(kind=Trial.Kind.INSTRUCTED).count(),
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
                )
            )
        Trial.objects.bulk_create(rows)
        saved = list(participant.trials.order_by("position"))
        for planned, trial in zip(plan, saved, strict=True):
            if planned.repeat_of is not None:
                trial.repeat_of = saved[planned.repeat_of]
        Trial.objects.bulk_update([t for t in saved if t.repeat_of_id], ["repeat_of"])
        if not saved:  # a study whose blocks have no clips: nothing to do but finish
            return _advance(participant, Stage.DONE, order_seed=seed, completed_at=timezone.now())
        return _advance(participant, Stage.TRIALS, order_seed=seed)


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
    return exposure


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


@dataclass
class Saved:
    response: Response
    created: bool  # False: this trial was answered before; the first answer stands


def record_answer(participant: Participant, trial_token: str, raw) -> Saved:
    """Store the answer to the participant's current trial.

    The trial's token is the answer's idempotency key: the same answer sent again (a double
    click, a retry after a lost connection) finds the stored one and changes nothing; a
    different answer for an answered trial, or one for a trial not reached yet, is an
    AnswerConflict. So a participant's answers never have gaps and are never rewritten.
    """
    trial = (
        Trial.objects.select_related("block", "participant__study")
        .filter(token=trial_token, participant=participant)
        .first()
    )
    if trial is None:
        raise AnswerError("This trial does not belong to you; please reload the page.")
    answer = parse_answer(block_options(trial.block), raw)
    listening = parse_listening(raw, 2 if trial.second_id else 1)
    existing = Response.objects.filter(trial=trial).first()
    if existing is not None:
        return _resent(existing, answer)
    current = next_trial(participant)
    if current is None or current.pk != trial.pk:
        raise AnswerConflict("That is not the clip you are on now; here is the one you are on.")
    passed = check_passed(trial.expected, answer)
    try:
        with transaction.atomic():
            response = Response.objects.create(
                trial=trial, passed_check=passed, **answer, **listening
            )
            _after_answer(participant, passed)
    except IntegrityError:  # the same answer, sent twice at once: the other one was stored
        return _resent(Response.objects.get(trial=trial), answer)
    return Saved(response, created=True)


def _resent(existing: Response, answer: dict) -> Saved:
    if any(getattr(existing, field) != value for field, value in answer.items()):
        raise AnswerConflict(
            "You have already answered that clip, and your first answer is kept; "
            "here is the clip you are on now."
        )
    return Saved(existing, created=False)


def _after_answer(participant: Participant, passed: bool | None) -> None:
    changes = {}
    if passed is False:
        changes["checks_failed"] = participant.checks_failed + 1
        changes["exclusion_reasons"] = _exclusions(
            participant, checks_failed=changes["checks_failed"]
        )
    if not participant.trials.filter(response__isnull=True).exists():
        changes["completed_at"] = timezone.now()
        _advance(participant, Stage.DONE, **changes)
    else:
        _advance(participant, Stage.TRIALS, **changes)


# Answers gathered elsewhere -------------------------------------------------------------


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


# Simulated listeners --------------------------------------------------------------------

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
                expires_at=_expiry(study),
            )
            participant = start_trials(participant)
            _simulate_answers(participant, listener, blocks)
        if progress is not None:
            progress(offset + 1, count)
    return count


def _simulate_answers(participant: Participant, listener: SimulatedListener, blocks) -> None:
    trials = list(
        participant.trials.select_related("first__system", "second__system").order_by("position")
    )
    responses, failed = [], 0
    for trial in trials:
        block = blocks[trial.block_id]
        clips = tuple(
            SimulatedClip(s.pk, s.system.name, s.system.kind == System.Kind.HUMAN, s.style)
            for s in (trial.first, trial.second)
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
    _advance(
        participant,
        Stage.DONE,
        checks_failed=failed,
        exclusion_reasons=_exclusions(participant, checks_failed=failed),
        completed_at=timezone.now(),
    )
