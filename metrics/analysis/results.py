"""The analysis's results as typed, frozen objects: one class per block kind and one per
row of its tables. Reports, templates and exports read attributes; ``to_json_data`` turns a
result into the JSON the report has always written (same keys, same order)."""

from __future__ import annotations

from dataclasses import field

from metrics.records import Result, optional, result, to_json_data

__all__ = ["to_json_data"]  # re-exported: callers write results from here


# --- shared pieces -------------------------------------------------------------------------


@result
class Share(Result):
    """A count of yes answers out of n, its share and Wilson interval."""

    successes: int
    n: int
    share: float | None
    low: float | None
    high: float | None


@result
class EffectSize(Result):
    name: str
    estimate: float | None
    low: float | None
    high: float | None
    interval: str  # how the interval was found (e.g. "noncentral t", "bootstrap BCa")


@result
class IntraclassSummary(Result):
    agreement: float | None  # ICC(A,1)
    consistency: float | None = optional()  # ICC(C,1)
    average_agreement: float | None = optional()  # ICC(A,k)
    listeners_per_clip: float | None = optional()
    note: str | None


@result
class Agreement(Result):
    alpha: float | None  # Krippendorff's alpha
    level: str  # nominal, interval
    note: str | None
    icc: IntraclassSummary | None = optional()  # rating blocks


@result
class ChecksSummary(Result):
    instructed: int
    instructed_passed: int
    repeats: int
    repeat_same_answer: Share | None
    repeat_mean_rating_change: float | None


@result
class ListenerSummary(Result):
    with_answers: int
    analysed: int
    excluded: int
    exclusion_reasons: dict[str, int]
    simulated: int
    simulated_left_out: int
    musical_training: dict[str, int]
    counted_answers: int = 0  # imported as counts per clip: no listener, in no count above


@result
class HeadlineRow(Result):
    """A rating block's row of the one-screen summary."""

    label: str
    human: bool
    estimate: float | None
    low: float | None
    high: float | None
    n: int
    percent: bool = False


@result
class ShareHeadlineRow(Result):
    """A share's row of the one-screen summary (Turing, pairwise, style)."""

    label: str
    human: bool
    estimate: float | None
    low: float | None
    high: float | None
    n: int
    p: float | None
    percent: bool = True
    pooled: bool  # no model: the pooled Wilson interval


@result
class Headline(Result):
    measure: str
    method: str
    rows: list[HeadlineRow | ShareHeadlineRow]
    finding: str
    listeners: int
    answers: int


# --- binary answers (judged human, could be human, style named right) --------------------


@result
class Sensitivity(Result):
    d_prime: float | None
    criterion: float | None


@result
class BinaryModelSummary(Result):
    formula: str
    listener_variance: float | None
    clip_variance: float | None
    listeners: int
    clips: int
    measure: str
    tests: str


@result
class SystemShare(Result):
    """One system's share of yes answers: pooled, and from the logit mixed model."""

    system: str
    human: bool
    successes: int
    n: int
    share: float | None
    low: float | None
    high: float | None
    p_vs_half: float | None
    p_vs_human: float | None
    sensitivity: Sensitivity | None
    model_share: float | None  # population-averaged
    model_low: float | None
    model_high: float | None
    typical_share: float | None  # the typical listener and clip (random effects at zero)
    p_model_vs_half: float | None
    p_model_vs_human: float | None
    sentence: str


@result
class TrainingCell(Share):
    """One musical-training level's answers for one system: the pooled share, and the
    share over its listeners, each counting once."""

    listener_share: float | None  # the mean of its listeners' own shares
    listener_low: float | None
    listener_high: float | None
    listener_p: float | None  # one-sample t test against 50%


@result
class TrainingGroup(Result):
    group: str
    listeners: int
    systems: dict[str, TrainingCell]


@result
class SharesBySystem(Result):
    """The answers to a yes/no question, system by system."""

    question: str
    human_reference: Share | None
    systems_table: list[SystemShare]
    model: BinaryModelSummary | None
    by_training: list[TrainingGroup]


# --- rating blocks -------------------------------------------------------------------------


@result
class SystemRating(Result):
    system: str
    human: bool
    answers: int
    listeners: int
    stimuli: int
    mean: float
    sd: float | None
    median: float
    listener_t_low: float | None
    listener_t_high: float | None
    model_mean: float | None
    model_low: float | None
    model_high: float | None
    model_df: float | None = optional()
    sentence: str


@result
class LinearModelSummary(Result):
    formula: str
    listener_variance: float | None
    clip_variance: float | None
    listener_system_variance: float | None
    residual_variance: float | None
    reml_criterion: float | None
    observations: int
    tests: str


@result
class FTest(Result):
    test: str
    f: float | None
    df: int
    denominator_df: float | None
    p_value: float | None


@result
class OmnibusTest(Result):
    test: str
    statistic: float | None
    p_value: float | None


@result
class RatingOmnibus(Result):
    model: FTest | None
    nonparametric: OmnibusTest | None
    sentence: str | None = optional()


@result
class RatingPair(Result):
    first: str
    second: str
    difference: float | None  # first minus second, from the mixed model
    low: float | None
    high: float | None
    p_model: float | None
    p_nonparametric: float | None
    effect_sizes: list[EffectSize]
    statistic: float | None = optional()
    df: float | None = optional()
    method: str | None = optional()
    nonparametric_test: str
    p_model_adjusted: float | None = optional()
    p_nonparametric_adjusted: float | None = optional()
    sentence: str


@result
class OrdinalEffect(Result):
    system: str
    log_odds: float | None
    standard_error: float | None
    odds_ratio: float | None
    p_value: float | None


@result
class OrdinalSummary(Result):
    model: str
    reference: str
    effects: list[OrdinalEffect]
    listener_sd: float | None
    converged: bool


# --- pairwise blocks -----------------------------------------------------------------------


@result
class PairPreference(Result):
    first: str
    second: str
    first_wins: int
    second_wins: int
    ties: int
    successes: int  # = first_wins
    n: int  # decided answers
    share: float | None  # pooled share preferring the first
    low: float | None
    high: float | None
    p_value: float | None
    model_share: float | None  # population-averaged, order balanced out
    model_low: float | None
    model_high: float | None
    p_model: float | None
    listeners_modelled: int | None = optional()
    first_position_odds_ratio: float | None = optional()
    p_first_position: float | None = optional()
    p_adjusted: float | None = optional()
    p_model_adjusted: float | None = optional()
    sentence: str


@result
class Strength(Result):
    system: str
    ability: float | None
    standard_error: float | None
    low: float | None
    high: float | None
    robust_standard_error: float | None


@result
class BradleyTerrySummary(Result):
    estimable: bool
    reference: str | None
    strengths: list[Strength]


# --- style blocks --------------------------------------------------------------------------


@result
class StyleAccuracy(Result):
    """Styles named right, for one true style."""

    label: str
    successes: int
    n: int
    share: float | None
    low: float | None
    high: float | None
    p_vs_chance: float | None


@result
class SystemStyleAccuracy(Result):
    """Styles named right, for one system's clips."""

    label: str
    successes: int
    n: int
    share: float | None
    low: float | None
    high: float | None
    p_vs_chance: float | None
    human: bool
    model_share: float | None
    model_low: float | None
    model_high: float | None
    p_model_vs_chance: float | None
    sentence: str


@result
class GeneratedVsHuman(Result):
    generated: Share
    human: Share
    difference: float | None
    z: float | None
    p_value_z: float | None
    p_value_fisher: float | None
    sentence: str


# --- Turing blocks -------------------------------------------------------------------------


@result
class StimulusShare(Result):
    system: str
    stimulus: int
    source: str
    successes: int
    n: int
    share: float | None
    low: float | None
    high: float | None


@result
class MajorityCount(Result):
    clips: int  # clips a majority of their listeners judged human
    of: int


# --- blocks --------------------------------------------------------------------------------


@result
class Block(Result):
    """What every block reports, answered or not."""

    number: int
    kind: str
    title: str
    systems: list[str]
    human_systems: list[str]
    answers: int
    listeners: int
    notes: list[str]


@result
class UnansweredBlock(Block):
    headline: None = None
    checks: ChecksSummary


@result
class RatingBlock(Block):
    scale: list[int] | None
    systems_table: list[SystemRating]
    model: LinearModelSummary | None
    omnibus: RatingOmnibus | None
    pairwise: list[RatingPair]
    ordinal: OrdinalSummary | None
    believability: SharesBySystem | None  # "could a human have composed this?"
    agreement: Agreement
    significant_pairs: list[str] = field(default_factory=list)
    headline: Headline | None = None
    checks: ChecksSummary


@result
class TuringBlock(Block):
    question: str | None
    human_reference: Share | None
    systems_table: list[SystemShare]
    model: BinaryModelSummary | None
    by_training: list[TrainingGroup]
    per_stimulus: list[StimulusShare]
    clips_judged_human_by_majority: dict[str, MajorityCount]
    mean_confidence: dict[str, float | None]
    agreement: Agreement
    headline: Headline | None = None
    checks: ChecksSummary


@result
class PairwiseBlock(Block):
    pairs: list[PairPreference]
    win_matrix: list[list[int]]
    bradley_terry: BradleyTerrySummary
    agreement: Agreement
    headline: Headline | None = None
    checks: ChecksSummary


@result
class StyleBlock(Block):
    styles: list[str]
    chance: float | None
    by_system: list[SystemStyleAccuracy]
    by_style: list[StyleAccuracy]
    model: BinaryModelSummary | None
    confusion: list[list[int]]
    generated_vs_human: GeneratedVsHuman | None
    agreement: Agreement
    headline: Headline | None = None
    checks: ChecksSummary


@result
class MushraBlock(RatingBlock):
    """A rating block on MUSHRA's 0-100 scale, with what the hidden reference and the
    anchor say about the listeners."""

    reference: str
    anchor: str | None
    pages: int
    hidden_reference_at_top: Share | None  # pages whose hidden reference got 90 or more
    post_screening: bool
    post_screened: int = 0  # listeners the post-screening excluded


@result
class AbxSystem(Result):
    """One compared system told apart from the reference: how often X was matched."""

    system: str
    correct: int
    n: int
    share: float | None
    low: float | None  # Wilson
    high: float | None
    p_binomial: float | None  # exact, against 50%
    model_share: float | None  # population-averaged, from the logit mixed model
    model_low: float | None
    model_high: float | None
    model_p: float | None  # Wald, the logit against 0 (50%)
    sentence: str


@result
class AbxBlock(Block):
    reference: str
    systems_table: list[AbxSystem]
    model: BinaryModelSummary | None
    agreement: Agreement
    headline: Headline | None = None
    checks: ChecksSummary


BlockResult = UnansweredBlock | RatingBlock | TuringBlock | PairwiseBlock | StyleBlock | AbxBlock


@result
class PlannedTest(Result):
    """A preregistered hypothesis, tested on the whole study as the plan says."""

    role: str  # primary or secondary
    hypothesis: str  # "A over B (block n)"
    estimate: float | None  # better minus than: rating points, or share less 1/2
    p: float | None  # model-based, two-sided
    p_adjusted: float | None  # secondary: within the plan's family; primary: as p
    supported: bool | None  # in the hypothesised direction and below alpha


@result
class Preregistration(Result):
    sha256: str
    frozen_at: str
    alpha: float
    correction: str
    tests: list[PlannedTest]
    deviations: list[str]  # where this report departs from the plan: then it is exploratory


@result
class SequentialLook(Result):
    """One declared look: its boundary, and once reached, what the primary contrast showed."""

    look: int
    listeners: int
    information: float
    cumulative_alpha: float
    efficacy_z: float
    nominal_p: float  # the p a single test here needs to stop for efficacy
    futility_z: float | None
    estimate: float | None = None  # better minus than: rating points, or share less 1/2
    p: float | None = None  # the contrast's unadjusted model p value at this look
    z: float | None = None
    decision: str | None = None  # continue, efficacy, opposite, futility; None: not reached


@result
class SequentialMonitor(Result):
    block: int
    better: str
    than: str
    measure: str
    alpha: float
    sided: int
    spending: str
    futility: float | None
    finished_listeners: int
    looks: list[SequentialLook]
    decision: str  # continue, efficacy, opposite (two-sided: than ahead) or futility
    decided_at_look: int | None
    next_look_at: int | None
    stagewise_p: float | None  # adjusted for the looks (stage-wise ordering)
    sentence: str


@result
class StudySummary(Result):
    slug: str
    title: str
    state: str
    clips: int
    clip_seconds: float
    headphone_screen: bool
    exclude_failed_checks: bool


@result
class SystemSummary(Result):
    """Where a system's clips came from."""

    name: str
    kind: str
    source: str | None  # the sample set's or dataset's name
    checkpoint: int | None
    sampling: dict | None  # the sampling settings, as the sample set recorded them
    style: str | None
    clips: int


@result
class Analysis(Result):
    confidence: float
    dprime_correction: str
    correction: str  # the correction's name, as a reader knows it
    include_simulated: bool
    listeners: ListenerSummary
    blocks: list[BlockResult]


@result
class Report(Result):
    """A study's report: what was studied, with what software, and the analysis."""

    study: StudySummary
    systems: list[SystemSummary]
    generated_at: str
    versions: dict[str, str | None]
    only_simulated: bool
    confidence: float
    dprime_correction: str
    correction: str
    include_simulated: bool
    listeners: ListenerSummary
    blocks: list[BlockResult]
    sequential: SequentialMonitor | None = optional()
    preregistration: Preregistration | None = optional()
