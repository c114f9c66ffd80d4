"""Do the report's headline tests keep their promises? Type I error and interval coverage.

Many simulated studies with known truth (listener and clip effects on the logit or rating
scale, listeners who drop out after a random number of clips) are pushed through
``metrics.analysis.analyse``, the function every report format uses. For each block kind
the headline test of the report is counted beside the pooled test it replaced:

  turing    share judged human vs 50%       model: logit mixed model   pooled: binomial
  pairwise  preference between two systems model: logit mixed model   pooled: binomial
  style     accuracy vs chance (1/3)        model: logit mixed model   pooled: binomial
  rating    difference of two systems       model: Satterthwaite t     old: Wald z

Targets (issue 18): type I error within 3.5-6.5% and coverage within 93-97% at 30
listeners x 20 clips; no worse than 8% / 90% at 12 listeners.

    python benchmarks/inference_calibration.py [--studies 400] [--processes 2]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from scipy import special, stats

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from metrics.analysis import BlockDesign, analyse
from metrics.statistics.crossed import gauss_hermite_logistic_mean

LISTENER_SD, CLIP_SD = 0.8, 0.8  # logit scale (binary kinds)
STYLES = ["bach", "monteverdi", "palestrina"]


def _answers_heard(rng, clips: int) -> int:
    # Unbalanced drop-outs: a third of listeners stop somewhere in the second half.
    return clips if rng.random() < 2 / 3 else int(rng.integers(clips // 2, clips))


def _row(listener, kind, system, stimulus, trial, **answer):
    return {
        "participant": f"l{listener}",
        "block": 1,
        "block_kind": kind,
        "trial": trial,
        "trial_kind": "main",
        "stimulus": stimulus,
        "system": system,
        "sample_set": system,
        "piece": None,
        "musical_training": 2,
        **answer,
    }


def simulate(kind: str, seed: int, listeners: int, clips: int, effect: float):
    """Rows of one study and the true value of its headline quantity."""
    rng = np.random.default_rng(seed)
    listener_effect = rng.normal(0, LISTENER_SD, listeners)
    clip_effect = rng.normal(0, CLIP_SD, clips)
    rows = []
    variance = LISTENER_SD**2 + CLIP_SD**2
    if kind == "turing":
        for listener in range(listeners):
            for trial, clip in enumerate(rng.permutation(clips)[: _answers_heard(rng, clips)]):
                eta = effect + listener_effect[listener] + clip_effect[clip]
                rows.append(
                    _row(listener, kind, "model", clip, trial, judged_human=bool(rng.random() < special.expit(eta)))
                )  # fmt: skip
        design = BlockDesign(1, "turing", "T", ["model"])
        return rows, design, gauss_hermite_logistic_mean(effect, variance)
    if kind == "style":
        # The logit whose population-averaged accuracy is chance, shifted by the effect.
        base = _logit_for_share(1 / 3, variance)
        for listener in range(listeners):
            for trial, clip in enumerate(rng.permutation(clips)[: _answers_heard(rng, clips)]):
                true = STYLES[clip % 3]
                eta = base + effect + listener_effect[listener] + clip_effect[clip]
                right = rng.random() < special.expit(eta)
                wrong = [s for s in STYLES if s != true][int(rng.integers(2))]
                rows.append(
                    _row(listener, kind, "model", clip, trial, true_style=true, style_answer=true if right else wrong)
                )  # fmt: skip
        design = BlockDesign(1, "style", "S", ["model"], styles=STYLES)
        return rows, design, gauss_hermite_logistic_mean(base + effect, variance)
    if kind == "pairwise":
        # Clip pairs: clip k of system a against clip k of system b.
        for listener in range(listeners):
            for trial, clip in enumerate(rng.permutation(clips)[: _answers_heard(rng, clips)]):
                a_first = rng.random() < 0.5
                eta = effect + 0.3 * (0.5 if a_first else -0.5)
                eta += listener_effect[listener] + clip_effect[clip]
                winner = "a" if rng.random() < special.expit(eta) else "b"
                first, second = ("a", "b") if a_first else ("b", "a")
                rows.append(
                    _row(listener, kind, first, clip if a_first else 100 + clip, trial,
                         second_system=second, second_stimulus=100 + clip if a_first else clip,
                         preferred_system=winner)
                )  # fmt: skip
        design = BlockDesign(1, "pairwise", "P", ["a", "b"], pairs=[("a", "b")])
        return rows, design, gauss_hermite_logistic_mean(effect, variance)
    # rating: systems a and b, half the clips each; listener SD 1, clip SD 0.5, noise 1.
    listener_effect = rng.normal(0, 1.0, listeners)
    clip_effect = rng.normal(0, 0.5, clips)
    for listener in range(listeners):
        for trial, clip in enumerate(rng.permutation(clips)[: _answers_heard(rng, clips)]):
            system = "a" if clip % 2 == 0 else "b"
            value = 5 + (effect if system == "a" else 0) + listener_effect[listener]
            value += clip_effect[clip] + rng.normal(0, 1.0)
            rating = int(np.clip(round(value), 1, 10))  # a 1-10 scale, as studies ask
            rows.append(_row(listener, kind, system, clip, trial, rating=rating))
    design = BlockDesign(1, "rating", "R", ["a", "b"], scale_values=list(range(1, 11)))
    # The truth is the difference of the means on the rounded scale: clipping at 1 and 10
    # is rare at a mean of 5, so it is the effect itself.
    return rows, design, effect


def _logit_for_share(share: float, variance: float) -> float:
    from scipy import optimize

    return optimize.brentq(
        lambda eta: gauss_hermite_logistic_mean(eta, variance) - share, -20, 20, xtol=1e-12
    )


def headline(kind: str, block):
    """(model p, model low, model high, pooled p, pooled low, pooled high)."""
    if kind == "turing":
        s = block.systems_table[0]
        return (s.p_model_vs_half, s.model_low, s.model_high,
                s.p_vs_half, s.low, s.high)  # fmt: skip
    if kind == "style":
        s = block.by_system[0]
        return (s.p_model_vs_chance, s.model_low, s.model_high,
                s.p_vs_chance, s.low, s.high)  # fmt: skip
    if kind == "pairwise":
        p = block.pairs[0]
        return (p.p_model, p.model_low, p.model_high,
                p.p_value, p.low, p.high)  # fmt: skip
    p = block.pairwise[0]
    if p.difference is None:
        return (None,) * 6
    half = (p.high - p.low) / 2
    se = half / stats.t.ppf(0.975, p.df) if p.df else half / 1.959964
    z_half = 1.959964 * se
    z_p = 2 * stats.norm.sf(abs(p.difference) / se)
    return (p.p_model, p.low, p.high,
            z_p, p.difference - z_half, p.difference + z_half)  # fmt: skip


def one_study(task):
    kind, seed, listeners, clips, effect = task
    rows, design, truth = simulate(kind, seed, listeners, clips, effect)
    block = analyse(rows, [design]).blocks[0]
    return headline(kind, block), truth


def calibrate(kind, listeners, clips, studies, pool, *, effect=0.0):
    tasks = [(kind, 1000 * listeners + seed, listeners, clips, effect) for seed in range(studies)]
    results = pool.map(one_study, tasks, chunksize=4)
    counts = np.zeros(4)
    usable = 0
    for (mp, ml, mh, pp, pl, ph), truth in results:
        if mp is None or ml is None:
            continue
        usable += 1
        counts += [mp < 0.05, ml <= truth <= mh, pp < 0.05, pl <= truth <= ph]
    return counts / max(usable, 1), usable


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--studies", type=int, default=400)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--kinds", default="turing,pairwise,style,rating", help="comma-separated block kinds"
    )
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    conditions = [(30, 20), (12, 20)]
    print(
        f"{args.studies} simulated studies per line; listener and clip SD 0.8 on the logit "
        "scale (ratings: listener SD 1, clip SD 0.5, noise 1); a third of listeners drop out "
        "in the second half.\n"
    )
    print(f"{'block':9} {'design':>14} | {'type I new':>10} {'coverage new':>12} | "
          f"{'type I pooled/z':>15} {'coverage':>9} | studies")  # fmt: skip
    started = time.perf_counter()
    with Pool(args.processes) as pool:
        for kind in args.kinds.split(","):
            for listeners, clips in conditions:
                (t1, cov, old_t1, old_cov), usable = calibrate(
                    kind, listeners, clips, args.studies, pool
                )
                design = f"{listeners} x {clips}"
                print(
                    f"{kind:9} {design:>14} | {t1:10.1%} {cov:12.1%} | {old_t1:15.1%} "
                    f"{old_cov:9.1%} | {usable}",
                    flush=True,
                )
    mc = math.sqrt(0.05 * 0.95 / args.studies)
    print(
        f"\nMonte Carlo standard error of a 5% rate: {mc:.1%}; of a 95% coverage: {mc:.1%}. "
        f"Wall time {time.perf_counter() - started:.0f} s."
    )


if __name__ == "__main__":
    main()
