"""The model zoo: one module per family, no Django. See interface.py for the family interface.

External families register in their package's pyproject.toml:

    [project.entry-points."earshot.model_families"]
    my-transformer = "my_package.earshot_family:family"

or by dotted path in the EARSHOT_MODEL_FAMILIES setting. The target is a
family object, or a class / factory called without arguments to make one.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import import_module
from importlib.metadata import entry_points

from generation.zoo.base import SequenceGenerator, resolve_options
from generation.zoo.biaxial import BiaxialFamily
from generation.zoo.deepj import DeepJFamily
from generation.zoo.interface import Generator, ModelFamily, check_family
from generation.zoo.markov import MarkovFamily
from generation.zoo.melody_rnn import MelodyRNNFamily
from generation.zoo.music_transformer import MusicTransformerFamily
from generation.zoo.note_tuple_lstm import NoteTupleLSTMFamily

ENTRY_POINT_GROUP = "earshot.model_families"


def builtin_families() -> dict[str, ModelFamily]:
    families = (
        MarkovFamily(),
        MelodyRNNFamily(),
        NoteTupleLSTMFamily(),
        BiaxialFamily(),
        DeepJFamily(),
        MusicTransformerFamily(),
    )
    return {family.name: family for family in families}


def _instantiate(target, origin: str) -> ModelFamily:
    family = target() if isinstance(target, type) or not hasattr(target, "build") else target
    check_family(family, origin)
    return family


def import_dotted(path: str):
    module_name, _, attribute = path.replace(":", ".").rpartition(".")
    if not module_name:
        raise ValueError(f"{path!r} is not a dotted path like package.module.family")
    return getattr(import_module(module_name), attribute)


def available_families(dotted_paths: Iterable[str] = ()) -> dict[str, ModelFamily]:
    """Built-in families, then entry points, then dotted paths; a later one may not shadow a name."""
    families = builtin_families()
    sources = [
        (ep.load, f"entry point {ep.name} = {ep.value}")
        for ep in entry_points(group=ENTRY_POINT_GROUP)
    ]
    sources += [
        ((lambda p=path: import_dotted(p)), f"EARSHOT_MODEL_FAMILIES entry {path!r}")
        for path in dotted_paths
    ]
    for load, origin in sources:
        family = _instantiate(load(), origin)
        if family.name in families and families[family.name] is not family:
            raise ValueError(f"{origin} registers family {family.name!r}, which already exists")
        families[family.name] = family
    return families


def get_family(name: str, dotted_paths: Iterable[str] = ()) -> ModelFamily:
    families = available_families(dotted_paths)
    if name not in families:
        raise ValueError(f"no model family {name!r}; available: {', '.join(sorted(families))}")
    return families[name]


__all__ = [
    "ENTRY_POINT_GROUP",
    "Generator",
    "ModelFamily",
    "SequenceGenerator",
    "available_families",
    "get_family",
    "resolve_options",
]
