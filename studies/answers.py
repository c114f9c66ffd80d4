"""Checking what a participant's browser sent (plain Python, no Django).

Every field is parsed from strings and checked against the block's options, so a
tampered form gets a clear message and nothing half-valid is stored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from studies.design import CONFIDENCE_LABELS, MUSHRA_MAX, BlockKind, scale_values
from studies.text import gettext_noop

QUESTIONNAIRE = {
    "age_band": ["18-24", "25-34", "35-44", "45-54", "55-64", "65+", "no answer"],
    "listening_device": ["headphones", "earbuds", "speakers", "laptop", "phone", "other"],
}
MUSICAL_TRAINING = {
    0: gettext_noop("none"),
    1: gettext_noop("less than a year"),
    2: gettext_noop("1-3 years"),
    3: gettext_noop("3-5 years"),
    4: gettext_noop("5-10 years"),
    5: gettext_noop("more than 10 years, or professional"),
}
# How the questionnaire's stored values read to participants.
QUESTIONNAIRE_LABELS = {
    "no answer": gettext_noop("no answer"),
    "headphones": gettext_noop("Headphones"),
    "earbuds": gettext_noop("Earbuds"),
    "speakers": gettext_noop("Speakers"),
    "laptop": gettext_noop("Laptop"),
    "phone": gettext_noop("Phone"),
    "other": gettext_noop("Other"),
}
MAX_SECONDS = 24 * 3600.0


class AnswerError(ValueError):
    """What to show the participant; nothing was stored. The message is English with
    %(name)s placeholders filled from ``params``: the participant pages translate the
    message, then fill it (``str(error)`` is the English, for logs and imports)."""

    def __init__(self, message: str, **params) -> None:
        self.message, self.params = message, params
        super().__init__(self.in_language(str))

    def in_language(self, translate) -> str:
        """The message through ``translate`` (gettext, for a participant), then filled."""
        message = translate(self.message)
        return message % self.params if self.params else message


class AnswerConflict(AnswerError):
    """The answer is well formed but does not fit where the participant is: a different
    answer for a clip already answered, or an answer for a clip not yet reached."""


@dataclass(frozen=True)
class BlockOptions:
    kind: BlockKind
    scale: str = "1-10"
    ask_human: bool = False
    ask_confidence: bool = False
    allow_no_preference: bool = False
    styles: tuple[str, ...] = ()


def _choice(raw: Mapping[str, str], name: str, allowed, missing: str):
    """The option chosen; ``missing``: the whole request shown when there is none."""
    value = (raw.get(name) or "").strip()
    if not value:
        raise AnswerError(missing)
    for option in allowed:
        if str(option) == value:
            return option
    raise AnswerError(
        gettext_noop("%(value)s is not one of the answers offered here."), value=repr(value)[:60]
    )


def _yes_no(raw: Mapping[str, str], name: str, missing: str) -> bool:
    return _choice(raw, name, ["yes", "no"], missing) == "yes"


def parse_answer(options: BlockOptions, raw: Mapping[str, str], *, clips: int = 1) -> dict:
    """Response fields from the submitted form, or AnswerError. ``clips``: how many clips
    the trial plays (a MUSHRA page rates every one after the open reference)."""
    if options.kind == BlockKind.MUSHRA:
        return {"ratings": [None] + [_slider(raw, slot) for slot in range(1, clips)]}
    if options.kind == BlockKind.ABX:
        return {
            "choice": _choice(
                raw,
                "choice",
                ["first", "second"],
                gettext_noop("Please say whether X is from A's source or B's."),
            )
        }
    if options.kind == BlockKind.RATING:
        ratings = scale_values(options.scale)
        answer = {
            "rating": _choice(raw, "rating", ratings, gettext_noop("Please choose a rating."))
        }
        if options.ask_human:
            answer["could_be_human"] = _yes_no(
                raw,
                "could_be_human",
                gettext_noop("Please choose whether a human could have composed it."),
            )
        return answer
    if options.kind == BlockKind.TURING:
        verdict = _choice(
            raw, "judged", ["human", "machine"], gettext_noop("Please choose human or machine.")
        )
        answer = {"judged_human": verdict == "human"}
        if options.ask_confidence:
            answer["confidence"] = _choice(
                raw,
                "confidence",
                list(CONFIDENCE_LABELS),
                gettext_noop("Please choose how sure you are."),
            )
        return answer
    if options.kind == BlockKind.PAIRWISE:
        allowed = ["first", "second"] + (["none"] if options.allow_no_preference else [])
        return {
            "choice": _choice(
                raw, "choice", allowed, gettext_noop("Please choose the clip you prefer.")
            )
        }
    return {
        "style": _choice(raw, "style", list(options.styles), gettext_noop("Please choose a style."))
    }


def _slider(raw: Mapping[str, str], slot: int) -> int:
    """One MUSHRA slider's 0-100 rating."""
    text = (raw.get(f"rating_{slot}") or "").strip()
    if not text:
        raise AnswerError(gettext_noop("Please rate every clip on the page."))
    try:
        value = int(text)
    except ValueError:
        raise AnswerError(
            gettext_noop("%(value)s is not one of the answers offered here."),
            value=repr(text)[:60],
        ) from None
    if not 0 <= value <= MUSHRA_MAX:
        raise AnswerError(gettext_noop("Ratings go from 0 to 100."))
    return value


def check_passed(expected: Mapping | None, answer: Mapping) -> bool | None:
    """Whether an instructed-answer check got the answer it asked for (None: not a check)."""
    if not expected:
        return None
    return all(answer.get(key) == value for key, value in expected.items())


def _seconds(raw: Mapping[str, str], name: str) -> float | None:
    return seconds_value(raw.get(name), name)


def seconds_value(value, name: str) -> float | None:
    """A duration as the participant form and the answer import both accept it."""
    text = str(value if value is not None else "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise AnswerError(gettext_noop("%(name)s is not a number."), name=name) from None
    if not math.isfinite(value) or value < 0:
        raise AnswerError(gettext_noop("%(name)s must be a non-negative number."), name=name)
    return min(value, MAX_SECONDS)


def parse_listening(raw: Mapping[str, str], n_clips: int) -> dict:
    """Play counts and timings; every clip must have been played to its end."""
    plays = []
    for index in range(n_clips):
        try:
            count = int(raw.get(f"plays_{index}") or 0)
        except ValueError:
            raise AnswerError(gettext_noop("Play counts must be whole numbers.")) from None
        ended = raw.get(f"ended_{index}") == "1"
        if count < 1 or not ended:
            raise AnswerError(
                gettext_noop("Please listen to each clip to the end before answering.")
                if n_clips > 1
                else gettext_noop("Please listen to the clip to the end before answering.")
            )
        plays.append(min(count, 1000))
    return {
        "plays": plays,
        "listening_seconds": _seconds(raw, "listening_seconds"),
        "response_seconds": _seconds(raw, "response_seconds"),
        "trial_seconds": _seconds(raw, "trial_seconds"),
    }


def parse_questionnaire(raw: Mapping[str, str]) -> dict:
    answers = {
        "age_band": _choice(raw, "age_band", QUESTIONNAIRE["age_band"], "your age"),
        "listening_device": _choice(
            raw, "listening_device", QUESTIONNAIRE["listening_device"], "what you listen with"
        ),
    }
    answers["musical_training"] = _choice(
        raw, "musical_training", list(MUSICAL_TRAINING), "your musical training"
    )
    return answers


def exclusion_reasons(
    *, screen_passed: bool | None, screen_score: int | None, checks_failed: int, checks_total: int
) -> list[str]:
    reasons = []
    if screen_passed is False:
        reasons.append(f"failed the headphone screen ({screen_score} of 6 correct)")
    if checks_failed:
        reasons.append(f"failed {checks_failed} of {checks_total} attention checks")
    return reasons
