"""Balanced assignment of trials to participants (plain Python, no Django).

Each new participant is given the least-heard material: the stimuli (or, in pairwise
blocks, the system pairs) with the fewest exposures among the assignments that still
count, i.e. completed ones and those in progress that have not expired.

Guarantee, per block: a participant takes k distinct items, each time the item seen least
so far (ties broken at random). If the exposure counts differ by at most 1 before an
assignment, they differ by at most 1 after it (taking the k lowest of counts in {m, m+1}
leaves counts in {m, m+1} or {m+1, m+2}). So with no drop-outs, every stimulus of a block
has been heard by the same number of participants, or one more, at every moment. A
drop-out whose assignment expires lowers its k items by one; the next participant takes
exactly those first, which restores the bound. Pairwise blocks give the same bound for
system pairs, for each system's clips, and for which system of a pair is heard first.

An adaptive pairwise block (studies.adaptive) chooses its pairs by expected information
instead, so the bound on system pairs no longer holds (every pair keeps at least a floor
share); the bounds on each system's clips and on first positions hold as before.

A MUSHRA block's page is one reference clip, heard openly and again hidden among one clip of
every other system of the block (the anchor included), in random order: the reference clips
are taken least-heard first as stimuli are, and so are each system's clips. An ABX trial is
a clip of the reference system and one of a compared system as A and B, and X, another clip
of one of the two: the compared systems are taken least-heard first, as pairs are, and which
is A and which gives X are balanced as first positions are.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

from studies import adaptive
from studies.design import BlockKind, scale_values

MAIN, INSTRUCTED, REPEAT = "main", "instructed", "repeat"


def pair_key(first: str, second: str) -> tuple[str, str]:
    return (first, second) if first <= second else (second, first)


@dataclass
class Exposure:
    """How often each item of one block was heard in the assignments that count."""

    stimulus: Counter = field(default_factory=Counter)  # stimulus id -> main trials
    pair: Counter = field(default_factory=Counter)  # pair_key(system, system) -> main trials
    first: Counter = field(default_factory=Counter)  # (pair_key, system) -> heard first
    wins: Counter = field(default_factory=Counter)  # (winner, loser) -> answers (adaptive)
    x_source: Counter = field(default_factory=Counter)  # ABX: (pair_key, X's system) -> trials

    def copy(self) -> Exposure:
        return Exposure(
            Counter(self.stimulus),
            Counter(self.pair),
            Counter(self.first),
            Counter(self.wins),
            Counter(self.x_source),
        )


@dataclass(frozen=True)
class BlockMaterial:
    """What a block can play: each system's stimuli, and the choices an answer offers."""

    kind: BlockKind
    stimuli_by_system: Mapping[str, Sequence[int]]
    trials: int | None = None  # main trials per participant; None: all stimuli / one per pair
    pairs: Sequence[tuple[str, str]] = ()
    instructed_checks: int = 0
    repeats: int = 0
    scale: str = "1-10"
    styles: Sequence[str] = ()
    adaptive: bool = False  # pairwise: pairs by expected information (studies.adaptive)
    reference: str = ""  # MUSHRA and ABX: the reference system
    anchor: str = ""  # MUSHRA: the low anchor

    @property
    def all_stimuli(self) -> list[int]:
        return [s for system in self.stimuli_by_system.values() for s in system]


@dataclass(frozen=True)
class PlannedTrial:
    block: int  # index of the block in the study
    kind: str  # MAIN, INSTRUCTED or REPEAT
    # In presentation order: two for pairwise blocks; MUSHRA: the open reference, then the
    # page's clips to rate; ABX: A, B, X.
    stimuli: tuple[int, ...]
    expected: dict | None = None  # the answer an instructed check asks for
    repeat_of: int | None = None  # index (in the whole plan) of the trial heard again


def least_heard(candidates: Sequence[Hashable], counts: Mapping, k: int, rng: random.Random):
    """k distinct candidates with the lowest counts, ties in random order."""
    shuffled = list(candidates)
    rng.shuffle(shuffled)
    return sorted(shuffled, key=lambda item: counts.get(item, 0))[:k]


def choose_stimuli(material: BlockMaterial, exposure: Exposure, rng: random.Random) -> list[int]:
    stimuli = material.all_stimuli
    k = min(material.trials or len(stimuli), len(stimuli))
    return least_heard(stimuli, exposure.stimulus, k, rng)


def choose_pairs(
    material: BlockMaterial, exposure: Exposure, rng: random.Random
) -> list[tuple[int, int]]:
    """(first, second) stimulus ids; a pair may recur for one participant, its clips may not
    until every clip of that system has been used once."""
    counts = exposure.copy()
    pairs = [pair_key(*pair) for pair in material.pairs]
    picker = _ClipPicker(material, counts, rng)
    chosen = []
    for _ in range(material.trials or len(pairs)):
        if material.adaptive:
            pair = adaptive.next_pair(pairs, counts.pair, counts.wins)
        else:
            pair = least_heard(pairs, counts.pair, 1, rng)[0]
        counts.pair[pair] += 1
        clips = {system: picker.take(system) for system in pair}
        first = _less_counted(pair, counts.first, rng)
        counts.first[(pair, first)] += 1
        second = pair[1] if first == pair[0] else pair[0]
        chosen.append((clips[first], clips[second]))
    return chosen


class _ClipPicker:
    """Each system's clips for one participant: unused ones first, then the least heard."""

    def __init__(self, material: BlockMaterial, counts: Exposure, rng: random.Random):
        self.material, self.counts, self.rng = material, counts, rng
        self.used_here: Counter = Counter()

    def take(self, system: str, *, besides: int | None = None) -> int:
        clips = self.material.stimuli_by_system[system]
        options = [s for s in clips if s != besides] or list(clips)
        self.rng.shuffle(options)
        clip = min(options, key=lambda s: (self.used_here[s], self.counts.stimulus[s]))
        self.used_here[clip] += 1
        self.counts.stimulus[clip] += 1
        return clip


def choose_mushra_pages(
    material: BlockMaterial, exposure: Exposure, rng: random.Random
) -> list[tuple[int, ...]]:
    """(reference, clip, clip, ...) per page: the open reference, then the clips to rate,
    the hidden reference among them, in random order."""
    counts = exposure.copy()
    references = list(material.stimuli_by_system[material.reference])
    k = min(material.trials or len(references), len(references))
    others = [name for name in material.stimuli_by_system if name != material.reference]
    picker = _ClipPicker(material, counts, rng)
    pages = []
    for reference in least_heard(references, counts.stimulus, k, rng):
        counts.stimulus[reference] += 1
        rated = [reference] + [picker.take(system) for system in others]
        rng.shuffle(rated)
        pages.append((reference, *rated))
    return pages


def choose_abx_trials(
    material: BlockMaterial, exposure: Exposure, rng: random.Random
) -> list[tuple[int, int, int]]:
    """(A, B, X) per trial: the reference system against one compared system, X another
    clip of A's system or of B's."""
    counts = exposure.copy()
    compared = [name for name in material.stimuli_by_system if name != material.reference]
    pairs = [pair_key(material.reference, name) for name in compared]
    picker = _ClipPicker(material, counts, rng)
    chosen = []
    for _ in range(material.trials or 2 * len(pairs)):
        pair = least_heard(pairs, counts.pair, 1, rng)[0]
        counts.pair[pair] += 1
        a_system = _less_counted(pair, counts.first, rng)
        counts.first[(pair, a_system)] += 1
        x_system = _less_counted(pair, counts.x_source, rng)
        counts.x_source[(pair, x_system)] += 1
        b_system = pair[1] if a_system == pair[0] else pair[0]
        a, b = picker.take(a_system), picker.take(b_system)
        x = picker.take(x_system, besides=a if x_system == a_system else b)
        chosen.append((a, b, x))
    return chosen


def _less_counted(pair: tuple[str, str], counts: Counter, rng: random.Random) -> str:
    """The system of the pair counted less often for it (a coin toss on a tie)."""
    a, b = pair
    heard_a, heard_b = counts[(pair, a)], counts[(pair, b)]
    return a if heard_a < heard_b else b if heard_b < heard_a else rng.choice(pair)


def instructed_answer(material: BlockMaterial, rng: random.Random) -> dict:
    """The answer an attention check asks for; never a default a careless click would give."""
    if material.kind == BlockKind.RATING:
        values = scale_values(material.scale)
        return {"rating": rng.choice(values[1:-1])}
    if material.kind == BlockKind.TURING:
        return {"judged_human": rng.choice([True, False])}
    if material.kind in (BlockKind.PAIRWISE, BlockKind.ABX):
        return {"choice": rng.choice(["first", "second"])}
    return {"style": rng.choice(list(material.styles))}


@dataclass(eq=False)  # compared by identity: a repeat points at one exact trial
class _Draft:
    kind: str
    stimuli: tuple[int, ...]
    expected: dict | None = None
    original: _Draft | None = None


def plan_block(
    index: int, material: BlockMaterial, exposure: Exposure, rng: random.Random, offset: int = 0
) -> list[PlannedTrial]:
    """One participant's trials of one block in the order heard. `offset` is where the block
    starts in the whole plan, so that repeat_of indexes the whole plan."""
    if material.kind == BlockKind.PAIRWISE:
        items = [tuple(pair) for pair in choose_pairs(material, exposure, rng)]
    elif material.kind == BlockKind.MUSHRA:
        items = choose_mushra_pages(material, exposure, rng)
    elif material.kind == BlockKind.ABX:
        items = choose_abx_trials(material, exposure, rng)
    else:
        items = [(clip,) for clip in choose_stimuli(material, exposure, rng)]
    rng.shuffle(items)
    drafts = [_Draft(MAIN, item) for item in items]
    mains = list(drafts)
    for _ in range(material.instructed_checks):
        check = _Draft(INSTRUCTED, rng.choice(items), expected=instructed_answer(material, rng))
        drafts.insert(rng.randint(1, len(drafts)) if drafts else 0, check)
    # A repeat comes at least two trials after its original; a pair is heard the other way round.
    for _ in range(min(material.repeats, len(mains))):
        # Not the block's last trial when there is a choice: its repeat would follow at once.
        roomy = [m for m in mains if drafts.index(m) <= len(drafts) - 2] or mains
        original = rng.choice(roomy)
        mains.remove(original)
        earliest = min(drafts.index(original) + 2, len(drafts))
        repeat = _Draft(REPEAT, tuple(reversed(original.stimuli)), original=original)
        drafts.insert(rng.randint(earliest, len(drafts)), repeat)
    return [
        PlannedTrial(
            index,
            draft.kind,
            draft.stimuli,
            draft.expected,
            offset + drafts.index(draft.original) if draft.original else None,
        )
        for draft in drafts
    ]


def plan_study(
    materials: Sequence[BlockMaterial], exposures: Sequence[Exposure], seed: int
) -> list[PlannedTrial]:
    """Every trial of one participant: blocks in the study's order, trials shuffled within."""
    rng = random.Random(seed)
    plan: list[PlannedTrial] = []
    for index, (material, exposure) in enumerate(zip(materials, exposures, strict=True)):
        plan.extend(plan_block(index, material, exposure, rng, offset=len(plan)))
    return plan
