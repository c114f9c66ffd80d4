"""Designing and building a study: checking its sources, the rows, the clips, sharing and state."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, replace

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from config.versions import earshot_version
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
from studies import preregistration
from studies.design import (
    BLOCK_TITLES,
    DEFAULT_CONSENT,
    DEFAULT_INSTRUCTIONS,
    MULTI_CLIP_KINDS,
    BlockKind,
    SpecError,
    StudySpec,
    SystemSpec,
)
from studies.models import Block, Stimulus, Study, System
from studies.selectors import experimenter_named, visible_studies


def check_sources(spec: StudySpec) -> None:
    """Every sample set, checkpoint and dataset the spec names exists and is big enough."""
    problems = []
    for system in spec.systems:
        wanted = spec.clip_count(system)
        if system.sample_set:
            found = SampleSet.objects.filter(name=system.sample_set).first()
            if found is None:
                problems.append(f"{system.name}: no sample set named {system.sample_set!r}")
            elif found.samples.count() < wanted:
                problems.append(
                    f"{system.name}: sample set {system.sample_set!r} has "
                    f"{found.samples.count()} samples, fewer than {wanted} clips"
                )
        elif system.checkpoint is not None:
            if not Checkpoint.objects.filter(pk=system.checkpoint).exists():
                problems.append(f"{system.name}: no checkpoint {system.checkpoint}")
            try:
                SamplingSettings(**{"n": wanted, **system.sampling})
            except (TypeError, ValueError) as error:
                problems.append(f"{system.name}: sampling settings: {error}")
        else:
            name = system.pieces_dataset
            dataset = Dataset.objects.filter(name=name).first()
            if dataset is None:
                problems.append(f"{system.name}: no dataset named {name!r}")
                continue
            available = _dataset_pieces(dataset, system.piece_split).count()
            if available < wanted:
                problems.append(
                    f"{system.name}: dataset {name!r} has {available} pieces in split "
                    f"{system.piece_split!r}, fewer than {wanted} clips (give this system "
                    f"fewer clips with clips = {available}, or another split)"
                )
    if problems:
        raise SpecError("; ".join(problems))


def _dataset_pieces(dataset: Dataset, split: str):
    pieces = Piece.objects.filter(dataset=dataset)
    return pieces if split == "all" else pieces.filter(split=split)


def create_study(spec: StudySpec, *, user=None, cloned_from: Study | None = None) -> Study:
    """The study, its systems and blocks, as a draft; its clips come from build_study."""
    check_sources(spec)
    if slug_taken(spec.slug, user):
        raise SpecError(
            f"you already have a study at /studies/{spec.slug}/ (yours or shared with you); "
            "choose another slug"
        )
    return create_study_rows(spec, user=user, cloned_from=cloned_from)


def slug_taken(slug: str, user) -> bool:
    """Whether this experimenter (None: the command line) can already see a study with this
    slug. Only those count, so the answer says nothing about anyone else's studies."""
    if user is None:
        return Study.objects.filter(slug=slug, created_by=None).exists()
    return visible_studies(user).filter(slug=slug).exists()


def create_study_rows(spec: StudySpec, *, user=None, cloned_from: Study | None = None) -> Study:
    """The rows of create_study without checking the spec's sources: for callers that
    bring their own clips (the benchmarks make stimuli without audio)."""
    with transaction.atomic(), translation.override(spec.language):
        study = Study.objects.create(
            slug=spec.slug,
            title=spec.title,
            public_title=spec.public_title,
            # Texts left at earshot's defaults come in the study's language.
            instructions=gettext(spec.instructions)
            if spec.instructions == DEFAULT_INSTRUCTIONS
            else spec.instructions,
            consent_text=gettext(spec.consent) if spec.consent == DEFAULT_CONSENT else spec.consent,
            language=spec.language,
            spec=spec.to_dict(),
            seed=spec.seed,
            headphone_screen=spec.headphone_screen,
            exclude_failed_checks=spec.exclude_failed_checks,
            redirect_url=spec.redirect_url,
            assignment_expiry_minutes=spec.assignment_expiry_minutes,
            answer_timing=spec.answer_timing,
            speeder_floor_seconds=spec.speeder_floor_seconds,
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
                dataset=Dataset.objects.filter(name=item.pieces_dataset).first(),
                style=style_label(item.style) if item.style else "",
            )
        for position, item in enumerate(spec.blocks):
            block = Block.objects.create(
                study=study,
                position=position,
                kind=item.kind,
                title=item.title or gettext(BLOCK_TITLES[item.kind]),
                prompt=item.prompt,
                introduction=item.introduction,
                adaptive=item.adaptive,
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
                reference=systems.get(spec.block_reference(item))
                if item.kind in MULTI_CLIP_KINDS
                else None,
                anchor=systems.get(item.anchor),
                post_screening=item.kind == BlockKind.MUSHRA and item.post_screening,
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
    count = spec.clip_count(item)
    if item.pieces_dataset:
        return _piece_clips(spec, system, item, count)
    if system.sample_set_id is None:
        n = max(item.sampling.get("n", 0), count)
        sampling = SamplingSettings(**{**item.sampling, "n": n})
        sample_set = generate_samples(system.checkpoint, sampling)
        System.objects.filter(pk=system.pk).update(sample_set=sample_set)
        system.sample_set = sample_set
    samples = list(system.sample_set.samples.order_by("index")[:count])
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


def _piece_clips(spec: StudySpec, system: System, item: SystemSpec, count: int) -> list[_Clip]:
    """A dataset's pieces as clips: human references, or music generated elsewhere."""
    pieces = list(_dataset_pieces(system.dataset, item.piece_split).order_by("identifier"))
    # Seeded by the study and the system: a rebuild or a clone hears the same pieces.
    chooser = random.Random(f"{spec.seed}:{system.name}")
    chosen = sorted(chooser.sample(pieces, count), key=lambda p: p.identifier)
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
            item = SystemSpec(
                name=item.name, sample_set=row.sample_set.name, style=item.style, clips=item.clips
            )
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
    if visible_studies(person).filter(slug=study.slug).exclude(pk=study.pk).exists():
        raise SpecError(
            f"{person.get_username()} already sees a study at /studies/{study.slug}/: clone this "
            "one under another slug to share it"
        )
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
        if not study.preregistration and preregistration.declares_a_plan(study.design):
            # Frozen once, when the study first opens: later analyses are held to it.
            document = preregistration.plan_document(
                study.design,
                frozen_at=now.isoformat(timespec="seconds"),
                software=f"earshot {earshot_version()}",
            )
            changes.update(
                preregistration=document,
                preregistration_sha256=preregistration.digest(document),
                preregistered_at=now,
            )
    elif state == Study.State.CLOSED:
        changes["closed_at"] = now
    Study.objects.filter(pk=study.pk).update(**changes)
    study.refresh_from_db()
    return study
