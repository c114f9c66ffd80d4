"""Deterministic train/valid/test and k-fold assignment by a hash of a piece's key.

A piece keeps its split when others are added or removed, and every machine
computes the same split, so results are comparable across runs.
"""

from __future__ import annotations

import hashlib

SPLITS = ("train", "valid", "test")
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)


def _unit_interval(key: str, salt: str) -> float:
    digest = hashlib.sha256(f"{salt}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def validate_fractions(fractions: tuple[float, float, float]) -> tuple[float, float, float]:
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError(
            f"split fractions must be three non-negative numbers summing to 1: {fractions}"
        )
    return tuple(float(f) for f in fractions)


def split_of(key: str, fractions: tuple[float, float, float] = DEFAULT_FRACTIONS) -> str:
    train, valid, _ = validate_fractions(fractions)
    position = _unit_interval(key, "split")
    if position < train:
        return "train"
    if position < train + valid:
        return "valid"
    return "test"


def fold_of(key: str, k: int) -> int:
    """Fold index 0..k-1; independent of `split_of` (it uses its own salt)."""
    if k < 2:
        raise ValueError(f"k-fold needs k >= 2, got {k}")
    return min(k - 1, int(_unit_interval(key, "fold") * k))


def kfold(keys: list[str], k: int) -> list[tuple[list[str], list[str]]]:
    """k (train keys, held-out keys) pairs; every key is held out exactly once."""
    folds = [fold_of(key, k) for key in keys]
    return [
        (
            [key for key, f in zip(keys, folds, strict=True) if f != index],
            [key for key, f in zip(keys, folds, strict=True) if f == index],
        )
        for index in range(k)
    ]
