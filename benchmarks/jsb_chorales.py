"""The JSB Chorales benchmark: negative log-likelihood per quarter-note frame on the test split.

Every row comes from this harness in the same run (generation/evaluation/jsb_chorales.py):
the uniform model, the independent per-key Bernoulli and the per-key first-order Markov
chain fitted on the train split, then each piano-roll family trained on the train split
(88 keys, quarter-note frames, every transposition up to +-6 semitones) for a wall-clock
budget, keeping the weights with the best validation play loss, and scored on the test
split (only the play decision: the data has no articulation); and the Music Transformer
over performance events, trained and kept the same way, scored by its event streams'
log-probability per frame (an upper bound on its frame NLL).

Target (issue 23): on 2 CPU cores within 60 minutes, the Biaxial LSTM beats the per-key
Markov baseline by at least 3 nats per frame; the script prints that margin.

Usage: python benchmarks/jsb_chorales.py [--minutes 40] [--deepj-minutes 10]
           [--transformer-minutes 10] [--device cpu]
       python benchmarks/jsb_chorales.py --minutes 0 --deepj-minutes 0 --transformer-minutes 0
       --save DIR writes each trained model as a checkpoint (manage.py import_checkpoint).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import math
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from generation.evaluation.jsb_chorales import (  # noqa: E402
    IndependentBernoulli,
    KeyMarkov,
    chorale_pieces,
    frame_count,
    load_jsb,
    prepare_model,
    roll_model_likelihood,
    token_model_likelihood,
    uniform,
)
from generation.zoo import get_family  # noqa: E402
from generation.zoo.trainer import (  # noqa: E402
    TokenObjective,
    Trainer,
    TrainingCallback,
    TrainingConfig,
)

# The neural rows' sizes: Deep Jammer's medium time axis, a note axis of 50 and 25.
MODELS = {
    "biaxial-lstm": {"time_sizes": [100, 100], "note_sizes": [50, 25], "dropout": 0.3},
    "deepj": {"time_sizes": [100, 100], "note_sizes": [50, 25], "dropout": 0.3},
}


class OutOfTime(Exception):
    pass


class KeepBest(TrainingCallback):
    """Stops training when the budget is spent; remembers the weights with the best
    validation play loss (the benchmark's own measure) and the curve."""

    def __init__(self, model, seconds: float) -> None:
        self.model = model
        self.deadline = time.monotonic() + seconds
        self.best_loss = math.inf
        self.best_state = None
        self.best_step = 0
        self.steps = 0
        self.curve: list[tuple[int, float]] = []

    def on_step(self, step, total_steps, loss):
        self.steps = step
        if time.monotonic() > self.deadline:
            raise OutOfTime

    def on_evaluation(self, step, metrics):
        play = metrics["valid"]["play_loss"] * self.model.config.n_notes
        self.curve.append((step, play))
        if play < self.best_loss:
            self.best_loss, self.best_step = play, step
            self.best_state = copy.deepcopy(self.model.state_dict())


# Every neural row: trained until its budget ends, evaluated every 250 steps.
BUDGETED = {"steps": 1_000_000, "eval_every": 250, "checkpoint_every": 0, "eval_batch_size": 16}


def within_budget(generator, objective, training, best: KeepBest, device: str, started: float):
    """Trains until the budget ends; the generator with the best validation weights on the
    CPU, the keeper, the seconds taken and the number of parameters."""
    trainer = Trainer(generator.model, objective, training, callbacks=[best], device=device)
    with contextlib.suppress(OutOfTime):
        trainer.run()
    if best.best_state is not None:
        generator.model.load_state_dict(best.best_state)
    generator.model.to("cpu").eval()
    parameters = sum(p.numel() for p in generator.model.parameters())
    return generator, best, time.monotonic() - started, parameters


def train_for(family_name: str, minutes: float, device: str, splits, seed: int):
    """A piano-roll family at 88 keys, on the train chorales and their transpositions."""
    training = TrainingConfig(
        **BUDGETED,
        batch_size=8,
        window=32,
        learning_rate=0.003,
        eval_window=256,
        augment_transpose=6,
        seed=seed,
    )
    started = time.monotonic()
    torch.manual_seed(seed)
    generator, objective = prepare_model(
        get_family(family_name), MODELS[family_name], training, splits=splits
    )
    best = KeepBest(generator.model, minutes * 60)
    return within_budget(generator, objective, training, best, device, started)


TRANSFORMER = {
    "encoding": "performance-events",
    "d_model": 128,
    "n_layers": 3,
    "n_heads": 4,
    "d_ff": 512,
    "dropout": 0.1,
}


class KeepBestTokens(KeepBest):
    """KeepBest on the validation loss in nats per event (what the token objective reports)."""

    def on_evaluation(self, step, metrics):
        loss = metrics["valid"]["loss"]
        self.curve.append((step, loss))
        if loss < self.best_loss:
            self.best_loss, self.best_step = loss, step
            self.best_state = copy.deepcopy(self.model.state_dict())


def train_transformer(minutes: float, device: str, splits, seed: int):
    """The Music Transformer over performance events, on the train chorales and their
    transpositions up to +-6 semitones, for a budget; the best validation weights."""
    training = TrainingConfig(
        **BUDGETED, batch_size=8, window=256, learning_rate=0.001, clip_norm=1.0, seed=seed
    )
    started = time.monotonic()
    torch.manual_seed(seed)
    train_pieces = chorale_pieces(splits["train"], transpose=6)
    valid_pieces = chorale_pieces(splits["valid"])
    generator = get_family("music-transformer").build(TRANSFORMER, train_pieces)
    objective = TokenObjective(generator.encode(train_pieces), generator.encode(valid_pieces))
    best = KeepBestTokens(generator.model, minutes * 60)
    return within_budget(generator, objective, training, best, device, started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=40, help="Biaxial LSTM budget")
    parser.add_argument("--deepj-minutes", type=float, default=10, help="DeepJ budget")
    parser.add_argument(
        "--transformer-minutes", type=float, default=10, help="Music Transformer budget"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", type=Path, help="folder to write the trained models into")
    args = parser.parse_args()
    splits = load_jsb()
    train, test = splits["train"], splits["test"]
    print(
        f"JSB Chorales: {len(train)} / {len(splits['valid'])} / {len(test)} chorales, "
        f"{frame_count(train)} / {frame_count(splits['valid'])} / {frame_count(test)} frames; "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}"
    )
    bernoulli = IndependentBernoulli.fit(train)
    markov = KeyMarkov.fit(train)
    rows = [uniform(test), bernoulli.score(test), markov.score(test)]
    details = {}
    for family_name, minutes in (("biaxial-lstm", args.minutes), ("deepj", args.deepj_minutes)):
        if minutes <= 0:
            continue
        generator, best, seconds, parameters = train_for(
            family_name, minutes, args.device, splits, args.seed
        )
        score = roll_model_likelihood(
            generator.model, test, name=f"{family_name} (this harness)", outside=bernoulli
        )
        rows.append(score)
        details[family_name] = (best, seconds, parameters)
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            generator.save(args.save / f"jsb-{family_name}.pt", step=best.best_step)
    if args.transformer_minutes > 0:
        generator, best, seconds, parameters = train_transformer(
            args.transformer_minutes, args.device, splits, args.seed
        )
        rows.append(
            token_model_likelihood(
                generator, test, name="music-transformer, performance events (this harness)"
            )
        )
        details["music-transformer"] = (best, seconds, parameters)
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            generator.save(args.save / "jsb-music-transformer.pt", step=best.best_step)
    print()
    print("| model | test NLL (nats / frame) | frames |")
    print("|---|---|---|")
    for row in rows:
        note = f" ({row.note})" if row.note else ""
        print(f"| {row.model}{note} | {row.nats_per_frame:.3f} | {row.frames} |")
    print()
    for family_name, (best, seconds, parameters) in details.items():
        print(
            f"{family_name}: {parameters} parameters, {best.steps} steps in "
            f"{seconds / 60:.1f} min, best validation {best.best_loss:.3f} at step "
            f"{best.best_step}; validation curve {best.curve}"
        )
    biaxial = next((r for r in rows if r.model.startswith("biaxial")), None)
    if biaxial is not None:
        margin = rows[2].nats_per_frame - biaxial.nats_per_frame
        verdict = "met" if margin >= 3 else "NOT met"
        print(
            f"Biaxial LSTM vs per-key Markov: {margin:.3f} nats/frame better (target 3: {verdict})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
