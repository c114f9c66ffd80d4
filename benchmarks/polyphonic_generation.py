"""Polyphonic generation: 16 samples of 8 bars, batched versus one at a time, same run.

For the Biaxial LSTM and DeepJ at their `small` presets (built on the JS
Fake Chorales, so the output layer starts at their note density; weights
are otherwise as initialised: generation costs the same whatever the
weights). Both sides draw the same samples: each sample has its own random
stream, so sample i is the same alone or in the batch (checked here too,
on the notes it plays).

Usage: python benchmarks/polyphonic_generation.py [--samples 16] [--bars 8] [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from generation.music.corpora import JS_FAKES_MIDI  # noqa: E402
from generation.music.parsing import PieceRejected, read_midi_file  # noqa: E402
from generation.zoo import get_family, resolve_options  # noqa: E402
from generation.zoo.piano_roll_base import PLAY, sample_rolls  # noqa: E402

JS_FAKES = JS_FAKES_MIDI


def load_pieces(limit: int = 40):
    pieces = []
    for path in sorted(JS_FAKES.glob("*.mid"))[:limit]:
        with contextlib.suppress(PieceRejected):
            pieces.append(read_midi_file(path))
    return pieces


def timed(function) -> tuple[float, object]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def one_at_a_time(n: int, draw: dict) -> list[np.ndarray]:
    """Sample i alone, from the same random stream (seed, i) it has in the batch."""
    rolls = []
    for index in range(n):
        rolls += sample_rolls(n=1, first_index=index, **draw)
    return rolls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--bars", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(2)
    pieces = load_pieces()
    steps = args.bars * 16
    print(f"{args.samples} samples x {args.bars} bars ({steps} steps), medians of {args.repeats}")
    for family_name in ("biaxial-lstm", "deepj"):
        family = get_family(family_name)
        options, _ = resolve_options(family, preset="small")
        torch.manual_seed(0)
        generator = family.build(options, pieces)
        styles = generator.style_table.mixture(None)

        draw = {"model": generator.model, "steps": steps, "styles": styles, "seed": 7}
        batch_times, single_times = [], []
        for _ in range(args.repeats):
            seconds, batch_rolls = timed(partial(sample_rolls, n=args.samples, **draw))
            batch_times.append(seconds)
            seconds, single_rolls = timed(partial(one_at_a_time, args.samples, draw))
            single_times.append(seconds)
        same = sum(
            np.array_equal(a[..., PLAY], b[..., PLAY])
            for a, b in zip(batch_rolls, single_rolls, strict=True)
        )
        batch, single = statistics.median(batch_times), statistics.median(single_times)
        notes = int(sum(r[..., PLAY].sum() for r in batch_rolls))
        print(
            f"{family_name:13s} batched {batch:6.2f} s   one at a time {single:6.2f} s   "
            f"ratio {single / batch:5.2f}x   ({notes} sounding cells; "
            f"{same}/{args.samples} samples identical both ways)"
        )


if __name__ == "__main__":
    main()
