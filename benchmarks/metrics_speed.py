"""How long the objective music metrics take for 1,000 samples.

Material: the js-fakes chorales (500 MIDI files, CC BY 4.0), each also transposed up a tone,
as 1,000 "samples"; the first 100 untransposed files are the reference set. MIDI parsing is
not timed (earshot stores samples already quantised). Timed: every per-piece feature of all
1,000 samples (``set_metrics``), then Yang & Lerch's overlap and KL divergence of every
feature against the reference (``feature_distances``: 100,000 inter-set and 4,950
intra-set distances per feature, 16 features).

Baseline, measured in the same run: the distance step with the densities estimated as
mgeval (Yang & Lerch's published code) does, scipy.stats.gaussian_kde evaluated on the same
grid, instead of earshot's binned kernel density.

    .venv/bin/python benchmarks/metrics_speed.py [--samples 1000]
"""

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from generation.music.corpora import JS_FAKES_MIDI
from generation.music.parsing import read_midi_file
from metrics import music
from metrics.statistics import distributions

JS_FAKES = JS_FAKES_MIDI


def scipy_overlap(first, second) -> distributions.DistributionOverlap:
    """mgeval's way: gaussian_kde on each sample, evaluated point by point on a grid."""
    from scipy import stats

    first, second = np.asarray(first, float), np.asarray(second, float)
    low = min(first.min(), second.min())
    high = max(first.max(), second.max())
    margin = 0.1 * ((high - low) or 1.0)
    grid = np.linspace(low - margin, high + margin, distributions.GRID_POINTS)
    step = grid[1] - grid[0]
    jitter = np.random.default_rng(0)

    def density(values):
        if np.ptp(values) == 0:  # gaussian_kde cannot fit a constant sample
            values = values + jitter.normal(0, 1e-6, len(values))
        return stats.gaussian_kde(values)(grid)

    p, q = density(first), density(second)
    area = float(np.minimum(p, q).sum() * step)
    kl = float(stats.entropy(p, np.maximum(q, 1e-12)))
    return distributions.DistributionOverlap(area, kl, (0.0, 0.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--reference", type=int, default=100)
    arguments = parser.parse_args()

    files = sorted(JS_FAKES.glob("*.mid"))
    if not files:
        raise SystemExit(f"no MIDI files in {JS_FAKES}")
    started = time.perf_counter()
    parsed = [read_midi_file(path) for path in files]
    parse_seconds = time.perf_counter() - started
    samples = (parsed + [p.transposed(2) for p in parsed]) * (
        arguments.samples // (2 * len(parsed)) + 1
    )
    samples = samples[: arguments.samples]
    reference_pieces = parsed[: arguments.reference]
    notes = sum(p.n_notes for p in samples)
    print(
        f"{len(samples)} samples ({notes:,} notes) against {len(reference_pieces)} reference "
        f"pieces; parsing {len(files)} MIDI files took {parse_seconds:.1f} s (not timed below)"
    )

    started = time.perf_counter()
    reference = music.set_metrics(reference_pieces)
    generated = music.set_metrics(samples)
    feature_seconds = time.perf_counter() - started
    started = time.perf_counter()
    distances = music.feature_distances(generated, reference)
    distance_seconds = time.perf_counter() - started
    total = feature_seconds + distance_seconds
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    original = distributions.overlap
    music.overlap = scipy_overlap  # the baseline's density estimate, same distances
    try:
        started = time.perf_counter()
        baseline = music.feature_distances(generated, reference)
        baseline_seconds = time.perf_counter() - started
    finally:
        music.overlap = original
    # A feature every piece shares (all distances 0) has no density for gaussian_kde; earshot
    # gives it overlap 1. The others are compared.
    compared = [n for n in music.FEATURES if np.isfinite(baseline[n].kl_divergence)]
    largest_gap = max(abs(distances[n].overlap - baseline[n].overlap) for n in compared)

    print(
        f"earshot: features {feature_seconds:.2f} s "
        f"({1000 * feature_seconds / (len(samples) + len(reference_pieces)):.2f} ms per piece), "
        f"distances to the reference {distance_seconds:.2f} s; total {total:.2f} s for "
        f"{len(samples)} samples; peak memory {peak_mib:.0f} MiB"
    )
    print(
        f"baseline (scipy gaussian_kde, as mgeval): distances {baseline_seconds:.2f} s; "
        f"earshot's distance step is {baseline_seconds / distance_seconds:.1f}x faster; "
        f"overlaps agree within {largest_gap:.3f} on the {len(compared)} features gaussian_kde "
        f"can fit ({len(music.FEATURES) - len(compared)} constant ones it cannot)"
    )


if __name__ == "__main__":
    main()
