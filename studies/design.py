"""A study's design as plain data: what `create_study --from study.toml` reads and the
builder form writes. No Django here; the services turn a StudySpec into rows.

A spec names its systems (generated samples or human pieces) and its blocks (rating,
Turing, pairwise preference, style identification). Everything is validated here, so
that a typo in a TOML file fails before any sample is drawn or clip rendered.
"""

from __future__ import annotations

import itertools
import re
import tomllib
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from enum import StrEnum
from itertools import combinations

import tomli_w

from studies.text import gettext_noop

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class BlockKind(StrEnum):
    RATING = "rating"
    TURING = "turing"
    PAIRWISE = "pairwise"
    STYLE = "style"
    MUSHRA = "mushra"  # multi-stimulus rating with hidden reference and anchor (ITU-R BS.1534)
    ABX = "abx"  # is X from A's source or B's?


# Kinds whose trials play more than two clips, and whose answers are not a single value.
MULTI_CLIP_KINDS = (BlockKind.MUSHRA, BlockKind.ABX)

BLOCK_TITLES = {
    BlockKind.RATING: gettext_noop("Rating"),
    BlockKind.TURING: gettext_noop("Human or machine?"),
    BlockKind.PAIRWISE: gettext_noop("Pairwise preference"),
    BlockKind.STYLE: gettext_noop("Style identification"),
    BlockKind.MUSHRA: gettext_noop("Compare with the reference"),
    BlockKind.ABX: gettext_noop("Which is X like?"),
}


# What each block's introduction screen says unless the block gives its own `introduction`.
BLOCK_INTRODUCTIONS = {
    BlockKind.RATING: gettext_noop(
        "You will hear clips one at a time. Play each to the end, then rate it on the scale."
    ),
    BlockKind.TURING: gettext_noop(
        "You will hear clips one at a time. For each, say whether you think a person or a "
        "computer program composed it."
    ),
    BlockKind.PAIRWISE: gettext_noop(
        "You will hear two clips at a time, A and B. Play both to the end, then choose the "
        "one you prefer."
    ),
    BlockKind.STYLE: gettext_noop(
        "You will hear clips one at a time. For each, choose the style you think it is in."
    ),
    BlockKind.MUSHRA: gettext_noop(
        "Each page has a reference clip and several clips to rate. Play every clip to the "
        "end, switching between them as often as you like, then rate each from 0 to 100 "
        "against the reference. One of the clips is the reference itself: give it 100."
    ),
    BlockKind.ABX: gettext_noop(
        "You will hear three clips at a time: A, B and X. A and B come from two different "
        "sources; X comes from the same source as one of them, but is a different piece. "
        "Play all three to the end, then say whether X is from A's source or B's."
    ),
}

# MUSHRA's 0-100 scale (ITU-R BS.1534): five equal bands, each with its word.
MUSHRA_BANDS = (
    (80, gettext_noop("Excellent")),
    (60, gettext_noop("Good")),
    (40, gettext_noop("Fair")),
    (20, gettext_noop("Poor")),
    (0, gettext_noop("Bad")),
)
MUSHRA_MAX = 100
# ABX's two answers, stored as pairwise choices are ("first": A, "second": B).
ABX_ANSWERS = {
    "first": gettext_noop("Same source as A"),
    "second": gettext_noop("Same source as B"),
}
# The standard post-screening: a listener who rates the hidden reference below this on more
# than this share of their pages is excluded.
MUSHRA_REFERENCE_FLOOR = 90
MUSHRA_REFERENCE_MISS_SHARE = 0.15


class RatingScale(StrEnum):
    TEN = "1-10"  # Deep Jammer's survey
    MOS = "mos"  # absolute category rating, ITU-T P.800 labels


SCALE_LABELS = {
    RatingScale.TEN: {1: "1 (worst)", 10: "10 (best)"},
    RatingScale.MOS: {
        1: gettext_noop("Bad"),
        2: gettext_noop("Poor"),
        3: gettext_noop("Fair"),
        4: gettext_noop("Good"),
        5: gettext_noop("Excellent"),
    },
}
# The 1-10 scale's buttons show the number, with a word under the two ends.
_SCALE_CAPTIONS = {RatingScale.TEN: {1: gettext_noop("worst"), 10: gettext_noop("best")}}
CONFIDENCE_LABELS = {
    1: gettext_noop("Guessing"),
    2: gettext_noop("Unsure"),
    3: gettext_noop("Fairly sure"),
    4: gettext_noop("Sure"),
    5: gettext_noop("Certain"),
}


def scale_values(scale: RatingScale | str) -> list[int]:
    return list(range(1, 11)) if RatingScale(scale) == RatingScale.TEN else list(range(1, 6))


def scale_choices(scale: RatingScale | str) -> list[tuple[int, str, str]]:
    """(value, text, caption) per answer: what a rating button shows."""
    scale = RatingScale(scale)
    captions = _SCALE_CAPTIONS.get(scale)
    if captions is not None:
        return [(v, str(v), captions.get(v, "")) for v in scale_values(scale)]
    labels = SCALE_LABELS[scale]
    return [(v, labels.get(v, str(v)), "") for v in scale_values(scale)]


# Words in system and model names that say nothing about which system is which.
_GENERIC_WORDS = frozenset((
    "a", "an", "and", "the", "of", "vs", "or", "model", "models", "system", "systems",
    "music", "sample", "samples", "set", "step", "steps", "early", "late", "final", "best",
    "basic", "human", "reference", "references", "test", "train", "valid", "all", "new",
    "old", "checkpoint", "run", "clip", "clips", "piece", "pieces", "study", "demo",
))  # fmt: skip


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def names_in_title(title: str, names) -> list[str]:
    """The names (systems, models, sample sets) that a participant-facing title gives away:
    a name of two or more words that the title spells out ("model a" in "Model A against
    model B"), or a distinctive word of a name (no number, no generic word such as "model"
    or "step") that the title contains ("Attention RNN: step 500 vs step 2000" names
    attention-rnn-500)."""
    words = _words(title)
    spelt = f" {' '.join(words)} "
    found = []
    for name in names:
        parts = _words(name)
        telling = {w for w in parts if len(w) >= 3 and not w.isdigit() and w not in _GENERIC_WORDS}
        whole = len(parts) >= 2 and f" {' '.join(parts)} " in spelt
        if (whole or telling & set(words)) and name not in found:
            found.append(name)
    return found


# The languages whose catalogues earshot ships for participant pages.
LANGUAGES = {"en": "English", "de": "Deutsch", "es": "Español"}


class SpecError(ValueError):
    """A study spec that cannot be built; the message names the offending field."""


@dataclass(frozen=True)
class SystemSpec:
    """One system under test. Exactly one source: a sample set, a checkpoint to sample,
    `human` (a dataset whose pieces are the human references), or `dataset` (a dataset whose
    pieces are machine-made: music generated elsewhere, imported as a MIDI folder)."""

    name: str
    sample_set: str = ""
    checkpoint: int | None = None
    sampling: dict = field(default_factory=dict)  # generation.zoo.sampling.SamplingSettings fields
    human: str = ""  # dataset name
    dataset: str = ""  # dataset name: its pieces are this generated system's clips
    # Which of the dataset's pieces are drawn from; empty: "test" for human references (the
    # pieces no model learnt from), "all" for a generated dataset.
    split: str = ""
    style: str = ""  # the true style, for style identification
    clips: int | None = None  # this system's clip count; None: the study's clips_per_system

    def __post_init__(self) -> None:
        if not SLUG.match(self.name):
            raise SpecError(f"system name {self.name!r}: use lower-case letters, digits, dashes")
        sources = [
            bool(self.sample_set),
            self.checkpoint is not None,
            bool(self.human),
            bool(self.dataset),
        ]
        if sum(sources) != 1:
            raise SpecError(
                f"system {self.name!r} needs exactly one of sample_set, checkpoint, human "
                "or dataset"
            )
        if self.sampling and self.checkpoint is None:
            raise SpecError(f"system {self.name!r}: sampling settings need a checkpoint")
        if self.split not in ("", "train", "valid", "test", "all"):
            raise SpecError(f"system {self.name!r}: split must be train, valid, test or all")
        if self.split and not (self.human or self.dataset):
            raise SpecError(f"system {self.name!r}: only a dataset's pieces have a split")
        if self.clips is not None and (
            isinstance(self.clips, bool) or not isinstance(self.clips, int) or self.clips < 1
        ):
            raise SpecError(f"system {self.name!r}: clips must be a whole number of at least 1")

    @property
    def is_human(self) -> bool:
        return bool(self.human)

    @property
    def pieces_dataset(self) -> str:
        """The dataset whose pieces are this system's clips ("" for sampled systems)."""
        return self.human or self.dataset

    @property
    def piece_split(self) -> str:
        return self.split or ("test" if self.human else "all")

    def to_dict(self) -> dict:
        return _trim(self, SystemSpec)


@dataclass(frozen=True)
class BlockSpec:
    kind: BlockKind
    systems: tuple[str, ...] = ()  # empty: every system of the study
    trials: int | None = (
        None  # main trials per participant; None: every stimulus (pair: one per pair)
    )
    title: str = ""
    prompt: str = ""  # shown above the controls; a default per kind otherwise
    introduction: str = ""  # the block's introduction screen; BLOCK_INTRODUCTIONS otherwise
    scale: RatingScale = RatingScale.TEN  # rating blocks
    ask_human: bool = False  # rating blocks: "could a human have composed this?"
    ask_confidence: bool = False  # Turing blocks
    allow_no_preference: bool = False  # pairwise blocks
    pairs: tuple[tuple[str, str], ...] = ()  # pairwise: system pairs; empty: all pairs
    adaptive: bool = False  # pairwise: the next pair by expected information (studies.adaptive)
    styles: tuple[str, ...] = ()  # style blocks: the answer list; empty: the stimuli's styles
    instructed_checks: int = 0  # "for this clip, answer 2" trials
    repeats: int = 0  # clips (or pairs) heard twice, for each listener's consistency
    # MUSHRA: the human system whose clip is each page's reference, open and hidden; ABX: the
    # system every other one is told apart from. Empty: the block's only human system.
    reference: str = ""
    anchor: str = ""  # MUSHRA: a system rated on every page as the low anchor (optional)
    # MUSHRA: exclude a listener who rates the hidden reference below 90 on more than 15%
    # of pages (ITU-R BS.1534's post-screening), declared before the study opens.
    post_screening: bool = True

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", BlockKind(self.kind))
            object.__setattr__(self, "scale", RatingScale(self.scale))
        except ValueError as error:
            raise SpecError(f"block: {error}") from None
        object.__setattr__(self, "systems", tuple(self.systems))
        object.__setattr__(self, "styles", tuple(s.strip().lower() for s in self.styles))
        object.__setattr__(self, "pairs", tuple(tuple(p) for p in self.pairs))
        if self.trials is not None and self.trials < 1:
            raise SpecError(f"{self.kind} block: trials must be at least 1")
        if self.instructed_checks < 0 or self.repeats < 0:
            raise SpecError(f"{self.kind} block: checks and repeats cannot be negative")
        if any(len(pair) != 2 or pair[0] == pair[1] for pair in self.pairs):
            raise SpecError(f"{self.kind} block: each pair names two different systems")
        if self.pairs and self.kind != BlockKind.PAIRWISE:
            raise SpecError(f"{self.kind} block: only pairwise blocks take pairs")
        if self.adaptive and self.kind != BlockKind.PAIRWISE:
            raise SpecError(f"{self.kind} block: only pairwise blocks schedule adaptively")
        if self.reference and self.kind not in MULTI_CLIP_KINDS:
            raise SpecError(f"{self.kind} block: only MUSHRA and ABX blocks take a reference")
        if self.anchor and self.kind != BlockKind.MUSHRA:
            raise SpecError(f"{self.kind} block: only MUSHRA blocks take an anchor")
        if self.kind == BlockKind.MUSHRA and self.repeats:
            raise SpecError(
                "mushra block: no repeats; the hidden reference on every page is its check"
            )
        if self.kind == BlockKind.MUSHRA and self.instructed_checks:
            raise SpecError(
                "mushra block: no instructed checks; the hidden reference on every page, with "
                "post_screening, is its check"
            )
        if self.kind == BlockKind.ABX and self.repeats:
            raise SpecError("abx block: no repeats (use instructed_checks)")

    @property
    def display_title(self) -> str:
        return self.title or BLOCK_TITLES[self.kind]

    def to_dict(self) -> dict:
        return _trim(self, BlockSpec)


# Alpha-spending functions a sequential design may name (metrics.statistics.sequential).
SPENDING_FUNCTIONS = ("obrien-fleming", "pocock")


@dataclass(frozen=True)
class SequentialSpec:
    """Group-sequential stopping for the primary hypothesis: look after these numbers of
    analysed listeners, spend alpha by the named function, and stop for efficacy when the
    look's boundary is crossed, or for futility when ``better`` is not ahead of ``than`` by
    z >= ``futility`` at a look before the last (non-binding: the boundaries ignore it)."""

    looks: tuple[int, ...]
    block: int  # the primary hypothesis's block (1-based), rating or pairwise
    better: str  # hypothesised to be rated higher, or preferred
    than: str
    alpha: float = 0.05
    sided: int = 2
    spending: str = "obrien-fleming"
    futility: float | None = None  # a z bound; None: no stopping for futility before the end

    def __post_init__(self) -> None:
        object.__setattr__(self, "looks", tuple(self.looks))
        where = "sequential"
        if len(self.looks) < 2 or any(
            not isinstance(n, int) or isinstance(n, bool) for n in self.looks
        ):
            raise SpecError(f"{where}: looks are two or more listener counts, e.g. [20, 40, 60]")
        if self.looks[0] < 2 or any(b <= a for a, b in itertools.pairwise(self.looks)):
            raise SpecError(f"{where}: looks must increase, from at least 2 listeners")
        if not 0 < self.alpha < 0.5:
            raise SpecError(f"{where}: alpha must be between 0 and 0.5")
        if self.sided not in (1, 2):
            raise SpecError(f"{where}: sided must be 1 or 2")
        if self.spending not in SPENDING_FUNCTIONS:
            raise SpecError(f"{where}: spending must be one of {', '.join(SPENDING_FUNCTIONS)}")
        if self.better == self.than:
            raise SpecError(f"{where}: better and than name two different systems")

    @property
    def information_rates(self) -> tuple[float, ...]:
        return tuple(n / self.looks[-1] for n in self.looks)


# p-value corrections a plan may name (metrics.statistics.multiple.METHODS).
CORRECTIONS = ("holm", "bonferroni", "bh")


@dataclass(frozen=True)
class Hypothesis:
    """A named contrast: in this block, ``better`` is rated higher than, or preferred to,
    ``than``."""

    block: int
    better: str
    than: str

    @property
    def label(self) -> str:
        return f"{self.better} over {self.than} (block {self.block})"


@dataclass(frozen=True)
class PlanSpec:
    """The analysis plan frozen when the study opens (its preregistration): the primary
    hypothesis (the sequential design's, when there is one), secondary hypotheses tested as
    one family with ``correction``, the alpha, and the listeners planned."""

    primary: Hypothesis | None = None
    secondary: tuple[Hypothesis, ...] = ()
    correction: str = "holm"
    alpha: float = 0.05
    planned_listeners: int | None = None  # from the power panel

    def __post_init__(self) -> None:
        try:
            if isinstance(self.primary, dict):
                object.__setattr__(self, "primary", Hypothesis(**self.primary))
            object.__setattr__(
                self,
                "secondary",
                tuple(Hypothesis(**h) if isinstance(h, dict) else h for h in self.secondary),
            )
        except TypeError as error:
            raise SpecError(f"plan: a hypothesis is block, better and than ({error})") from None
        if self.correction not in CORRECTIONS:
            raise SpecError(f"plan: correction must be one of {', '.join(CORRECTIONS)}")
        if not 0 < self.alpha < 0.5:
            raise SpecError("plan: alpha must be between 0 and 0.5")
        if self.planned_listeners is not None and (
            not isinstance(self.planned_listeners, int) or self.planned_listeners < 2
        ):
            raise SpecError("plan: planned_listeners must be a whole number of at least 2")


ANSWER_TIMING = ("refuse", "flag")
# A study that keeps these gets them in its own language (the experimenter's own are kept).
DEFAULT_INSTRUCTIONS = gettext_noop("Listen to each clip to the end, then answer.")
DEFAULT_CONSENT = gettext_noop(
    "You will hear short pieces of music and answer questions about them. Taking part is "
    "voluntary; you may stop at any time. Your answers are stored without your name and "
    "used for research only."
)


@dataclass(frozen=True)
class StudySpec:
    slug: str
    title: str  # the experimenters' name for it: lists, dashboards, reports
    systems: tuple[SystemSpec, ...]
    blocks: tuple[BlockSpec, ...]
    # What participants see at the top of every page; empty: the title. Keep system and
    # model names out of it, or it tells listeners what they compare.
    public_title: str = ""
    instructions: str = DEFAULT_INSTRUCTIONS
    consent: str = DEFAULT_CONSENT
    # The participants' language: every page, button and message of earshot's own is in it;
    # the study's own texts (title, instructions, consent) are written in it.
    language: str = "en"
    clips_per_system: int = 4
    clip_seconds: float = 20.0
    render_profile: str = ""  # a named profile; empty: one made for clip_seconds
    seed: int = 0
    headphone_screen: bool = False
    exclude_failed_checks: bool = True
    completion_code: str = ""  # empty: generated
    redirect_url: str = ""  # e.g. https://app.prolific.com/submissions/complete?cc=CODE
    assignment_expiry_minutes: int = 60
    # An answer sent before its clips could have been heard (a clip never fetched, or the
    # answer sooner than the clips last): "refuse" it, or "flag" it (stored, and the listener
    # excluded as the study declares).
    answer_timing: str = "refuse"
    # Listeners whose median answer comes sooner than this after the clips end are flagged.
    speeder_floor_seconds: float = 0.5
    sequential: SequentialSpec | None = None
    plan: PlanSpec | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "systems", tuple(self.systems))
        object.__setattr__(self, "blocks", tuple(self.blocks))
        if not SLUG.match(self.slug):
            raise SpecError(f"slug {self.slug!r}: use lower-case letters, digits and dashes")
        if not self.title.strip():
            raise SpecError("a study needs a title")
        if len(self.title) > 200 or len(self.public_title) > 200:
            raise SpecError("titles are at most 200 characters")
        if not self.systems:
            raise SpecError("a study needs at least one system")
        if not self.blocks:
            raise SpecError("a study needs at least one block")
        names = [s.name for s in self.systems]
        if len(set(names)) != len(names):
            raise SpecError("system names must be unique")
        if self.language not in LANGUAGES:
            raise SpecError(
                f"language {self.language!r}: choose one of {', '.join(sorted(LANGUAGES))}"
            )
        if self.clips_per_system < 1:
            raise SpecError("clips_per_system must be at least 1")
        if not 1 <= self.clip_seconds <= 600:
            raise SpecError("clip_seconds must be between 1 and 600")
        if self.assignment_expiry_minutes < 1:
            raise SpecError("assignment_expiry_minutes must be at least 1")
        if self.answer_timing not in ANSWER_TIMING:
            raise SpecError(f"answer_timing must be one of {', '.join(ANSWER_TIMING)}")
        if not 0 <= self.speeder_floor_seconds <= 60:
            raise SpecError("speeder_floor_seconds must be between 0 and 60")
        if self.redirect_url and not self.redirect_url.startswith(("https://", "http://")):
            raise SpecError("redirect_url must be an http(s) address")
        for block in self.blocks:
            self._check_block(block, set(names))
        if self.sequential is not None:
            self._check_contrast(self.sequential, "sequential")
        if self.plan is not None:
            for hypothesis in (self.plan.primary, *self.plan.secondary):
                if hypothesis is not None:
                    self._check_contrast(hypothesis, "plan")
            if (
                self.plan.primary
                and self.sequential
                and self.plan.primary
                != Hypothesis(self.sequential.block, self.sequential.better, self.sequential.than)
            ):
                raise SpecError("plan: the primary hypothesis differs from the sequential one")

    @property
    def primary_hypothesis(self) -> Hypothesis | None:
        if self.plan is not None and self.plan.primary is not None:
            return self.plan.primary
        if self.sequential is not None:
            return Hypothesis(self.sequential.block, self.sequential.better, self.sequential.than)
        return None

    def _check_contrast(self, contrast, where: str) -> None:
        """A hypothesis names a rating or pairwise block and two of its systems (a pair)."""
        if not 1 <= contrast.block <= len(self.blocks):
            raise SpecError(f"{where}: the study has no block {contrast.block}")
        block = self.blocks[contrast.block - 1]
        if block.kind not in (BlockKind.RATING, BlockKind.PAIRWISE):
            raise SpecError(f"{where}: a hypothesis's block must be a rating or pairwise block")
        if contrast.better == contrast.than:
            raise SpecError(f"{where}: better and than name two different systems")
        systems = {s.name for s in self.block_systems(block)}
        missing = sorted({contrast.better, contrast.than} - systems)
        if missing:
            raise SpecError(f"{where}: block {contrast.block} has no system {', '.join(missing)}")
        if block.kind == BlockKind.PAIRWISE:
            pairs = {frozenset(pair) for pair in self.block_pairs(block)}
            if frozenset((contrast.better, contrast.than)) not in pairs:
                raise SpecError(
                    f"{where}: block {contrast.block} never pairs {contrast.better} with "
                    f"{contrast.than}"
                )

    def _check_block(self, block: BlockSpec, names: set[str]) -> None:
        unknown = sorted(set(block.systems) - names)
        unknown += sorted({s for pair in block.pairs for s in pair} - names)
        if unknown:
            raise SpecError(f"{block.kind} block names unknown systems: {', '.join(unknown)}")
        systems = self.block_systems(block)
        if block.kind == BlockKind.PAIRWISE and len(systems) < 2 and not block.pairs:
            raise SpecError("a pairwise block needs at least two systems")
        if block.kind in MULTI_CLIP_KINDS:
            self._check_reference_block(block, systems)
        if block.kind == BlockKind.STYLE:
            missing = [s.name for s in systems if not s.style]
            if missing:
                raise SpecError(
                    f"style block: systems {', '.join(missing)} have no style; "
                    "give each a style (its clips' true style)"
                )
            labels = {s.style.strip().lower() for s in systems}
            answer_list = set(block.styles) or labels
            if len(answer_list) < 2:
                raise SpecError("style block: the answer list needs at least two styles")
            if not labels <= answer_list:
                raise SpecError(
                    f"style block: true styles {sorted(labels - answer_list)} are not answers"
                )

    def _check_reference_block(self, block: BlockSpec, systems: list[SystemSpec]) -> None:
        kind = block.kind
        names = [s.name for s in systems]
        reference = self.block_reference(block)
        if not reference:
            humans = [s.name for s in systems if s.is_human]
            raise SpecError(
                f'{kind} block: name its reference (reference = "..."), '
                + (f"one of {', '.join(humans)}" if humans else "a human system of the block")
            )
        if reference not in names:
            raise SpecError(f"{kind} block: reference {reference!r} is not one of its systems")
        if kind == BlockKind.MUSHRA and not self.system(reference).is_human:
            raise SpecError(
                f"mushra block: the reference {reference!r} must be a human system (the hidden "
                "reference is rated against itself)"
            )
        if block.anchor and block.anchor not in names:
            raise SpecError(f"mushra block: anchor {block.anchor!r} is not one of its systems")
        if block.anchor == reference:
            raise SpecError("mushra block: the anchor and the reference are different systems")
        tested = [n for n in names if n not in (reference, block.anchor)]
        if not tested:
            raise SpecError(f"{kind} block: it needs a system to test besides the reference")
        if kind == BlockKind.ABX:
            few = [s.name for s in systems if self.clip_count(s) < 2]
            if few:
                raise SpecError(
                    f"abx block: X is another clip of A's or B's system, so each system needs "
                    f"at least 2 clips ({', '.join(few)} has fewer; raise clips_per_system "
                    "or its clips)"
                )

    def block_reference(self, block: BlockSpec) -> str:
        """A MUSHRA or ABX block's reference system: the one named, or the block's only
        human system."""
        if block.reference:
            return block.reference
        humans = [s.name for s in self.block_systems(block) if s.is_human]
        return humans[0] if len(humans) == 1 else ""

    def block_compared(self, block: BlockSpec) -> list[str]:
        """The systems a MUSHRA or ABX block tests against its reference (not the anchor)."""
        skip = {self.block_reference(block), block.anchor}
        return [s.name for s in self.block_systems(block) if s.name not in skip]

    @property
    def participant_title(self) -> str:
        return self.public_title.strip() or self.title

    def system(self, name: str) -> SystemSpec:
        return next(s for s in self.systems if s.name == name)

    def clip_count(self, system: SystemSpec) -> int:
        return system.clips if system.clips is not None else self.clips_per_system

    def block_systems(self, block: BlockSpec) -> list[SystemSpec]:
        names = set(block.systems) or {s.name for s in self.systems}
        names |= {s for pair in block.pairs for s in pair}
        names |= {s for s in (block.reference, block.anchor) if s}
        return [s for s in self.systems if s.name in names]

    def block_pairs(self, block: BlockSpec) -> list[tuple[str, str]]:
        if block.pairs:
            return list(block.pairs)
        return list(combinations([s.name for s in self.block_systems(block)], 2))

    def block_styles(self, block: BlockSpec) -> list[str]:
        return sorted(
            set(block.styles) or {s.style.strip().lower() for s in self.block_systems(block)}
        )

    def with_checkpoint(self, system: str, checkpoint: int, *, slug: str, title: str) -> StudySpec:
        """The same study with one system's model swapped: for comparing checkpoints."""
        if system not in {s.name for s in self.systems}:
            raise SpecError(f"no system named {system!r}")
        old = self.system(system)
        if old.is_human:
            raise SpecError(f"system {system!r} is human: there is no checkpoint to swap")
        sampling = old.sampling or {}
        swapped = SystemSpec(
            name=old.name,
            checkpoint=checkpoint,
            sampling=sampling,
            style=old.style,
            clips=old.clips,
        )
        systems = tuple(swapped if s.name == system else s for s in self.systems)
        return replace(self, slug=slug, title=title, systems=systems, completion_code="")

    # Serialisation -------------------------------------------------------------------------

    def to_dict(self) -> dict:
        data = asdict(self)
        data["systems"] = [system.to_dict() for system in self.systems]
        data["blocks"] = [block.to_dict() for block in self.blocks]
        if self.sequential is None:
            del data["sequential"]  # TOML has no null
        elif self.sequential.futility is None:
            del data["sequential"]["futility"]
        if self.plan is None:
            del data["plan"]
        else:
            data["plan"] = {
                key: value for key, value in data["plan"].items() if value not in (None, [], ())
            }
        return data

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict) -> StudySpec:
        data = dict(data)
        _reject_unknown(data, cls, "study")
        for required in ("slug", "title"):
            if required not in data:
                raise SpecError(f"the study needs a {required}")
        systems = []
        for raw in data.pop("systems", []):
            _reject_unknown(raw, SystemSpec, f"system {raw.get('name', '?')!r}")
            if "name" not in raw:
                raise SpecError("every system needs a name")
            systems.append(SystemSpec(**raw))
        blocks = []
        for raw in data.pop("blocks", []):
            _reject_unknown(raw, BlockSpec, f"{raw.get('kind', '?')} block")
            if "kind" not in raw:
                raise SpecError(
                    "every block needs a kind (rating, turing, pairwise, style, mushra, abx)"
                )
            blocks.append(BlockSpec(**raw))
        sequential = data.pop("sequential", None)
        if sequential is not None:
            if not isinstance(sequential, dict):
                raise SpecError("sequential: a table of looks, block, better and than")
            _reject_unknown(sequential, SequentialSpec, "sequential")
            try:
                sequential = SequentialSpec(**sequential)
            except TypeError as error:
                raise SpecError(f"sequential: {error}") from None
        plan = data.pop("plan", None)
        if plan is not None:
            if not isinstance(plan, dict):
                raise SpecError("plan: a table of primary, secondary, correction, alpha")
            _reject_unknown(plan, PlanSpec, "plan")
            plan = PlanSpec(**plan)
        try:
            return cls(
                systems=tuple(systems),
                blocks=tuple(blocks),
                sequential=sequential,
                plan=plan,
                **data,
            )
        except TypeError as error:
            raise SpecError(str(error)) from None

    @classmethod
    def from_toml(cls, text: str) -> StudySpec:
        try:
            return cls.from_dict(tomllib.loads(text))
        except tomllib.TOMLDecodeError as error:
            raise SpecError(f"not valid TOML: {error}") from None


def _trim(spec, kind) -> dict:
    """Only the fields that differ from their defaults: a spec file says what was chosen."""
    data = {}
    for item in fields(kind):
        value = getattr(spec, item.name)
        if item.name in ("name", "kind") or value != _default_of(item):
            data[item.name] = _plain(value)
    return data


def _default_of(item):
    if item.default is not MISSING:
        return item.default
    if item.default_factory is not MISSING:
        return item.default_factory()
    return MISSING


def _plain(value):
    if isinstance(value, StrEnum):
        return str(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _reject_unknown(data: dict, kind, where: str) -> None:
    known = {f.name for f in fields(kind)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise SpecError(f"{where}: unknown field(s) {', '.join(unknown)}")
