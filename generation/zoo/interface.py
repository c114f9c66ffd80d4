"""The model-family interface: what earshot asks of a family, required and optional.

Required: a ``ModelFamily`` (names, option sets, ``build`` and ``load``) whose models are
``Generator``s (``sample`` and ``save``). Everything else is a capability a generator may
have, each a named Protocol below; earshot offers what a model has (training, evaluation,
fine-tuning, styles, sampling switches) and says plainly what it lacks. A family is checked
once, when it is registered, and each generator when it is built or loaded; the error names
every missing member. docs/model-families.md walks through writing one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pretty_midi

from generation.music.scores import QuantizedPiece


@runtime_checkable
class Generator(Protocol):
    """A trained (or counted, or untrained) model that writes music."""

    family: str

    def sample(
        self,
        n: int,
        steps: int,
        *,
        temperature: float = 1.0,
        primer: QuantizedPiece | None = None,
        seed: int = 0,
        top_k: int | None = None,
        tempo_qpm: float = 120.0,
    ) -> list[pretty_midi.PrettyMIDI]:
        """n pieces of ``steps`` sixteenth notes (after the primer, when one is given)."""

    def save(self, path: Path) -> None:
        """A file that the family's ``load`` reads back into the same generator."""


@runtime_checkable
class ModelFamily(Protocol):
    name: str  # e.g. "my-transformer"
    title: str
    configs: Mapping[str, Mapping[str, Any]]  # variants, e.g. "basic", "attention"
    presets: Mapping[str, Mapping[str, Mapping[str, Any]]]  # {"tiny": {"model":.., "training":..}}

    def build(
        self, options: Mapping[str, Any], train_pieces: Sequence[QuantizedPiece]
    ) -> Generator:
        """A step-0 model (fit vocabularies or style tables on train_pieces here)."""

    def load(self, path: Path) -> Generator: ...


# --- what a family may offer besides -------------------------------------------------------


@runtime_checkable
class ChecksOptions(Protocol):
    """Checks a run's model options before any work starts (a typo fails in the form, not
    an hour later in the worker)."""

    def split_options(self, options: Mapping[str, Any]) -> Any: ...


# --- what a generator may offer besides ----------------------------------------------------


@runtime_checkable
class Trainable(Protocol):
    """Trained by ``manage.py train`` and the training pages. Reports through the callbacks
    (generation.zoo.trainer.TrainingCallback): on_start, on_step, on_evaluation, on_checkpoint
    (earshot saves a checkpoint there), on_end."""

    def fit(
        self,
        train_pieces: Sequence[QuantizedPiece],
        valid_pieces: Sequence[QuantizedPiece],
        training: Any,  # generation.zoo.trainer.TrainingConfig
        callbacks: Sequence[Any] = (),
    ) -> Any: ...


@runtime_checkable
class Counted(Protocol):
    """Says whether it learns by gradient steps (is_neural) or by counting (a Markov chain):
    a counted model has nothing to continue training. A Trainable generator without this
    attribute is taken to be neural."""

    is_neural: bool


@runtime_checkable
class Evaluable(Protocol):
    """Scores held-out pieces: {"loss": ..., "accuracy": ..., ...} for checkpoint tables and
    ``manage.py evaluate``."""

    def evaluate(self, pieces: Sequence[QuantizedPiece]) -> Mapping[str, Any]: ...


@runtime_checkable
class Transferable(Protocol):
    """Fine-tuning: its output layer can be re-initialised before it learns new data."""

    def reset_head(self, pieces: Sequence[QuantizedPiece] = ()) -> None: ...


@runtime_checkable
class Styled(Protocol):
    """Knows style labels: learns new ones from pieces when it goes on training, and its
    ``sample`` takes ``style=`` (a mixture {label: weight})."""

    @property
    def styles(self) -> list[str]: ...

    def add_styles_of(self, pieces: Sequence[QuantizedPiece]) -> list[str]: ...


@runtime_checkable
class SamplingSwitches(Protocol):
    """The optional keywords its ``sample`` takes beyond the required ones, by name (e.g.
    {"style", "adaptive_temperature"}); earshot passes only those."""

    sampling_options: frozenset[str]


@runtime_checkable
class RecordsStep(Protocol):
    """Its ``save`` takes ``step=`` and ``extra=`` and writes them into the checkpoint (set
    ``records_step = True``), so a checkpoint file says which training step it holds."""

    records_step: bool

    def save(self, path: Path, *, step: int = 0, extra: dict | None = None) -> None: ...


@runtime_checkable
class FitSwitches(Protocol):
    """The optional keywords its ``fit`` takes, by name: ``device`` (a torch device or name: it
    trains there), ``resume`` (a resume point a callback's ``on_resume_point`` was handed:
    it goes on from there, ending with the weights an unbroken run would have) and ``shard``
    (a ``trainer.Shard``: this process's part of data-parallel training). Without ``resume``
    a run whose worker died starts again from step 0; without ``shard``, ``train --nproc``
    refuses the family."""

    fit_options: frozenset[str]


@runtime_checkable
class Placeable(Protocol):
    """Its weights can move to another device (``to`` returns the generator); it then samples
    and evaluates there."""

    def to(self, device: Any) -> Any: ...


FAMILY_MEMBERS = ("name", "title", "configs", "presets", "build", "load")
GENERATOR_MEMBERS = ("family", "sample", "save")
CAPABILITIES = {
    "trainable": Trainable,
    "evaluable": Evaluable,
    "transferable": Transferable,
    "styled": Styled,
}


def _missing(thing, members: Sequence[str], callables: Sequence[str]) -> list[str]:
    return [
        f"{name}()" if name in callables else name
        for name in members
        if not hasattr(thing, name) or (name in callables and not callable(getattr(thing, name)))
    ]


def _require(thing, members, callables, failure: str) -> None:
    missing = _missing(thing, members, callables)
    if missing:
        raise TypeError(f"{failure}: it lacks {', '.join(missing)} (see docs/model-families.md)")


def check_family(family, origin: str) -> None:
    """TypeError naming every required member ``family`` lacks."""
    _require(family, FAMILY_MEMBERS, ("build", "load"), f"{origin} is not a model family")


def check_generator(generator, origin: str) -> None:
    """TypeError naming every required member ``generator`` lacks."""
    _require(
        generator, GENERATOR_MEMBERS, ("sample", "save"), f"{origin} did not return a generator"
    )


def capabilities(generator) -> list[str]:
    """The optional capabilities a generator has, by name."""
    return [name for name, protocol in CAPABILITIES.items() if isinstance(generator, protocol)]


def continues_training(generator) -> bool:
    """Whether a run can start from this generator and go on learning."""
    return isinstance(generator, Trainable) and (
        not isinstance(generator, Counted) or bool(generator.is_neural)
    )


def sampling_options(generator) -> frozenset[str]:
    return generator.sampling_options if isinstance(generator, SamplingSwitches) else frozenset()


def fit_options(generator) -> frozenset[str]:
    return generator.fit_options if isinstance(generator, FitSwitches) else frozenset()


def records_step(generator) -> bool:
    return isinstance(generator, RecordsStep) and bool(generator.records_step)
