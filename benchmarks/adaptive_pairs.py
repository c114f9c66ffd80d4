"""Adaptive pair scheduling against today's balanced design (issue 21: at least 1.5x fewer
answers to rank 6 systems correctly with 90% probability; the reported intervals keep
their coverage).

Simulated listeners answer pairwise comparisons of 6 systems with true Bradley-Terry
strengths 0, 0.4, ..., 2.0 (neighbours preferred 60:40). Each simulated study gives out
comparisons one at a time, either as ``studies.assignment`` does for a balanced block (the
least-heard pair, ties at random) or as it does for an adaptive one
(``studies.adaptive.next_pair``), and answers each at once. After every ``--step``
answers the ranking is read off the strengths (the same estimator for both designs);
the answers needed are the fewest after which at least 90% of studies rank all 6 systems
in the true order. Coverage: at the end, the report's Bradley-Terry fit
(metrics.statistics.bradley_terry, 95% Wald intervals against the reference system) is
checked against the true differences.

    python benchmarks/adaptive_pairs.py [--studies 200] [--answers 900] [--step 30]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from itertools import combinations
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from metrics.statistics.bradley_terry import Comparison, fit_bradley_terry
from studies.adaptive import next_pair, strengths
from studies.assignment import least_heard

SYSTEMS = [f"s{i}" for i in range(6)]
TRUTH = {name: 0.4 * i for i, name in enumerate(SYSTEMS)}
PAIRS = list(combinations(SYSTEMS, 2))


def run_study(adaptive: bool, answers: int, step: int, rng: random.Random):
    given, wins = Counter(), Counter()
    correct_at = {}
    for n in range(1, answers + 1):
        pair = next_pair(PAIRS, given, wins) if adaptive else least_heard(PAIRS, given, 1, rng)[0]
        given[pair] += 1
        a, b = pair
        p_a = 1 / (1 + np.exp(-(TRUTH[a] - TRUTH[b])))
        winner, loser = (a, b) if rng.random() < p_a else (b, a)
        wins[(winner, loser)] += 1
        if n % step == 0:
            beta, _ = strengths(SYSTEMS, wins)
            correct_at[n] = list(np.argsort(beta)) == list(range(len(SYSTEMS)))
    return correct_at, wins


def covered(wins: Counter) -> tuple[int, int]:
    """True differences (to the reference s0) inside the report's 95% intervals."""
    index = {s: i for i, s in enumerate(SYSTEMS)}
    comparisons = [Comparison(index[a], index[b], wins[(a, b)], wins[(b, a)]) for a, b in PAIRS]
    fit = fit_bradley_terry(SYSTEMS, comparisons)
    if not fit.estimable:
        return 0, 0
    inside = total = 0
    for strength in fit.strengths:
        if strength.name == fit.reference:
            continue
        truth = TRUTH[strength.name] - TRUTH[fit.reference]
        inside += strength.low <= truth <= strength.high
        total += 1
    return inside, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=200)
    parser.add_argument("--answers", type=int, default=900)
    parser.add_argument("--step", type=int, default=30)
    parser.add_argument("--seed", type=int, default=20261207)
    args = parser.parse_args()
    started = time.perf_counter()
    needed = {}
    print(f"{args.studies} simulated studies per design, 6 systems, neighbours 60:40")
    for label, adaptive in (("balanced", False), ("adaptive", True)):
        rng = random.Random(args.seed)
        hits, inside, total = Counter(), 0, 0
        for _ in range(args.studies):
            correct_at, wins = run_study(adaptive, args.answers, args.step, rng)
            for n, ok in correct_at.items():
                hits[n] += ok
            a, b = covered(wins)
            inside, total = inside + a, total + b
        rates = {n: hits[n] / args.studies for n in sorted(hits)}
        needed[label] = next((n for n, rate in rates.items() if rate >= 0.9), None)
        shown = ", ".join(f"{n}: {100 * r:.0f}%" for n, r in rates.items() if n % 150 == 0)
        print(
            f"  {label:8s}: P(correct ranking) {shown}; 90% reached after "
            f"{needed[label] or f'more than {args.answers}'} answers; 95% interval coverage "
            f"{100 * inside / max(total, 1):.1f}% ({total} intervals)"
        )
    if needed["balanced"] and needed["adaptive"]:
        ratio = needed["balanced"] / needed["adaptive"]
        print(f"  answers needed, balanced / adaptive: {ratio:.2f}x (target at least 1.5x)")
    print(f"took {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
