"""Whether a listener heard what they answered, from what the server saw (plain Python).

A browser's own timings (plays, listening_seconds) are whatever a script sends. The server
knows when it sent the trial page and each clip's bytes, and when the answer arrived: an
answer is only possible after every clip was fetched and had time to play to its end.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from studies.design import MUSHRA_REFERENCE_FLOOR, MUSHRA_REFERENCE_MISS_SHARE
from studies.text import gettext_noop

# Clock granularity and rounding between the server's timestamps; a browser that plays the
# clips always needs their full length on top of this.
TIMING_TOLERANCE_SECONDS = 0.25
# A block answered with one value throughout is only telling with enough answers in it.
STRAIGHT_LINE_MIN_ANSWERS = 5

REASON_UNHEARD = "answered before the clips could be heard"
REASON_SPEEDER = "answered faster than the study's floor (median)"
REASON_STRAIGHT_LINER = "gave one answer throughout a block"
REASON_MUSHRA_REFERENCE = (
    f"rated the hidden reference below {MUSHRA_REFERENCE_FLOOR} on more than "
    f"{MUSHRA_REFERENCE_MISS_SHARE:.0%} of MUSHRA pages"
)


@dataclass(frozen=True, kw_only=True)
class ClipTiming:
    duration_seconds: float
    first_served_at: datetime | None


def unheard_reason(
    *, shown_at: datetime | None, clips: Sequence[ClipTiming], answered_at: datetime
) -> str:
    """Why this answer cannot follow a hearing of its clips, in the participant's words;
    empty when it can."""
    one = len(clips) == 1
    if shown_at is None or any(clip.first_served_at is None for clip in clips):
        return (
            gettext_noop(
                "Your browser has not loaded the clip yet, so nothing was saved. Please play "
                "the clip to the end, then answer."
            )
            if one
            else gettext_noop(
                "Your browser has not loaded each clip yet, so nothing was saved. Please play "
                "each clip to the end, then answer."
            )
        )
    needed = playing_seconds(clips)
    if (answered_at - shown_at).total_seconds() + TIMING_TOLERANCE_SECONDS < needed or any(
        (answered_at - clip.first_served_at).total_seconds() + TIMING_TOLERANCE_SECONDS
        < clip.duration_seconds
        for clip in clips
    ):
        return (
            gettext_noop(
                "Your answer came sooner than the clip could have been played, so nothing was "
                "saved. Please listen to the clip to the end, then answer."
            )
            if one
            else gettext_noop(
                "Your answer came sooner than each clip could have been played, so nothing "
                "was saved. Please listen to each clip to the end, then answer."
            )
        )
    return ""


def playing_seconds(clips: Sequence[ClipTiming]) -> float:
    """How long a trial's clips take to play once each, one after the other."""
    return sum(clip.duration_seconds for clip in clips)


@dataclass(frozen=True, kw_only=True)
class AnsweredTrial:
    """One web answer as the flags need it."""

    block: int
    block_kind: str
    main: bool  # not a check or a repeat
    value: object  # the answer itself (rating, choice, style, verdict, a page's ratings)
    # A post-screened MUSHRA page: its hidden reference's rating; otherwise None.
    hidden_reference: int | None = None
    seconds_after_clips: float | None  # server time from page to answer, less the clips
    too_fast: bool


def listener_flags(answers: Sequence[AnsweredTrial], *, speeder_floor_seconds: float) -> list[str]:
    """The exclusion reasons a listener's whole set of answers earns."""
    flags = []
    if any(answer.too_fast for answer in answers):
        flags.append(REASON_UNHEARD)
    timed = [a.seconds_after_clips for a in answers if a.seconds_after_clips is not None]
    if speeder_floor_seconds > 0 and timed and statistics.median(timed) < speeder_floor_seconds:
        flags.append(REASON_SPEEDER)
    if any(_straight_lined(block) for block in _main_answers_by_block(answers)):
        flags.append(REASON_STRAIGHT_LINER)
    if mushra_reference_missed(
        [a.hidden_reference for a in answers if a.main and a.hidden_reference is not None]
    ):
        flags.append(REASON_MUSHRA_REFERENCE)
    return flags


def hidden_reference_rating(stimuli: Sequence[int], ratings: Sequence) -> int | None:
    """A MUSHRA page's rating of its hidden reference: the rated slot (1 on) whose clip is
    the open reference's (slot 0) again. ``stimuli``: the page's clips in slot order."""
    for slot in range(1, min(len(stimuli), len(ratings))):
        if stimuli[slot] == stimuli[0]:
            return ratings[slot]
    return None


def mushra_reference_missed(hidden_ratings: Sequence[int]) -> bool:
    """ITU-R BS.1534's post-screening: the hidden reference rated below 90 on more than 15%
    of a listener's post-screened MUSHRA pages (``hidden_ratings``, one per page)."""
    missed = sum(rating < MUSHRA_REFERENCE_FLOOR for rating in hidden_ratings)
    return bool(hidden_ratings) and missed > MUSHRA_REFERENCE_MISS_SHARE * len(hidden_ratings)


def _main_answers_by_block(answers: Sequence[AnsweredTrial]) -> list[list[AnsweredTrial]]:
    blocks: dict[int, list[AnsweredTrial]] = {}
    for answer in answers:
        if answer.main:
            blocks.setdefault(answer.block, []).append(answer)
    return list(blocks.values())


def _straight_lined(block: list[AnsweredTrial]) -> bool:
    # Human-or-machine verdicts are left out: a sceptic may honestly say "machine" to all.
    if len(block) < STRAIGHT_LINE_MIN_ANSWERS or block[0].block_kind == "turing":
        return False
    return len({answer.value for answer in block}) == 1
