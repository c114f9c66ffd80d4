"""Training and sampling throughput of the model zoo, each against its baseline in the same run.

1. Trainer overhead: steps per second of the Melody RNN (basic, 2 x 128, the
   seed's size) trained by generation.zoo.trainer.Trainer, versus a bare loop
   (nn.LSTM + linear + masked cross-entropy + Adam + clipping) of the same size
   on the same batches. Ratio = trainer / bare; 1.0 means no overhead.
2. Batched sampling: events per second drawing 100 samples of 8 bars in one
   batch, versus drawing the same 100 one at a time.
3. Peephole LSTM layer: forward + backward of the hand-written BPTT versus the
   same equations left to autograd in a Python loop (and nn.LSTM, which has no
   peepholes, for scale).

Data: melodies of the JS Fake Chorales (generation/data/js-fakes), no database.
Usage: python benchmarks/train_throughput.py [--steps 60] [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from generation.encodings.sequences import MelodyEventCodec, encode_pieces  # noqa: E402
from generation.music.corpora import JS_FAKES_MIDI  # noqa: E402
from generation.music.parsing import PieceRejected, read_midi_file  # noqa: E402
from generation.zoo.melody_rnn import MelodyRNN, MelodyRNNConfig  # noqa: E402
from generation.zoo.note_tuple_lstm import PeepholeLSTMLayer  # noqa: E402
from generation.zoo.sampling import sample_tokens  # noqa: E402
from generation.zoo.trainer import (  # noqa: E402
    TokenObjective,
    Trainer,
    TrainingCallback,
    TrainingConfig,
    masked_loss,
    window_batches,
)

JS_FAKES = JS_FAKES_MIDI
BATCH, WINDOW, HIDDEN, LAYERS = 64, 64, 128, 2


def load_sequences(limit: int) -> list[np.ndarray]:
    pieces = []
    for path in sorted(JS_FAKES.glob("*.mid"))[:limit]:
        with contextlib.suppress(PieceRejected):  # a rejected file is simply not in the data
            pieces.append(read_midi_file(path))
    return encode_pieces(MelodyEventCodec(), pieces)


class StepClock(TrainingCallback):
    """Times steps 2..N only: the trainer's evaluations at step 0 and at the end are not training.
    sync: waits for a GPU's queued work before each reading (torch.cuda.synchronize)."""

    def __init__(self, sync=None) -> None:
        self.first = self.last = 0.0
        self.steps = 0
        self.losses: list[float] = []
        self.sync = sync

    def on_step(self, step: int, total_steps: int, loss: float) -> None:
        if self.sync is not None:
            self.sync()
        now = time.perf_counter()
        if step == 1:
            self.first = now
        self.last, self.steps = now, step
        self.losses.append(loss)

    @property
    def per_second(self) -> float:
        return (self.steps - 1) / (self.last - self.first) if self.steps > 1 else float("nan")


def trainer_steps_per_second(sequences, steps: int) -> float:
    torch.manual_seed(0)
    model = MelodyRNN(MelodyRNNConfig(hidden_size=HIDDEN, num_layers=LAYERS))
    clock = StepClock()
    config = TrainingConfig(
        steps=steps, batch_size=BATCH, window=WINDOW, eval_every=0, checkpoint_every=0, seed=1
    )
    Trainer(model, TokenObjective(sequences, sequences[:4]), config, callbacks=[clock]).run()
    return clock.per_second


def bare_steps_per_second(sequences, steps: int) -> float:
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(38, HIDDEN, num_layers=LAYERS, batch_first=True)
    output = torch.nn.Linear(HIDDEN, 38)
    parameters = [*lstm.parameters(), *output.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=1e-3)
    batches = window_batches(sequences, batch_size=BATCH, window=WINDOW, seed=1)
    first = 0.0
    for step in range(1, steps + 1):
        batch = next(batches)
        hidden, _ = lstm(F.one_hot(batch.inputs, 38).float())
        loss = masked_loss(output(hidden), batch.targets, batch.mask)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 5.0)
        optimizer.step()
        loss.item()
        if step == 1:
            first = time.perf_counter()
    return (steps - 1) / (time.perf_counter() - first)


def sampling_events_per_second(model, n: int, steps: int, batched: bool) -> float:
    token_steps = np.ones(38, dtype=np.int64)
    weights = np.ones(38)
    started = time.perf_counter()
    if batched:
        sample_tokens(
            model, n=n, steps=steps, token_steps=token_steps, first_token_weights=weights, seed=0
        )
    else:
        for index in range(n):
            sample_tokens(
                model,
                n=1,
                steps=steps,
                token_steps=token_steps,
                first_token_weights=weights,
                seed=index,
            )
    return n * steps / (time.perf_counter() - started)


def peephole_milliseconds(repeats: int = 10) -> dict[str, float]:
    torch.manual_seed(0)
    steps, batch, size = 64, 32, 128
    x = torch.randn(steps, batch, size)
    layer = PeepholeLSTMLayer(size, size)
    zeros = torch.zeros(batch, size)

    def autograd_loop():
        projected = F.linear(x, layer.input_weight, layer.bias)
        h, c, outputs = zeros, zeros, []
        for t in range(steps):
            gates = projected[t] + h @ layer.recurrent_weight.t()
            i, f, z, o = gates.chunk(4, 1)
            i = torch.sigmoid(i + layer.peepholes[0] * c)
            f = torch.sigmoid(f + layer.peepholes[1] * c)
            c = f * c + i * torch.tanh(z)
            o = torch.sigmoid(o + layer.peepholes[2] * c)
            h = o * torch.tanh(c)
            outputs.append(h)
        return torch.stack(outputs)

    fused = torch.nn.LSTM(size, size)
    candidates = {
        "hand-written BPTT": lambda: layer(x, zeros, zeros)[0],
        "autograd loop": autograd_loop,
        "nn.LSTM (no peepholes)": lambda: fused(x)[0],
    }
    timings = {}
    for name, forward in candidates.items():
        for _ in range(2):
            forward().sum().backward()
        started = time.perf_counter()
        for _ in range(repeats):
            forward().sum().backward()
        timings[name] = (time.perf_counter() - started) / repeats * 1000
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pieces", type=int, default=300)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    sequences = load_sequences(args.pieces)
    print(f"{len(sequences)} js-fake melodies, {sum(len(s) for s in sequences):,} events")

    trainer, bare = [], []
    # Interleaved, and in alternating order: this machine speeds up over the first runs,
    # and whichever side always ran second would get the benefit.
    for repeat in range(args.repeats):
        order = ("bare", "trainer") if repeat % 2 == 0 else ("trainer", "bare")
        for side in order:
            if side == "bare":
                bare.append(bare_steps_per_second(sequences, args.steps))
            else:
                trainer.append(trainer_steps_per_second(sequences, args.steps))
    t, b = statistics.median(trainer), statistics.median(bare)
    print(
        f"\n1. Melody RNN training, batch {BATCH} x window {WINDOW}, {LAYERS} x {HIDDEN} LSTM, "
        f"median of {args.repeats} x {args.steps} steps"
    )
    print(
        f"   earshot Trainer : {t:7.2f} steps/s   (runs: {', '.join(f'{v:.2f}' for v in trainer)})"
    )
    print(f"   bare nn.LSTM    : {b:7.2f} steps/s   (runs: {', '.join(f'{v:.2f}' for v in bare)})")
    print(f"   ratio trainer / bare = {t / b:.3f}")

    torch.manual_seed(0)
    model = MelodyRNN(MelodyRNNConfig(hidden_size=HIDDEN, num_layers=LAYERS)).eval()
    batched = sampling_events_per_second(model, 100, 128, batched=True)
    single = sampling_events_per_second(model, 100, 128, batched=False)
    print("\n2. Sampling 100 melodies of 8 bars (128 events) from the same Melody RNN")
    print(f"   batched      : {batched:10,.0f} events/s")
    print(f"   one at a time: {single:10,.0f} events/s")
    print(f"   ratio batched / one at a time = {batched / single:.1f}x")

    timings = peephole_milliseconds()
    base = timings["autograd loop"]
    print("\n3. Peephole LSTM layer, forward + backward, 64 steps x batch 32 x 128 units")
    for name, milliseconds in timings.items():
        print(
            f"   {name:<24}: {milliseconds:7.1f} ms   ({base / milliseconds:.2f}x the autograd loop)"
        )


if __name__ == "__main__":
    main()
