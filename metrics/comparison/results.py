"""The checkpoint comparison as typed, frozen objects: a row per checkpoint and sample set
with its training figures, music metrics and listener results, the correlations between
them, and the chooser's verdict per run. ``to_json_data`` writes the comparison's JSON."""

from __future__ import annotations

from typing import TypedDict

from metrics.analysis.results import ListenerSummary
from metrics.records import Result, optional, result


class ListenerFigures(TypedDict, total=False):
    """What listeners said of one system, as far as the study asked: only the measures the
    study had are present (a study with no pairwise block has no strength). A TypedDict,
    not a record: its keys are the point, and the JSON has always had only those present."""

    system: str
    rating: float | None  # the first rating block's mean (mixed model where it fitted)
    rating_low: float | None
    rating_high: float | None
    rating_answers: int
    rating_scale: list[int] | None
    human_share: float | None  # judged human: a Turing block's, else "could be human"
    human_low: float | None
    human_high: float | None
    human_answers: int
    human_from: str  # the block kind the share came from
    human_question: str | None
    strength: float | None  # the first pairwise block's Bradley-Terry strength
    strength_low: float | None
    strength_high: float | None
    strength_reference: str | None


@result
class CheckpointFacts(Result):
    id: int
    family: str
    config: str
    preset: str
    step: int
    run: int | None
    run_label: str | None
    run_best_step: int | None  # the step the run itself marked best
    dataset: str | None


@result
class TrainingFigures(Result):
    train_loss: float | None
    valid_loss: float | None
    test_loss: float | None
    perplexity: float | None
    accuracy: float | None  # token accuracy, or a piano roll's frame accuracy
    note_event_accuracy: float | None
    cv_loss: float | None  # k-fold cross-validation of the run's configuration
    cv_sd: float | None
    cv_k: int | None


@result
class FeatureSummary(Result):
    mean: float | None
    sd: float | None
    n: int


@result
class FeatureDistance(Result):
    """Yang & Lerch (2018): how a sample set's feature sits beside the reference's."""

    overlap: float | None
    kl_divergence: float | None
    intra_mean: float | None
    inter_mean: float | None


@result
class MusicFigures(Result):
    pieces: int
    features: dict[str, FeatureSummary]
    histograms: dict[str, list[float]]
    distances: dict[str, FeatureDistance] | None = optional()  # against the reference
    mean_overlap: float | None = optional()


@result
class Entry(Result):
    """One row: a checkpoint, with one of its sample sets (or none)."""

    key: str
    label: str
    sample_set: str | None
    sample_set_label: str
    checkpoint: CheckpointFacts
    loss_unit: str  # losses compare only within one unit
    training: TrainingFigures
    music: MusicFigures | None
    listeners: ListenerFigures | None


@result
class Reference(Result):
    dataset: str
    split: str
    pieces: int
    music: MusicFigures
    listeners: ListenerFigures | None  # the study's human clips from this dataset


@result
class StudyNamed(Result):
    slug: str
    title: str


@result
class Curve(Result):
    run: int
    label: str
    loss_unit: str
    points: list[list[float]]  # [step, validation loss]
    marked_steps: list[int]  # the compared checkpoints' steps


@result
class Chooser(Result):
    """Per run: the checkpoint the validation loss picks beside the one listeners pick."""

    run: int
    run_label: str | None
    steps: list[int]
    best_by_loss: str | None
    best_by_loss_step: int | None
    run_best_step: int | None
    listener_measure: str | None
    listener_measure_title: str | None
    best_by_listeners: str | None
    best_by_listeners_step: int | None
    agree: bool | None
    verdict: str | None  # agree, tie, disagree


@result
class Correlation(Result):
    objective: str
    objective_title: str
    listener: str
    listener_title: str
    n: int
    rho: float | None  # Spearman's
    low: float | None
    high: float | None
    p_value: float | None
    p_method: str | None
    undefined: str | None  # why there is no rho
    points: list[list[float]]


@result
class AgreementFindings(Result):
    across_checkpoints: list[Correlation]
    across_stimuli: list[Correlation]
    notes: list[str]


@result
class Comparison(Result):
    generated_at: str
    versions: dict[str, str | None]
    confidence: float
    reference: Reference
    study: StudyNamed | None
    include_simulated: bool
    listener_count: ListenerSummary | None
    entries: list[Entry]
    curves: list[Curve]
    choosers: list[Chooser]
    agreement: AgreementFindings
