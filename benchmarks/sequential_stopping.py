"""Group-sequential stopping: does it keep its type I error, and how many listeners does it
save? (issue 21: overall type I error within 3.5-6.5% at a declared 5%; the expected
sample size saved under a true effect.)

Simulated rating studies with known truth: each listener rates clips of systems A and B
with a listener effect, clip effects and noise; A is better by ``effect`` points or not at
all. A study looks after 20, 40 and 60 finished listeners, two-sided alpha 5%:

  sequential   the declared design (O'Brien-Fleming-type or Pocock-type spending, a
               non-binding futility bound at z = 0), as ``metrics.analysis.sequential``
               applies it;
  naive        the same looks, each tested at 5% unadjusted (what a researcher peeking at
               the dashboard would do without a design): the baseline whose type I error
               the design exists to fix;
  fixed        one test after all 60 listeners: the baseline for the sample size.

The fast engine tests each look with the paired t test on listeners' mean ratings (the
rating block's per-listener test); ``--engine model`` pushes every look through
``metrics.analysis.analyse`` (the report's mixed model), slower.

    python benchmarks/sequential_stopping.py [--studies 20000] [--engine fast|model]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from metrics.statistics.sequential import group_sequential_design

LOOKS = (20, 40, 60)
ALPHA = 0.05
CLIPS = 6  # per system, each heard by every listener
LISTENER_SD, CLIP_SD, NOISE_SD = 1.0, 0.5, 1.5


def listener_differences(rng, studies: int, effect: float) -> np.ndarray:
    """Each listener's mean rating of A minus B (studies x listeners). The fast engine has
    no clip effects: a per-listener test ignores them (it treats clips as fixed), so with
    them its fixed-sample type I error is far above 5% before any look is taken; the
    model engine has them, and the mixed model that accounts for them."""
    listeners = LOOKS[-1]
    noise = rng.normal(0, NOISE_SD / math.sqrt(CLIPS) * math.sqrt(2), (studies, listeners))
    # The listener's own level cancels in a within-listener difference.
    return effect + noise


def look_z(differences: np.ndarray) -> np.ndarray:
    """z of the paired t test at each look (studies x looks), via its two-sided p."""
    zs = []
    for n in LOOKS:
        d = differences[:, :n]
        t = d.mean(axis=1) / (d.std(axis=1, ddof=1) / math.sqrt(n))
        p = 2 * stats.t.sf(np.abs(t), n - 1)
        zs.append(np.sign(t) * stats.norm.isf(np.maximum(p, 1e-300) / 2))
    return np.column_stack(zs)


def model_z(rng, studies: int, effect: float) -> np.ndarray:
    """z at each look from the report's own analysis (mixed model on every rating)."""
    from metrics.analysis import BlockDesign, analyse
    from metrics.analysis.sequential import primary_contrast
    from studies.design import SequentialSpec

    block = BlockDesign(number=1, kind="rating", title="Rating", systems=["a", "b"],
                        scale_values=list(range(1, 11)))  # fmt: skip
    plan = SequentialSpec(looks=LOOKS, block=1, better="a", than="b")
    out = np.full((studies, len(LOOKS)), np.nan)
    for s in range(studies):
        clips = {(sys_, c): rng.normal(0, CLIP_SD) for sys_ in "ab" for c in range(CLIPS)}
        rows, trial = [], 0
        for n in range(LOOKS[-1]):
            level = rng.normal(0, LISTENER_SD)
            for (system, c), clip_effect in clips.items():
                trial += 1
                value = 5.5 + level + clip_effect + (effect if system == "a" else 0)
                rows.append({"participant": f"p{n}", "block": 1, "trial": trial,
                             "trial_kind": "main", "system": system, "stimulus": f"{system}{c}",
                             "rating": value + rng.normal(0, NOISE_SD)})  # fmt: skip
        for k, n in enumerate(LOOKS):
            mine = [r for r in rows if int(r["participant"][1:]) < n]
            estimate, p = primary_contrast(analyse(mine, [block]).blocks[0], plan)
            if p is not None:
                out[s, k] = math.copysign(stats.norm.isf(max(p, 1e-300) / 2), estimate)
    return out


def outcomes(z: np.ndarray, design, *, futility: bool) -> dict:
    """Rejection rate and mean listeners used: sequential (the futility bound z < 0 obeyed
    or not), and the naive and fixed baselines."""
    studies = len(z)
    seq_reject, seq_n = np.zeros(studies, bool), np.full(studies, LOOKS[-1], float)
    naive_reject = np.zeros(studies, bool)
    open_ = np.ones(studies, bool)
    for k, n in enumerate(LOOKS):
        zk = z[:, k]
        naive_reject |= np.abs(zk) >= stats.norm.isf(ALPHA / 2)
        efficacy = open_ & (np.abs(zk) >= design.efficacy[k])
        gives_up = open_ & (zk < 0) if futility else np.zeros(studies, bool)
        stop = open_ if k == len(LOOKS) - 1 else efficacy | gives_up
        seq_reject |= efficacy
        seq_n[stop] = n
        open_ &= ~stop
    fixed_reject = np.abs(z[:, -1]) >= stats.norm.isf(ALPHA / 2)
    return {
        "sequential": seq_reject.mean(),
        "naive": naive_reject.mean(),
        "fixed": fixed_reject.mean(),
        "listeners": seq_n.mean(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=20000)
    parser.add_argument("--engine", choices=["fast", "model"], default="fast")
    parser.add_argument("--seed", type=int, default=20261207)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    # A true effect the fixed design detects with 80% power at 60 listeners (fast engine).
    sd_difference = math.sqrt(2 * NOISE_SD**2 / CLIPS)
    effect = (stats.norm.isf(ALPHA / 2) + stats.norm.isf(0.2)) * sd_difference / math.sqrt(60)
    started = time.perf_counter()
    print(f"{args.studies} simulated studies per row ({args.engine} engine), looks {LOOKS}, "
          f"two-sided alpha {ALPHA}; true effect {effect:.3f} rating points")  # fmt: skip
    for spending in ("obrien-fleming", "pocock"):
        design = group_sequential_design(
            [n / LOOKS[-1] for n in LOOKS], alpha=ALPHA, sided=2, spending=spending
        )
        for label, truth in (("no effect", 0.0), ("true effect", effect)):
            if args.engine == "fast":
                z = look_z(listener_differences(rng, args.studies, truth))
            else:
                z = model_z(rng, args.studies, truth)
            bare = outcomes(z, design, futility=False)
            stopping = outcomes(z, design, futility=True)
            if truth == 0:
                print(
                    f"  {spending:15s} {label:11s}: type I error sequential "
                    f"{100 * bare['sequential']:.2f}% (target 3.5-6.5%; "
                    f"{100 * stopping['sequential']:.2f}% when the non-binding futility "
                    f"bound z < 0 is obeyed), naive looks {100 * bare['naive']:.2f}% "
                    f"(ratio {bare['naive'] / max(bare['sequential'], 1e-9):.2f}x), "
                    f"fixed {100 * bare['fixed']:.2f}%"
                )  # fmt: skip
            else:
                for name, result in (("efficacy only", bare), ("with futility", stopping)):
                    saved = 1 - result["listeners"] / LOOKS[-1]
                    print(
                        f"  {spending:15s} {label:11s} ({name}): power "
                        f"{100 * result['sequential']:.1f}% vs fixed {100 * result['fixed']:.1f}%; "
                        f"mean listeners {result['listeners']:.1f} vs fixed {LOOKS[-1]} "
                        f"(ratio {result['listeners'] / LOOKS[-1]:.2f}, {100 * saved:.0f}% saved)"
                    )  # fmt: skip
    print(f"took {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
