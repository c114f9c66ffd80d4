"""Every neural family trained and sampled on a GPU, against the CPU in the same run.

For each family (the Melody RNN, the note-tuple LSTM, the Biaxial LSTM, DeepJ) at its
"small" preset: training steps per second on the CPU and on the GPU (CUDA, with bfloat16
autocast, and without), the ratio GPU / CPU, whether the loss fell, and sampling seconds
for 8 samples of 4 bars on each device. It also checks that a checkpoint written on the GPU
loads on the CPU with the same weights ("same weights").

Data: the JS Fake Chorales bundled in generation/data/js-fakes; no database.
Usage: python benchmarks/gpu_check.py [--steps 300] [--cpu-steps 30] [--device cuda]
Without a GPU it says so and exits 2 (nothing to compare); --device cpu runs the whole
check on the CPU alone (a dry run of the script).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
from train_throughput import StepClock  # noqa: E402  (the same clock as the CPU benchmark)

from generation.music.corpora import JS_FAKES_MIDI  # noqa: E402
from generation.music.parsing import PieceRejected, read_midi_file  # noqa: E402
from generation.zoo import get_family, resolve_options  # noqa: E402
from generation.zoo.devices import pick_device  # noqa: E402
from generation.zoo.trainer import TrainingConfig  # noqa: E402

FAMILIES = [
    ("melody-rnn", "basic"),
    ("note-tuple-lstm", "basic"),
    ("biaxial-lstm", None),
    ("deepj", None),
]


def pieces(limit: int = 60):
    found = []
    for path in sorted(JS_FAKES_MIDI.glob("*.mid"))[:limit]:
        with contextlib.suppress(PieceRejected):
            found.append(read_midi_file(path))
    return found


def train_once(family_name, config, train, valid, *, steps, device, mixed_precision):
    family = get_family(family_name)
    model_options, training_options = resolve_options(
        family,
        config=config,
        preset="small",
        overrides={
            "steps": steps,
            "eval_every": 0,
            "checkpoint_every": 0,
            "mixed_precision": mixed_precision,
        },
    )
    torch.manual_seed(0)
    generator = family.build(model_options, train)
    clock = StepClock(sync=torch.cuda.synchronize if device.type == "cuda" else None)
    generator.fit(train, valid, TrainingConfig(**training_options), [clock], device=device)
    return generator, clock


def sample_seconds(generator, device) -> float:
    generator.to(device)
    started = time.perf_counter()
    generator.sample(8, 16 * 4, seed=1)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=300, help="GPU training steps per family")
    parser.add_argument("--cpu-steps", type=int, default=30, help="CPU steps (for the rate)")
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()
    try:
        device = pick_device(args.device)
    except ValueError as error:
        print(f"no GPU to check: {error}")
        return 2
    cpu = torch.device("cpu")
    print(f"device {device}: {torch.cuda.get_device_name(device) if device.type == 'cuda' else ''}")
    print(f"torch {torch.__version__}, CPU threads {torch.get_num_threads()}")
    data = pieces()
    train, valid = data[:48], data[48:]
    header = (
        f"{'family':<17} {'CPU st/s':>9} {'GPU st/s':>9} {'bf16 st/s':>9} {'ratio':>7} "
        f"{'loss first->last':>18} {'sample CPU s':>12} {'GPU s':>7} {'same weights':>12}"
    )
    print(header)
    for family_name, config in FAMILIES:
        _, on_cpu = train_once(
            family_name,
            config,
            train,
            valid,
            steps=args.cpu_steps,
            device=cpu,
            mixed_precision=True,
        )
        _, full = train_once(
            family_name,
            config,
            train,
            valid,
            steps=args.steps,
            device=device,
            mixed_precision=False,
        )
        generator, mixed = train_once(
            family_name, config, train, valid, steps=args.steps, device=device, mixed_precision=True
        )
        gpu_sample = sample_seconds(generator, device)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.pt"
            generator.save(path, step=args.steps)
            loaded = get_family(family_name).load(path)
        cpu_sample = sample_seconds(loaded, cpu)
        same = all(
            torch.equal(a.cpu(), b)
            for a, b in zip(
                generator.model.state_dict().values(),
                loaded.model.state_dict().values(),
                strict=True,
            )
        )
        best = max(full.per_second, mixed.per_second)
        print(
            f"{family_name:<17} {on_cpu.per_second:>9.1f} {full.per_second:>9.1f} "
            f"{mixed.per_second:>9.1f} {best / on_cpu.per_second:>6.1f}x "
            f"{mixed.losses[0]:>8.3f}->{mixed.losses[-1]:<8.3f} "
            f"{cpu_sample:>12.2f} {gpu_sample:>7.2f} {same!s:>12}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
