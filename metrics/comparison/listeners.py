"""What listeners said, read from a study's report: per system (the rating, the share
judged human, the Bradley-Terry strength) and per clip."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from metrics.analysis import kept_rows, main_trials
from metrics.analysis.results import MushraBlock, PairwiseBlock, RatingBlock, Report
from metrics.comparison.results import ListenerFigures
from metrics.reports import human_shares
from studies.models import Study


def studies_with(checkpoints, among=None) -> list[Study]:
    """Studies (of `among`, default all) in which any of these checkpoints' samples were
    heard, newest first."""
    studies = Study.objects.all() if among is None else among
    return list(
        studies.filter(systems__sample_set__checkpoint__in=checkpoints)
        .distinct()
        .order_by("-created_at")
    )


def has_real_listeners(study: Study) -> bool:
    return study.participants.filter(
        is_preview=False, is_simulated=False, trials__response__isnull=False
    ).exists()


def listener_figures(report: Report) -> dict[str, ListenerFigures]:
    """Per system name: the first rating block's mean (mixed-model CI), the judged-human
    share (a Turing block's, else a rating block's "could a human have composed this?"),
    and the first pairwise block's Bradley-Terry strength."""
    results: dict[str, ListenerFigures] = defaultdict(dict)
    for block in report.blocks:
        # A MUSHRA block's 0-100 scores are not put beside another block's ratings.
        if isinstance(block, RatingBlock) and not isinstance(block, MushraBlock):
            for row in block.systems_table:
                if "rating" in results[row.system]:
                    continue
                modelled = row.model_mean is not None
                results[row.system].update(
                    rating=row.model_mean if modelled else row.mean,
                    rating_low=row.model_low if modelled else row.listener_t_low,
                    rating_high=row.model_high if modelled else row.listener_t_high,
                    rating_answers=row.answers,
                    rating_scale=list(block.scale) if block.scale else None,
                )
        shares = human_shares(block)
        if shares and shares.systems_table:
            for row in shares.systems_table:
                current = results[row.system]
                # The first Turing block's direct question wins over a rating block's side
                # question; a rating block counts only when nothing came before it.
                taken_from = current.get("human_from")
                if taken_from == "turing" or (taken_from and block.kind != "turing"):
                    continue
                # The listener- and clip-aware share where the model could be fitted.
                modelled = row.model_share is not None
                current.update(
                    human_share=row.model_share if modelled else row.share,
                    human_low=row.model_low if modelled else row.low,
                    human_high=row.model_high if modelled else row.high,
                    human_answers=row.n,
                    human_from=block.kind,
                    human_question=shares.question,
                )
        if isinstance(block, PairwiseBlock):
            bt = block.bradley_terry
            if not bt.estimable:
                continue
            for row in bt.strengths:
                if "strength" in results[row.system]:
                    continue
                is_reference = row.system == bt.reference
                results[row.system].update(
                    strength=row.ability,
                    # The reference is fixed at 0: it has no interval of its own.
                    strength_low=None if is_reference else row.low,
                    strength_high=None if is_reference else row.high,
                    strength_reference=bt.reference,
                )
    return dict(results)


def stimulus_answers(answer_rows: list[dict], include_simulated: bool) -> dict[int, dict]:
    """Per stimulus: its mean rating (in the first rating block that played it) and its
    judged-human share (Turing answers, else "could a human..." answers), from the answers
    the report counts."""
    rows = main_trials(kept_rows(answer_rows, include_simulated=include_simulated))
    ratings: dict[int, list] = defaultdict(list)
    judged: dict[int, list] = defaultdict(list)
    could_be: dict[int, list] = defaultdict(list)
    # Two rating blocks may use different scales: a clip's ratings come from one block.
    rating_block: dict[int, int] = {}
    for row in rows:
        stimulus = row["stimulus"]
        if row.get("rating") is not None:
            block = rating_block.setdefault(stimulus, row["block"])
            if block > row["block"]:
                rating_block[stimulus] = row["block"]
                ratings[stimulus] = []
            if row["block"] == rating_block[stimulus]:
                ratings[stimulus].append(row["rating"])
        if row.get("judged_human") is not None:
            judged[stimulus].append(bool(row["judged_human"]))
        if row.get("could_be_human") is not None:
            could_be[stimulus].append(bool(row["could_be_human"]))
    out = {}
    for stimulus in set(ratings) | set(judged) | set(could_be):
        human = judged.get(stimulus) or could_be.get(stimulus)
        out[stimulus] = {
            "rating": float(np.mean(ratings[stimulus])) if ratings.get(stimulus) else None,
            "human_share": float(np.mean(human)) if human else None,
            "answers": len(ratings.get(stimulus, [])) + len(human or []),
        }
    return out
