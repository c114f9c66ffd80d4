"""Reports and checkpoint comparisons, kept per revision of what they read.

A report at 40,000 answers takes seconds to compute; the same request a moment later asks
the same question of the same data. A *revision* is a digest of everything the result
depends on (the study's rows, its systems, blocks and clips, every participant's stored
state, and the answers), so a new answer, an exclusion, a rebuilt study or a changed
setting makes a new one and the old result is never served again. Computing a revision
reads the participants and two aggregates over the answers: milliseconds, where the
analysis takes seconds.

Why a digest and not a counter bumped on every write: an answer is the hot path of a live
study, and a counter on the study's row would make every participant's answer wait for
every other's lock; a digest costs nothing until someone asks for a report.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict
from typing import TypeVar

from django.core.cache import cache
from django.db.models import Count, Max

from generation.models import Checkpoint, Dataset, Piece, Sample, SampleSet, TrainingRun
from metrics.analysis import Options
from metrics.comparison import build_comparison
from metrics.reports import build_report
from studies.models import Response, Stimulus, Study

T = TypeVar("T")

# Long enough to outlive a working day; a revision that changed is never asked for again,
# and the cache's own size limit evicts those.
KEEP_SECONDS = 7 * 24 * 3600
# Written on every page view, read by nothing an analysis does.
_PARTICIPANT_CHURN = {"last_seen_at", "expires_at"}


def _digest(parts) -> str:
    return hashlib.sha256(
        json.dumps(parts, sort_keys=True, default=str, separators=(",", ":")).encode()
    ).hexdigest()


def _rows(queryset) -> list[dict]:
    return list(queryset.order_by("pk").values())


def study_revision(study: Study) -> str:
    """Changes whenever anything a report of this study reads changes."""
    participants = [
        {k: v for k, v in row.items() if k not in _PARTICIPANT_CHURN}
        for row in _rows(study.participants.all())
    ]
    sample_set_ids = study.systems.exclude(sample_set=None).values("sample_set_id")
    return _digest(
        [
            _rows(Study.objects.filter(pk=study.pk)),
            _rows(study.systems.all()),
            _rows(study.blocks.all()),
            _rows(SampleSet.objects.filter(pk__in=sample_set_ids)),
            Stimulus.objects.filter(study=study).aggregate(n=Count("pk"), last=Max("pk")),
            participants,
            # Answers are only ever added (or deleted with their participant): their count
            # and newest id change with every one.
            Response.objects.filter(trial__participant__study=study).aggregate(
                n=Count("pk"), last=Max("pk")
            ),
        ]
    )


def models_revision(checkpoints: Iterable[Checkpoint], dataset: Dataset) -> str:
    """Changes whenever the checkpoints, their sample sets or the reference dataset change."""
    ids = sorted(c.pk for c in checkpoints)
    sample_sets = SampleSet.objects.filter(checkpoint__in=ids)
    return _digest(
        [
            _rows(Checkpoint.objects.filter(pk__in=ids)),
            _rows(TrainingRun.objects.filter(checkpoints__in=ids).distinct()),
            _rows(sample_sets),
            Sample.objects.filter(sample_set__in=sample_sets).aggregate(
                n=Count("pk"), last=Max("pk")
            ),
            _rows(Dataset.objects.filter(pk=dataset.pk)),
            Piece.objects.filter(dataset=dataset).aggregate(n=Count("pk"), last=Max("pk")),
        ]
    )


def remembered(kind: str, revision: str, question: dict, compute: Callable[[], T]) -> T:
    """The result of ``compute`` for this question at this revision, computed once."""
    key = f"earshot:{kind}:{revision}:{_digest(question)}"
    found = cache.get(key)
    if found is not None:
        return found
    result = compute()
    cache.set(key, result, KEEP_SECONDS)
    return result


def report_for(study: Study, *, include_simulated: bool, options: Options):
    """The study's significance report, computed once per revision and question."""
    return remembered(
        "report",
        study_revision(study),
        {"simulated": include_simulated, "options": asdict(options)},
        lambda: build_report(study, include_simulated=include_simulated, options=options),
    )


def comparison_for(
    checkpoints: list[Checkpoint],
    *,
    dataset: Dataset,
    split: str,
    study: Study | None,
    include_simulated: bool,
):
    """The checkpoint comparison, computed once per revision of its models and its study.
    A ComparisonError is not kept: it is raised again, cheaply, each time. The study's
    report inside it is the cached one when the report page has been asked for already
    (the comparison reads the report's default options)."""
    revision = _digest(
        [models_revision(checkpoints, dataset), study_revision(study) if study else None]
    )
    question = {
        "checkpoints": sorted(c.pk for c in checkpoints),
        "dataset": dataset.pk,
        "split": split,
        "study": study.pk if study else None,
        "simulated": include_simulated,
    }
    return remembered(
        "comparison",
        revision,
        question,
        lambda: build_comparison(
            checkpoints,
            dataset=dataset,
            split=split,
            study=study,
            include_simulated=include_simulated,
            report=(
                report_for(study, include_simulated=include_simulated, options=Options())
                if study
                else None
            ),
        ),
    )
