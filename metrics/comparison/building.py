"""The whole comparison: checkpoints, their samples' music, a reference split and
(optionally) a study's listeners, in one Comparison."""

from __future__ import annotations

from django.utils import timezone

from generation.models import Checkpoint, Dataset, Piece, SampleSet
from metrics import music
from metrics.analysis import Options
from metrics.comparison import agreement
from metrics.comparison.checkpoints import (
    checkpoint_facts,
    checkpoint_label,
    learning_curves,
    loss_units,
    music_figures,
    row_key,
    sample_set_label,
    training_figures,
)
from metrics.comparison.chooser import choosers
from metrics.comparison.listeners import listener_figures, stimulus_answers
from metrics.comparison.results import (
    AgreementFindings,
    Comparison,
    Entry,
    ListenerFigures,
    Reference,
    StudyNamed,
)
from metrics.reports import Report, build_report, software_versions
from studies import selectors as study_selectors
from studies.models import Study


class ComparisonError(ValueError):
    """The comparison cannot be built as asked (unknown split, no checkpoints...)."""


def build_comparison(
    checkpoints,
    *,
    dataset: Dataset,
    split: str = "test",
    study: Study | None = None,
    include_simulated: bool = False,
    options: Options | None = None,
    report: Report | None = None,
) -> Comparison:
    """``report``, when given, is the study's report for the same ``include_simulated`` and
    ``options`` (a cached one): the comparison reads its listener figures instead of fitting
    the study's models again."""
    options = options or Options()
    checkpoints = sorted(
        Checkpoint.objects.filter(pk__in=[c.pk for c in checkpoints]).select_related("run"),
        key=lambda c: (c.family, c.run_id or 0, c.step),
    )
    if not checkpoints:
        raise ComparisonError("Pick at least one checkpoint.")
    pieces = Piece.objects.filter(dataset=dataset)
    if split != "all":
        pieces = pieces.filter(split=split)
    reference_pieces = [p.load() for p in pieces.only("quantized")]
    if len(reference_pieces) < 2:
        raise ComparisonError(
            f"The {split} split of {dataset.name} has {len(reference_pieces)} pieces; "
            "the reference needs at least two."
        )
    reference = music.set_metrics(reference_pieces)

    listener_by_system: dict[str, ListenerFigures] = {}
    systems = []
    answers_by_stimulus: dict[int, dict] = {}
    if study is None:
        report = None
    else:
        answer_rows = study_selectors.answer_rows(study)
        if report is None:
            report = build_report(
                study, include_simulated=include_simulated, options=options, rows=answer_rows
            )
        listener_by_system = listener_figures(report)
        systems = list(study.systems.all())
        answers_by_stimulus = stimulus_answers(answer_rows, include_simulated)

    units = loss_units(checkpoints)
    stimuli_rows = []
    entries = []
    for checkpoint in checkpoints:
        facts, training = checkpoint_facts(checkpoint), training_figures(checkpoint)
        sample_sets = checkpoint.sample_sets.filter(kind=SampleSet.Kind.GENERATED)
        for sample_set in list(sample_sets.order_by("created_at")) or [None]:
            set_music = None
            features_of: dict[int, tuple] = {}
            if sample_set is not None:
                samples = list(sample_set.samples.all())
                metrics = music.set_metrics(s.load() for s in samples)
                set_music = music_figures(metrics, music.feature_distances(metrics, reference))
                features_of = {
                    s.pk: (s.index, f) for s, f in zip(samples, metrics.pieces, strict=True)
                }
            system = next(
                (s for s in systems if sample_set and s.sample_set_id == sample_set.pk), None
            )
            listeners = None
            if system is not None:
                listeners = {"system": system.name, **listener_by_system.get(system.name, {})}
                for stimulus in system.stimuli.filter(sample__isnull=False).only("sample_id"):
                    answers = answers_by_stimulus.get(stimulus.pk)
                    if answers:
                        index, features = features_of[stimulus.sample_id]
                        stimuli_rows.append(
                            {
                                "stimulus": stimulus.pk,
                                "system": system.name,
                                "sample": index,
                                "features": {k: features[k] for k in music.SCALAR_FEATURES},
                                **answers,
                            }
                        )
            entries.append(
                Entry(
                    key=row_key(checkpoint, sample_set),
                    label=checkpoint_label(checkpoint),
                    sample_set=sample_set.name if sample_set else None,
                    sample_set_label=sample_set_label(sample_set),
                    checkpoint=facts,
                    loss_unit=units[checkpoint.pk],
                    training=training,
                    music=set_music,
                    listeners=listeners,
                )
            )

    reference_listeners = None
    for system in systems:
        if system.is_human and system.dataset_id == dataset.pk:
            reference_listeners = {"system": system.name, **listener_by_system.get(system.name, {})}
            break

    across_checkpoints, notes = agreement.across_checkpoints(entries, options)
    across_stimuli = agreement.across_stimuli(stimuli_rows, options)
    if across_stimuli:
        notes.append(
            "Across clips, each clip's music metrics are those of its whole sample; listeners "
            "heard an excerpt of at most "
            f"{study.design.clip_seconds:g} seconds."
        )
    if report and report.include_simulated and report.listeners.simulated:
        notes.append(
            "Listener results include simulated listeners: they show how the comparison "
            "reads, not what people heard."
        )
    return Comparison(
        generated_at=timezone.now().isoformat(timespec="seconds"),
        versions=software_versions(),
        confidence=options.confidence,
        reference=Reference(
            dataset=dataset.name,
            split=split,
            pieces=reference.n_pieces,
            music=music_figures(reference, None),
            listeners=reference_listeners,
        ),
        study=StudyNamed(slug=study.slug, title=study.title) if study else None,
        include_simulated=include_simulated,
        listener_count=report.listeners if report else None,
        entries=entries,
        curves=learning_curves(checkpoints, units),
        choosers=choosers(entries),
        agreement=AgreementFindings(
            across_checkpoints=across_checkpoints, across_stimuli=across_stimuli, notes=notes
        ),
    )
