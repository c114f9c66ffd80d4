"""Data-parallel training: two processes (gloo, on the CPU) learn as one process with the
same global batch does. No Django here; `train --nproc` is driven in test_training_drill."""

import json
import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from generation.zoo import get_family, resolve_options
from generation.zoo.trainer import Shard, TrainingCallback, TrainingConfig
from tests.corpus_pieces import chorale
from tests.generation.test_zoo import js_fake_pieces

# Validation losses of the two runs agree to this (relative): the shards' padded positions
# differ, so each process's mean loss weighs its real targets a little differently from the
# one process's mean over the whole batch. Measured: at most 1.9e-4 at these sizes.
TOLERANCE = 2e-3

SETUPS = {
    "melody-rnn": ("melody-rnn", "basic", {"dropout": 0.0}, lambda: list(js_fake_pieces(12))),
    "biaxial-lstm": ("biaxial-lstm", None, {"window": 16}, lambda: [chorale(), chorale()]),
}


class Curve(TrainingCallback):
    def __init__(self) -> None:
        self.valid: list[tuple[int, float]] = []

    def on_evaluation(self, step, metrics):
        self.valid.append((step, metrics["valid"]["loss"]))


def fit(name: str, shard: Shard | None):
    family_name, config, overrides, pieces_of = SETUPS[name]
    family = get_family(family_name)
    model, training = resolve_options(
        family,
        config=config,
        preset="tiny",
        overrides={
            **overrides,
            "steps": 12,
            "batch_size": 4,
            "eval_every": 4,
            "checkpoint_every": 4,
        },
    )
    pieces = pieces_of()
    torch.manual_seed(0)
    generator = family.build(model, pieces)
    curve = Curve()
    generator.fit(pieces, pieces, TrainingConfig(**training), [curve], shard=shard)
    return generator, curve


def _rank(rank: int, world_size: int, name: str, folder: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"file://{folder}/rendezvous", rank=rank, world_size=world_size
    )
    try:
        generator, curve = fit(name, Shard(rank, world_size))
        weights = {k: v.tolist() for k, v in generator.model.state_dict().items()}
        with open(os.path.join(folder, f"rank{rank}.json"), "w") as handle:
            json.dump({"valid": curve.valid, "weights": weights}, handle)
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("name", list(SETUPS))
def test_two_processes_learn_as_one_with_the_same_global_batch(name, tmp_path):
    mp.spawn(_rank, args=(2, name, str(tmp_path)), nprocs=2, join=True)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["weights"] == ranks[1]["weights"]  # DDP kept the replicas identical
    _, alone = fit(name, None)
    together = ranks[0]["valid"]
    assert [step for step, _ in together] == [step for step, _ in alone.valid] == [0, 4, 8, 12]
    assert together[0][1] == pytest.approx(alone.valid[0][1], rel=1e-6)  # the same start
    assert together[-1][1] < together[0][1]  # it learnt
    for (_, both), (_, one) in zip(together, alone.valid, strict=True):
        assert both == pytest.approx(one, rel=TOLERANCE)


def test_a_batch_that_does_not_split_evenly_is_refused():
    with pytest.raises(ValueError, match="batch_size 5 must split evenly over 2 processes"):
        family = get_family("melody-rnn")
        pieces = list(js_fake_pieces(4))
        generator = family.build({"hidden_size": 4}, pieces)
        generator.fit(pieces, pieces, TrainingConfig(steps=1, batch_size=5), shard=Shard(0, 2))
