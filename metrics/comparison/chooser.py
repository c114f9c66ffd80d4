"""Which checkpoint of a run to keep: the one the validation loss picks beside the one
listeners pick, and whether listeners could tell the two apart."""

from __future__ import annotations

from collections import defaultdict

from metrics.comparison.measures import LISTENER_INTERVALS, LISTENER_MEASURES
from metrics.comparison.results import Chooser, Entry


def choosers(entries: list[Entry]) -> list[Chooser]:
    """Per run with two or more compared checkpoints: the best by validation loss and the
    best by what listeners said (the first measure all its heard checkpoints share)."""
    by_run = defaultdict(list)
    for entry in entries:
        if entry.checkpoint.run:
            by_run[entry.checkpoint.run].append(entry)
    out = []
    for run_id, run_entries in by_run.items():
        steps = {e.checkpoint.step for e in run_entries}
        if len(steps) < 2:
            continue
        with_loss = [e for e in run_entries if e.training.valid_loss is not None]
        best_loss = min(
            with_loss, key=lambda e: (e.training.valid_loss, e.checkpoint.step), default=None
        )
        best_listened = measure = None
        for candidate in ("rating", "human_share", "strength"):
            heard = [e for e in run_entries if (e.listeners or {}).get(candidate) is not None]
            if len({e.checkpoint.step for e in heard}) >= 2:
                measure = candidate
                best_listened = max(
                    heard, key=lambda e: (e.listeners[candidate], -e.checkpoint.step)
                )
                break
        agree = None
        verdict = None
        if best_loss and best_listened:
            agree = best_loss.checkpoint.step == best_listened.checkpoint.step
            verdict = "agree" if agree else _verdict(best_loss, best_listened, measure)
            if verdict == "tie":
                agree = None
        out.append(
            Chooser(
                run=run_id,
                run_label=run_entries[0].checkpoint.run_label,
                steps=sorted(steps),
                best_by_loss=best_loss.key if best_loss else None,
                best_by_loss_step=best_loss.checkpoint.step if best_loss else None,
                run_best_step=run_entries[0].checkpoint.run_best_step,
                listener_measure=measure,
                listener_measure_title=LISTENER_MEASURES.get(measure),
                best_by_listeners=best_listened.key if best_listened else None,
                best_by_listeners_step=best_listened.checkpoint.step if best_listened else None,
                agree=agree,
                verdict=verdict,
            )
        )
    return out


def _verdict(best_loss: Entry, best_listened: Entry, measure: str) -> str:
    """ "disagree" only when listeners told the two checkpoints apart: equal values, or
    intervals that overlap, are a tie, not a disagreement."""
    by_loss = best_loss.listeners or {}
    by_listeners = best_listened.listeners
    if by_loss.get(measure) is None:
        return "disagree"
    if by_loss[measure] == by_listeners[measure]:
        return "tie"
    low_key, high_key = LISTENER_INTERVALS[measure]
    lows = (by_loss.get(low_key), by_listeners.get(low_key))
    highs = (by_loss.get(high_key), by_listeners.get(high_key))
    if None in lows or None in highs:
        return "disagree"
    # The loss's pick is worse by listeners; a tie if its upper end reaches the best's lower.
    return "tie" if highs[0] >= lows[1] else "disagree"
