"""Music Transformer sampling with and without the key/value cache, batched, same run.

A "small" Music Transformer (performance events, untrained weights: speed does not depend
on them) draws a batch of samples token by token, first with the cache (each step attends
from the new token to the cached keys and values), then with `use_cache = False` (each
step runs the whole history again). Prints tokens per second for each, the ratio, and
whether both drew the same tokens for the same seed.

Usage: python benchmarks/transformer_sampling.py [--batch 16] [--bars 8] [--config performance]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from generation.encodings.sequences import sampleable_tokens  # noqa: E402
from generation.music.corpora import JS_FAKES_MIDI  # noqa: E402
from generation.music.parsing import read_midi_file  # noqa: E402
from generation.zoo import get_family, resolve_options  # noqa: E402
from generation.zoo.sampling import sample_tokens  # noqa: E402


def draw(generator, batch: int, steps: int, seed: int):
    codec = generator.codec
    started = time.perf_counter()
    sequences = sample_tokens(
        generator.model,
        n=batch,
        steps=steps,
        token_steps=codec.token_steps,
        first_token_weights=generator.first_token_counts,
        seed=seed,
        allowed=sampleable_tokens(codec),
        max_tokens=steps * getattr(codec, "max_tokens_per_step", 1),
    )
    seconds = time.perf_counter() - started
    return sequences, sum(len(s) for s in sequences) / seconds, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--bars", type=int, default=8)
    parser.add_argument("--config", default="performance", choices=["melody", "performance"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    family = get_family("music-transformer")
    options, _ = resolve_options(family, config=args.config, preset="small")
    pieces = [read_midi_file(path) for path in sorted(JS_FAKES_MIDI.glob("*.mid"))[:20]]
    torch.manual_seed(0)
    generator = family.build(options, pieces)
    generator.model.eval()
    steps = args.bars * 16
    print(
        f"music-transformer ({args.config}, small: {options}), batch {args.batch}, "
        f"{args.bars} bars, torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    cached, cached_rate, cached_seconds = draw(generator, args.batch, steps, args.seed)
    generator.model.use_cache = False
    plain, plain_rate, plain_seconds = draw(generator, args.batch, steps, args.seed)
    generator.model.use_cache = True
    same = len(cached) == len(plain) and all(
        np.array_equal(a, b) for a, b in zip(cached, plain, strict=True)
    )
    tokens = sum(len(s) for s in cached)
    print(
        f"with the cache:    {cached_rate:8.1f} tokens/s ({tokens} tokens, {cached_seconds:.2f} s)"
    )
    print(f"without the cache: {plain_rate:8.1f} tokens/s ({plain_seconds:.2f} s)")
    print(f"ratio {cached_rate / plain_rate:.2f}x; same tokens for the same seed: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
