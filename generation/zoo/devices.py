"""Where models run: picking a device, moving batches there, mixed precision. No Django.

`pick_device("auto")` takes CUDA, then Apple's MPS, then the CPU; the site's EARSHOT_DEVICE
setting says which name to pass when a run names none. Random draws for sampling stay on the
CPU whatever the device, so a sample's notes depend on its seed, not on the hardware's
random generator.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import fields, is_dataclass, replace

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def pick_device(name: str = "auto") -> torch.device:
    """The device a name asks for: "auto" (CUDA, then Apple MPS, then the CPU), "cpu", "cuda",
    "cuda:1", "mps". A device the machine lacks is an error that says so, not a silent
    fall-back to the CPU."""
    name = (name or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind = name.split(":", 1)[0]
    if kind not in DEVICE_CHOICES:
        raise ValueError(f"unknown device {name!r}; choose one of {', '.join(DEVICE_CHOICES)}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for, but this machine has no CUDA GPU")
    if kind == "mps" and not _mps_available():
        raise ValueError("device 'mps' was asked for, but this machine has no Apple GPU")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ValueError(f"bad device {name!r}: {error}") from None
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ValueError(f"device {name!r}: this machine has {torch.cuda.device_count()} GPU(s)")
    return device


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def model_device(model) -> torch.device:
    """Where a model's weights are; the CPU for a counted model (a Markov chain)."""
    parameters = getattr(model, "parameters", None)
    if parameters is None:
        return torch.device("cpu")
    first = next(iter(parameters()), None)
    return first.device if first is not None else torch.device("cpu")


def map_tensors(value, change: Callable[[torch.Tensor], torch.Tensor]):
    """`value` with `change` applied to every tensor in it: a dataclass's fields (a batch),
    or nested in dicts, tuples and lists (a recurrent state, a state_dict); anything else is
    kept as it is."""
    if isinstance(value, torch.Tensor):
        return change(value)
    if isinstance(value, dict):
        return {key: map_tensors(item, change) for key, item in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(map_tensors(item, change) for item in value)
    if is_dataclass(value) and not isinstance(value, type):
        return replace(
            value, **{f.name: map_tensors(getattr(value, f.name), change) for f in fields(value)}
        )
    return value


def to_device(batch, device: torch.device):
    """A batch (a dataclass of tensors) with every tensor on `device`."""
    if device.type == "cpu":
        return batch
    return map_tensors(batch, lambda tensor: tensor.to(device, non_blocking=True))


def autocast_for(device: torch.device, enabled: bool = True):
    """bfloat16 autocast on CUDA (where it speeds the LSTMs and attention up without a loss
    scaler); elsewhere full float32, so CPU results stay exact and reproducible."""
    if enabled and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return nullcontext()
