"""A study's answers, analysed block by block: the entry point."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np

from metrics.analysis.abx import analyse_abx
from metrics.analysis.common import share_of
from metrics.analysis.design import TRAINING_GROUPS, BlockDesign, Options
from metrics.analysis.headline import headline, significant_pairs
from metrics.analysis.mushra import analyse_mushra
from metrics.analysis.pairwise import analyse_pairwise
from metrics.analysis.ratings import analyse_ratings
from metrics.analysis.results import (
    AbxBlock,
    Analysis,
    ChecksSummary,
    ListenerSummary,
    MushraBlock,
    PairwiseBlock,
    RatingBlock,
    StyleBlock,
    TuringBlock,
    UnansweredBlock,
)
from metrics.analysis.rows import kept_rows, known_listener_rows, main_trials
from metrics.analysis.style import analyse_style
from metrics.analysis.turing import analyse_turing
from metrics.statistics.multiple import METHODS
from metrics.statistics.proportions import wilson_interval
from studies.integrity import REASON_MUSHRA_REFERENCE

# Block kind -> (its analyser, the result it fills in).
ANALYSERS = {
    "rating": (analyse_ratings, RatingBlock),
    "turing": (analyse_turing, TuringBlock),
    "pairwise": (analyse_pairwise, PairwiseBlock),
    "style": (analyse_style, StyleBlock),
    "mushra": (analyse_mushra, MushraBlock),
    "abx": (analyse_abx, AbxBlock),
}


def analyse(
    rows: list[dict],
    blocks: list[BlockDesign],
    *,
    include_simulated: bool = False,
    options: Options | None = None,
) -> Analysis:
    """Analyse every block. ``rows`` are all answers, previews already left out; answers
    from excluded listeners (failed screen or checks, when the study excludes them) and
    from simulated listeners (unless asked) are dropped here, and counted."""
    options = options or Options()
    kept = kept_rows(rows, include_simulated=include_simulated)
    main = main_trials(kept)
    considered = rows if include_simulated else [r for r in rows if not r.get("simulated")]
    return Analysis(
        confidence=options.confidence,
        dprime_correction=options.dprime_correction,
        correction=METHODS[options.correction],
        include_simulated=include_simulated,
        listeners=_listener_summary(rows, include_simulated),
        blocks=[
            _analyse_block(
                block,
                [r for r in main if r["block"] == block.number],
                [r for r in kept if r["block"] == block.number],
                options,
                post_screened=_post_screened(considered, block),
            )
            for block in blocks
        ],
    )


def _post_screened(rows: list[dict], block: BlockDesign) -> int:
    """Listeners of a post-screened MUSHRA block whom the post-screening excluded."""
    if not block.post_screening:
        return 0
    return len(
        {
            r["participant"]
            for r in rows
            if r["block"] == block.number
            and r.get("excluded")
            and REASON_MUSHRA_REFERENCE in (r.get("exclusion_reasons") or "")
        }
    )


def _analyse_block(
    block: BlockDesign, main_rows, kept_rows_of_block, options: Options, *, post_screened=0
):
    common = {
        "number": block.number,
        "kind": block.kind,
        "title": block.title,
        "systems": block.systems,
        "human_systems": block.human_systems,
        "answers": len(main_rows),
        "listeners": len({r["participant"] for r in known_listener_rows(main_rows)}),
        "notes": [],
    }
    checks = _checks_and_repeats(block, kept_rows_of_block)
    if not main_rows:
        return UnansweredBlock(**{**common, "notes": ["No answers yet."]}, checks=checks)
    analyser, result_class = ANALYSERS[block.kind]
    result = result_class(**{**common, **analyser(block, main_rows, options)}, checks=checks)
    counted = len(main_rows) - len(known_listener_rows(main_rows))
    if counted:
        result = replace(result, notes=[_counted_note(counted, len(main_rows)), *result.notes])
    if isinstance(result, MushraBlock):
        result = replace(result, post_screened=post_screened)
    if isinstance(result, RatingBlock):
        result = replace(result, significant_pairs=significant_pairs(result, options))
    return replace(result, headline=headline(result, options))


def _counted_note(counted: int, answers: int) -> str:
    return (
        f"{counted} of the {answers} answers were imported as counts per clip, with no "
        "listener identity. Models with a listener effect cannot be fitted on them: the "
        "mixed models here have a clip effect only (no listener intercept, no "
        "listener-by-system term, an ordinal model without listeners), and the per-listener "
        "analyses (listener means and their tests, intraclass correlations, results by "
        "musical training) use only the answers of known listeners."
    )


def _listener_summary(rows: list[dict], include_simulated: bool) -> ListenerSummary:
    by_listener: dict[str, dict] = {}
    for r in known_listener_rows(rows):
        by_listener.setdefault(r["participant"], r)
    simulated = sum(1 for r in by_listener.values() if r.get("simulated"))
    considered = [r for r in by_listener.values() if include_simulated or not r.get("simulated")]
    excluded = [r for r in considered if r.get("excluded")]
    reasons = Counter()
    for r in excluded:
        for reason in (r.get("exclusion_reasons") or "").split("; "):
            if reason:
                reasons[reason] += 1
    training = Counter(
        next(
            (
                name
                for name, levels in TRAINING_GROUPS.items()
                if r.get("musical_training") in levels
            ),
            "not asked",
        )
        for r in considered
        if not r.get("excluded")
    )
    return ListenerSummary(
        with_answers=len(considered),
        analysed=len(considered) - len(excluded),
        excluded=len(excluded),
        exclusion_reasons=dict(reasons.most_common()),
        simulated=simulated,
        simulated_left_out=0 if include_simulated else simulated,
        musical_training=dict(training),
        counted_answers=len(rows) - len(known_listener_rows(rows)),
    )


def _checks_and_repeats(block: BlockDesign, rows: list[dict]) -> ChecksSummary:
    checks = [r for r in rows if r.get("trial_kind") == "instructed"]
    repeats = [r for r in rows if r.get("trial_kind") == "repeat"]
    by_trial = {(r["participant"], r["trial"]): r for r in rows}
    agreements, differences = [], []
    for r in repeats:
        original = by_trial.get((r["participant"], r.get("repeat_of_trial")))
        if original is None:
            continue
        if block.kind == "rating" and r.get("rating") is not None:
            differences.append(abs(r["rating"] - original["rating"]))
        else:
            key = {"turing": "judged_human", "pairwise": "preferred_system", "abx": "choice"}.get(
                block.kind, "style_answer"
            )
            agreements.append(r.get(key) == original.get(key))
    passed = sum(1 for r in checks if r.get("passed_check"))
    return ChecksSummary(
        instructed=len(checks),
        instructed_passed=passed,
        repeats=len(agreements) + len(differences),
        repeat_same_answer=share_of(wilson_interval(sum(agreements), len(agreements)))
        if agreements
        else None,
        repeat_mean_rating_change=float(np.mean(differences)) if differences else None,
    )
