"""Adaptive pair scheduling: comparisons go where they teach most about the ranking, every
pair keeps being heard, and the clip and first-position balance still hold."""

import math
import random
from collections import Counter
from itertools import combinations

import pytest

from studies import services
from studies.adaptive import next_pair
from studies.assignment import BlockMaterial, Exposure, pair_key, plan_study
from studies.design import BlockKind, SpecError
from tests.factories import answer_all, open_study, spec, take_to_trials

PAIRS = [("a", "b"), ("a", "c"), ("b", "c")]


def test_the_next_pair_is_the_close_one_whose_order_is_still_uncertain():
    given = Counter(dict.fromkeys(PAIRS, 10))
    # a beat b and c every time; b and c split evenly: only their order is in doubt.
    wins = Counter({("a", "b"): 10, ("a", "c"): 10, ("b", "c"): 5, ("c", "b"): 5})
    assert next_pair(PAIRS, given, wins) == ("b", "c")


def test_a_pair_below_the_exploration_floor_comes_first():
    given = Counter({("a", "b"): 40, ("a", "c"): 40, ("b", "c"): 3})
    wins = Counter({("a", "b"): 20, ("b", "a"): 20, ("a", "c"): 20, ("c", "a"): 20})
    assert next_pair(PAIRS, given, wins) == ("b", "c")  # 3 < a quarter of the mean (27.7)
    assert next_pair(PAIRS, Counter(), Counter()) == ("a", "b")  # nothing heard: in order


def simulate(material, listeners: int, truth: dict, seed: int = 0):
    """Listeners arrive one after another and answer by the Bradley-Terry truth."""
    rng = random.Random(seed)
    system_of = {s: name for name, ids in material.stimuli_by_system.items() for s in ids}
    exposure, plans = Exposure(), []
    for number in range(listeners):
        plan = plan_study([material], [exposure.copy()], seed=number)
        plans.append(plan)
        for trial in plan:
            first, second = (system_of[s] for s in trial.stimuli)
            pair = pair_key(first, second)
            exposure.pair[pair] += 1
            exposure.first[(pair, first)] += 1
            exposure.stimulus.update(trial.stimuli)
            p_first = 1 / (1 + math.exp(-(truth[first] - truth[second])))
            winner, loser = (first, second) if rng.random() < p_first else (second, first)
            exposure.wins[(winner, loser)] += 1
    return plans, exposure, system_of


def test_forty_listeners_hear_close_pairs_more_with_clips_and_positions_balanced():
    systems = {f"s{k}": list(range(k * 4, k * 4 + 4)) for k in range(4)}
    material = BlockMaterial(
        kind=BlockKind.PAIRWISE, stimuli_by_system=systems, trials=6,
        pairs=list(combinations(systems, 2)), adaptive=True,
    )  # fmt: skip
    truth = {"s0": 0.0, "s1": 0.2, "s2": 2.0, "s3": 4.0}  # s0 and s1 are hard to order
    _, exposure, _ = simulate(material, 40, truth)
    heard = exposure.pair
    assert sum(heard.values()) == 240
    # The hard pair is heard far more than the easy one; every pair keeps being heard.
    assert heard[("s0", "s1")] > 2 * heard[("s0", "s3")]
    assert min(heard.values()) >= 0.25 * 240 / 6 - 1
    # The guarantees that still apply: first positions and each system's clips.
    for pair in heard:
        assert abs(exposure.first[(pair, pair[0])] - exposure.first[(pair, pair[1])]) <= 1
    for clips in systems.values():
        counts = [exposure.stimulus[c] for c in clips]
        assert max(counts) - min(counts) <= 1


def test_only_pairwise_blocks_schedule_adaptively():
    with pytest.raises(SpecError, match="only pairwise blocks schedule adaptively"):
        spec([{"kind": "rating", "adaptive": True}])


@pytest.mark.django_db
def test_an_adaptive_block_counts_the_answers_it_schedules_by(material, client):
    study = open_study([{"kind": "pairwise", "adaptive": True, "trials": 3}])
    block = study.blocks.get()
    assert block.adaptive
    participant = take_to_trials(client, study)
    answer_all(client, participant)
    exposure = services.block_exposure(block)
    assert sum(exposure.wins.values()) == 3 == sum(exposure.pair.values())
