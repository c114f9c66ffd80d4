"""Mixed-model fits at study scale, against lme4 itself.

40,000 answers from 1,000 listeners over 200 clips of 5 systems (simulated, seeded): the
crossed-intercept rating model (lmer), the binary model (glmer, nAGQ = 1) and the ordinal
model with a listener intercept (clmm). R is timed in the same run when Rscript with lme4
and ordinal is installed; otherwise the figures measured for issue 18 on a 2-core machine
are printed (lmer 0.7 s, glmer 13 s, glmer nAGQ = 0 1.9 s). clmm took 800.6 s on this
data on a 2-core machine (R 4.2, ordinal 2022.11), so it is timed again only with
--r-clmm; without it that figure is printed.

    python benchmarks/mixed_model_speed.py [--listeners 1000] [--clips 200] [--r-clmm]
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from metrics.statistics.glmm import fit_binary_mixed
from metrics.statistics.mixed import fit_crossed_intercepts
from metrics.statistics.ordinal_mixed import fit_cumulative_logit_mixed

R_FIGURES = {"lmer": 0.7, "glmer": 13.0, "clmm": 800.6}

R_SCRIPT = """
suppressMessages({library(lme4); library(ordinal)})
d <- read.csv(commandArgs(TRUE)[1])
d$listener <- factor(d$listener); d$clip <- factor(d$clip); d$system <- factor(d$system)
t <- system.time(lmer(rating ~ 0 + system + (1 | listener) + (1 | clip), d))[["elapsed"]]
cat("lmer", t, "\\n")
t <- system.time(glmer(human ~ 0 + system + (1 | listener) + (1 | clip), d, binomial))[["elapsed"]]
cat("glmer", t, "\\n")
if (length(commandArgs(TRUE)) > 1) {
  d$level <- factor(d$level, ordered = TRUE)
  t <- system.time(clmm(level ~ system + (1 | listener), data = d))[["elapsed"]]
  cat("clmm", t, "\\n")
}
"""


def simulate(listeners: int, clips: int, per_listener: int, systems: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    listener = np.repeat(np.arange(listeners), per_listener)
    clip = np.concatenate(
        [rng.choice(clips, per_listener, replace=False) for _ in range(listeners)]
    )
    system = clip % systems
    effect = np.linspace(-0.5, 0.5, systems)[system]
    listener_effect = rng.normal(0, 1, listeners)[listener]
    clip_effect = rng.normal(0, 0.5, clips)[clip]
    rating = 5 + effect + listener_effect + clip_effect + rng.normal(0, 1, len(clip))
    logit = effect + 0.8 * listener_effect + clip_effect
    human = (rng.random(len(clip)) < 1 / (1 + np.exp(-logit))).astype(int)
    level = np.clip(np.round(rating), 1, 10).astype(int)
    return listener, clip, system, rating, human, level


def time_r(data: Path, *, clmm: bool) -> dict:
    if not shutil.which("Rscript"):
        return {}
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as script:
        script.write(R_SCRIPT)
    command = ["Rscript", script.name, str(data), *(["clmm"] if clmm else [])]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    times = {}
    for line in result.stdout.splitlines():
        name, seconds = line.split()
        times[name] = float(seconds)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listeners", type=int, default=1000)
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--per-listener", type=int, default=40)
    parser.add_argument("--systems", type=int, default=5)
    parser.add_argument("--r-clmm", action="store_true", help="time R's clmm too (minutes)")
    args = parser.parse_args()
    listener, clip, system, rating, human, level = simulate(
        args.listeners, args.clips, args.per_listener, args.systems
    )
    X = np.eye(args.systems)[system]
    groups = {"listener": listener, "clip": clip}
    ours = {}
    started = time.perf_counter()
    fit_crossed_intercepts(rating, X, groups, degrees_of_freedom=False)
    ours["lmer"] = time.perf_counter() - started
    print(f"earshot linear fit: {ours['lmer']:.2f} s", flush=True)
    started = time.perf_counter()
    fit_binary_mixed(human, X, groups)
    ours["glmer"] = time.perf_counter() - started
    print(f"earshot binary fit: {ours['glmer']:.2f} s", flush=True)
    present = np.unique(level)
    codes = np.searchsorted(present, level)
    started = time.perf_counter()
    fit_cumulative_logit_mixed(codes, X[:, 1:], listener)
    ours["clmm"] = time.perf_counter() - started
    print(f"earshot ordinal fit: {ours['clmm']:.2f} s", flush=True)

    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "answers.csv"
        with open(data, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["listener", "clip", "system", "rating", "human", "level"])
            writer.writerows(zip(listener, clip, system, rating, human, level, strict=True))
        measured = time_r(data, clmm=args.r_clmm)
    source = "timed now" if measured else "issue 18's figures (no Rscript here)"
    if measured and "clmm" not in measured:
        source += "; clmm: 800.6 s measured once here (--r-clmm times it again)"
    reference = {**R_FIGURES, **measured}
    print(
        f"{len(rating)} answers, {args.listeners} listeners, {args.clips} clips, "
        f"{args.systems} systems; R: {source}"
    )
    for name, label in (("lmer", "linear (REML)"), ("glmer", "binary (Laplace)"),
                        ("clmm", "ordinal (Laplace)")):  # fmt: skip
        r = reference.get(name)
        ratio = f"{r / ours[name]:.2f}x" if r else "n/a"
        r_text = f"{r:.2f} s" if r else "n/a"
        print(f"{label:18} earshot {ours[name]:7.2f} s   R {r_text:>8}   R / earshot {ratio}")


if __name__ == "__main__":
    main()
