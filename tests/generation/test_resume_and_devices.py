"""Training that survives being stopped, and models that run where they are told. No Django."""

import pytest
import torch

from generation.zoo import get_family, resolve_options
from generation.zoo.devices import pick_device, to_device
from generation.zoo.trainer import Batch, TrainingCallback, TrainingConfig
from tests.corpus_pieces import chorale
from tests.generation.test_zoo import js_fake_pieces


class Killed(Exception):
    """Stands for the worker dying: nothing after it runs."""


class KeepResumePoints(TrainingCallback):
    def __init__(self, kill_at: int | None = None) -> None:
        self.points: dict[int, dict] = {}
        self.kill_at = kill_at
        self.steps: list[int] = []

    def on_step(self, step, total_steps, loss):
        self.steps.append(step)
        if step == self.kill_at:
            raise Killed

    def on_resume_point(self, step, point):
        self.points[step] = point


# (family, model options, training options): dropout and state refeed both make the run
# depend on more than the weights (the random stream, the data order, the carried state).
RUNS = {
    "melody-rnn with refeed and dropout": (
        "melody-rnn",
        {"config": "attention", "overrides": {"dropout": 0.3, "state_refeed": True}},
        lambda: list(js_fake_pieces(8)),
    ),
    "biaxial-lstm": ("biaxial-lstm", {"overrides": {"window": 16}}, lambda: [chorale()]),
}


def build(family_name: str, pieces, options: dict, *, seed: int, **training):
    family = get_family(family_name)
    model, training_options = resolve_options(
        family,
        config=options.get("config"),
        preset="tiny",
        overrides={**options.get("overrides", {}), **training},
    )
    torch.manual_seed(seed)
    return family.build(model, pieces), TrainingConfig(**training_options)


@pytest.mark.parametrize("name", list(RUNS))
def test_a_run_killed_mid_way_resumes_to_exactly_the_weights_of_an_unbroken_run(name):
    family_name, options, pieces_of = RUNS[name]
    pieces = pieces_of()
    schedule = {"steps": 12, "eval_every": 4, "checkpoint_every": 4}

    unbroken, training = build(family_name, pieces, options, seed=0, **schedule)
    whole = unbroken.fit(pieces, pieces, training)

    broken, training = build(family_name, pieces, options, seed=0, **schedule)
    keeper = KeepResumePoints(kill_at=7)
    with pytest.raises(Killed):
        broken.fit(pieces, pieces, training, [keeper])
    assert sorted(keeper.points) == [0, 4]

    # A new process: other step-0 weights, the resume point brought back from disk.
    resumed, training = build(family_name, pieces, options, seed=99, **schedule)
    after = KeepResumePoints()
    result = resumed.fit(pieces, pieces, training, [after], resume=keeper.points[4])

    assert after.steps == list(range(5, 13))  # steps 5..7 again, not 1..4
    assert result.final_step == 12
    for key, value in unbroken.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    assert [h["step"] for h in result.history] == [0, 4, 8, 12]
    assert result.history == whole.history
    assert result.best_step == whole.best_step


def test_a_resume_point_refuses_another_data_order():
    pieces = list(js_fake_pieces(4))
    options = {"config": "basic", "overrides": {}}
    generator, training = build("melody-rnn", pieces, options, seed=0, steps=4, batch_size=4)
    keeper = KeepResumePoints()
    generator.fit(pieces, pieces, training, [keeper])
    other, training = build("melody-rnn", pieces, options, seed=0, steps=8, batch_size=2)
    with pytest.raises(ValueError, match="other batch_size"):
        other.fit(pieces, pieces, training, resume=keeper.points[4])
    # Going on for longer with the same data order is what resuming is for.
    longer, training = build("melody-rnn", pieces, options, seed=0, steps=8, batch_size=4)
    result = longer.fit(pieces, pieces, training, resume=keeper.points[4])
    assert result.final_step == 8


def test_devices_are_picked_as_asked_and_a_missing_one_is_an_error():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available() and torch.backends.mps.is_available():
        expected = "mps"
    assert pick_device("auto").type == expected
    assert pick_device("").type == expected
    assert pick_device("CPU").type == "cpu"
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        pick_device("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            pick_device("cuda")


def test_a_batch_moves_whole_and_a_cpu_batch_is_left_as_it_is():
    batch = Batch(
        torch.zeros(2, 3, dtype=torch.int64),
        torch.ones(2, 3, dtype=torch.int64),
        torch.ones(2, 3, dtype=torch.bool),
        torch.ones(2, dtype=torch.bool),
    )
    assert to_device(batch, torch.device("cpu")) is batch
    moved = to_device(batch, torch.device("meta"))  # a device every machine has
    assert {t.device.type for t in (moved.inputs, moved.targets, moved.mask, moved.reset)} == {
        "meta"
    }


@pytest.mark.parametrize("family_name", ["melody-rnn", "biaxial-lstm"])
def test_training_reports_its_device_and_a_checkpoint_loads_on_the_cpu(family_name, tmp_path):
    pieces = [chorale()] if family_name == "biaxial-lstm" else list(js_fake_pieces(4))
    generator, training = build(family_name, pieces, {}, seed=0, steps=2)

    class Info(TrainingCallback):
        def on_start(self, total_steps, info):
            self.info = info

    info = Info()
    generator.fit(pieces, pieces, training, [info], device="auto")
    assert info.info["device"] == str(pick_device("auto"))
    generator.save(tmp_path / "model.pt", step=2)
    loaded = get_family(family_name).load(tmp_path / "model.pt")
    assert {p.device.type for p in loaded.model.parameters()} == {"cpu"}
    assert loaded.sample(1, 8, seed=3)[0].instruments  # it plays
