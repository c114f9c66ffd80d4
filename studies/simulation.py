"""Simulated listeners: answers drawn from a stated model, for demos, load tests and
simulation-based power planning. Plain Python, no Django.

The model is a latent quality per heard clip,

    quality = system effect + listener leniency + clip effect + noise,

in standard-deviation units of the noise, with leniency ~ N(0, listener_sd^2) and clip
effects ~ N(0, clip_sd^2) drawn once per listener and once per clip. Every kind of answer
is read off the same quality: a rating is quality placed on the scale, "human?" is a
logistic draw, a preference compares the two clips' qualities, a style guess is right
more often for better clips. Attention checks are passed with probability ``attentive``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from studies.design import CONFIDENCE_LABELS, BlockKind


@dataclass(frozen=True)
class ListenerModel:
    system_effects: dict[str, float] = field(default_factory=dict)  # unnamed systems: 0
    human_effect: float = 1.0  # added for human reference systems without a stated effect
    listener_sd: float = 0.5
    clip_sd: float = 0.3
    noise_sd: float = 1.0
    attentive: float = 0.95
    seed: int = 0

    def __post_init__(self):
        for name in ("listener_sd", "clip_sd", "noise_sd"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} cannot be negative")
        if not 0 <= self.attentive <= 1:
            raise ValueError("attentive is a probability, between 0 and 1")

    def effect(self, system: str, *, human: bool) -> float:
        if system in self.system_effects:
            return self.system_effects[system]
        return self.human_effect if human else 0.0

    def describe(self) -> str:
        effects = ", ".join(f"{k} {v:+g}" for k, v in sorted(self.system_effects.items()))
        return (
            f"system effects: {effects or 'none stated'} (human references +"
            f"{self.human_effect:g} unless stated); listener SD {self.listener_sd:g}, "
            f"clip SD {self.clip_sd:g}, noise SD {self.noise_sd:g}; "
            f"{self.attentive:.0%} attentive; seed {self.seed}"
        )


@dataclass(frozen=True)
class Clip:
    id: int
    system: str
    human: bool
    style: str = ""


@dataclass(frozen=True)
class TrialView:
    kind: str
    clips: tuple[Clip, ...]
    scale_values: tuple[int, ...] = ()
    ask_human: bool = False
    ask_confidence: bool = False
    allow_no_preference: bool = False
    styles: tuple[str, ...] = ()
    expected: dict | None = None  # an attention check's instructed answer


def _logistic(x: float) -> float:
    return 1 / (1 + math.exp(-x))


class SimulatedListener:
    def __init__(self, model: ListenerModel, number: int):
        self.model = model
        self.rng = random.Random(f"{model.seed}:listener:{number}")
        self.leniency = self.rng.gauss(0, model.listener_sd)
        self.musical_training = self.rng.choice(range(6))
        self.attentive = self.rng.random() < model.attentive

    def _clip_effect(self, clip: Clip) -> float:
        # The same clip has the same effect for every listener of this model.
        return random.Random(f"{self.model.seed}:clip:{clip.id}").gauss(0, self.model.clip_sd)

    def quality(self, clip: Clip) -> float:
        return (
            self.model.effect(clip.system, human=clip.human)
            + self._clip_effect(clip)
            + self.rng.gauss(0, self.model.noise_sd)
        )

    def answer(self, trial: TrialView) -> dict:
        if trial.expected and self.attentive:
            answer = dict(trial.expected)
            if trial.kind == BlockKind.RATING and trial.ask_human:
                answer.setdefault("could_be_human", self.rng.random() < 0.5)
            if trial.kind == BlockKind.TURING and trial.ask_confidence:
                answer.setdefault("confidence", max(CONFIDENCE_LABELS))
            return answer
        if trial.kind == BlockKind.MUSHRA:
            return {"ratings": self._mushra(trial)}
        if trial.kind == BlockKind.ABX:
            return {"choice": self._abx(trial)}
        quality = self.quality(trial.clips[0])
        if trial.kind == BlockKind.RATING:
            return self._rating(trial, quality + self.leniency)
        if trial.kind == BlockKind.TURING:
            judged_human = self.rng.random() < _logistic(1.5 * quality)
            answer = {"judged_human": judged_human}
            if trial.ask_confidence:
                levels = sorted(CONFIDENCE_LABELS)
                sureness = min(abs(quality) / 2, 0.999)
                answer["confidence"] = levels[int(sureness * len(levels))]
            return answer
        if trial.kind == BlockKind.PAIRWISE:
            difference = quality - self.quality(trial.clips[1])
            if trial.allow_no_preference and abs(difference) < 0.1:
                return {"choice": "none"}
            first = self.rng.random() < _logistic(1.5 * difference)
            return {"choice": "first" if first else "second"}
        right = self.rng.random() < _logistic(quality + 0.5)
        truth = trial.clips[0].style
        if (right and truth in trial.styles) or len(trial.styles) < 2:
            return {"style": truth or trial.styles[0]}
        return {"style": self.rng.choice([s for s in trial.styles if s != truth])}

    def _mushra(self, trial: TrialView) -> list[int | None]:
        """A page's ratings: the hidden reference near the top (anywhere, for an inattentive
        listener), every other clip its quality placed on 0-100 below it."""
        reference = trial.clips[0]
        ratings: list[int | None] = [None]
        for clip in trial.clips[1:]:
            if clip.id == reference.id:
                value = (
                    100 - abs(self.rng.gauss(0, 4)) if self.attentive else self.rng.random() * 100
                )
            else:
                value = 55 + 15 * (self.quality(clip) + self.leniency)
            ratings.append(min(100, max(0, round(value))))
        return ratings

    def _abx(self, trial: TrialView) -> str:
        """Right more often the further apart A's and B's systems are."""
        a, b, x = trial.clips
        gap = abs(
            self.model.effect(a.system, human=a.human) - self.model.effect(b.system, human=b.human)
        )
        right = self.rng.random() < _logistic(1.5 * gap)
        x_is_a = x.system == a.system
        return "first" if right == x_is_a else "second"

    def _rating(self, trial: TrialView, quality: float) -> dict:
        low, high = min(trial.scale_values), max(trial.scale_values)
        # Quality 0 sits mid-scale and +-2 SD spans the scale.
        value = round((low + high) / 2 + quality * (high - low) / 4)
        answer = {"rating": min(high, max(low, value))}
        if trial.ask_human:
            answer["could_be_human"] = self.rng.random() < _logistic(1.5 * quality)
        return answer
