"""The headphone screen of Woods, Siegel, Traer & McDermott (2017), "Headphone screening to
facilitate web-based auditory experiments", Attention, Perception & Psychophysics 79(7).

Each trial plays three 200 Hz tones; the listener says which one is quietest. One tone is
6 dB softer (the right answer). Another is as loud as the reference but in antiphase
between the channels: over headphones it sounds as loud as the reference, but from
loudspeakers the two channels partly cancel in the air and it sounds quietest, so a
listener on loudspeakers picks it and fails. Six trials; passing takes five correct.
"""

from __future__ import annotations

import io
import itertools

import numpy as np
import soundfile

SAMPLE_RATE = 22050
TONE_HZ = 200.0
TONE_SECONDS = 1.0
RAMP_SECONDS = 0.1
GAP_SECONDS = 0.5
REFERENCE_AMPLITUDE = 0.25  # -12 dBFS: room below full scale, loud enough at usual volumes
QUIET_DB = -6.0
N_TRIALS = 6
PASS_MARK = 5

NORMAL, QUIET, ANTIPHASE = "normal", "quiet", "antiphase"
# Every order of the three tones: exactly six, one per trial.
VARIANTS: tuple[tuple[str, str, str], ...] = tuple(
    itertools.permutations((NORMAL, QUIET, ANTIPHASE))
)


def correct_answer(variant: int) -> int:
    """1, 2 or 3: the position of the quiet tone."""
    return VARIANTS[variant].index(QUIET) + 1


def _tone(kind: str) -> np.ndarray:
    n = round(TONE_SECONDS * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    wave = np.sin(2 * np.pi * TONE_HZ * t)
    ramp = round(RAMP_SECONDS * SAMPLE_RATE)
    envelope = np.ones(n)
    rise = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)  # raised cosine
    envelope[:ramp] = rise
    envelope[-ramp:] = rise[::-1]
    amplitude = REFERENCE_AMPLITUDE * (10 ** (QUIET_DB / 20) if kind == QUIET else 1.0)
    left = amplitude * envelope * wave
    right = -left if kind == ANTIPHASE else left
    return np.stack([left, right], axis=1)


def trial_audio(variant: int) -> np.ndarray:
    """(samples, 2) float: tone, gap, tone, gap, tone."""
    gap = np.zeros((round(GAP_SECONDS * SAMPLE_RATE), 2))
    parts = []
    for position, kind in enumerate(VARIANTS[variant]):
        if position:
            parts.append(gap)
        parts.append(_tone(kind))
    return np.concatenate(parts).astype(np.float32)


def trial_wav(variant: int) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, trial_audio(variant), SAMPLE_RATE, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def trial_order(rng) -> list[int]:
    """The six variants in a random order: each quiet position comes up twice."""
    order = list(range(len(VARIANTS)))
    rng.shuffle(order)
    return order


def score(order: list[int], answers: list[int | None]) -> int:
    return sum(
        1
        for variant, answer in zip(order, answers, strict=False)
        if answer == correct_answer(variant)
    )


def passed(order: list[int], answers: list[int | None]) -> bool:
    return score(order, answers) >= PASS_MARK
