"""Group-sequential monitoring of a study's primary hypothesis: at each declared look (after
n1, n2, ... analysed listeners, in the order they finished) the primary contrast's z, the
look's boundary, and what to do: continue, stop for efficacy, or stop for futility."""

from __future__ import annotations

import math
from dataclasses import replace

from scipy import stats

from metrics.analysis.design import BlockDesign, Options
from metrics.analysis.results import PairwiseBlock, RatingBlock, SequentialLook, SequentialMonitor
from metrics.analysis.rows import known_listener_rows
from metrics.analysis.wording import p_text
from metrics.statistics.sequential import group_sequential_design, stagewise_p_value
from studies.design import SequentialSpec

SPENDING_NAMES = {
    "obrien-fleming": "O'Brien-Fleming-type (Lan-DeMets)",
    "pocock": "Pocock-type (Lan-DeMets)",
}


def finishing_order(rows: list[dict]) -> list[str]:
    """The listeners who finished, in the order they finished."""
    finished = {}
    for r in known_listener_rows(rows):
        if r.get("completed_at"):
            finished[r["participant"]] = r["completed_at"]
    return sorted(finished, key=lambda listener: (finished[listener], listener))


def monitor(
    plan: SequentialSpec, rows: list[dict], block: BlockDesign, options: Options, analyse_block
) -> SequentialMonitor:
    """``rows``: the answers the report analyses (exclusions applied); ``analyse_block``
    analyses one block's rows as the report does (rows -> its BlockResult)."""
    design = group_sequential_design(
        plan.information_rates,
        alpha=plan.alpha,
        sided=plan.sided,
        spending=plan.spending,
        futility=None if plan.futility is None else [plan.futility] * (len(plan.looks) - 1),
    )
    order = finishing_order(rows)
    looks, decision, decided_at = [], "continue", None
    for k, listeners in enumerate(plan.looks):
        look = SequentialLook(
            look=k + 1,
            listeners=listeners,
            information=design.information_rates[k],
            cumulative_alpha=design.cumulative_alpha[k],
            efficacy_z=design.efficacy[k],
            nominal_p=design.nominal_p(k),
            futility_z=design.futility[k] if k < len(plan.looks) - 1 else None,
        )
        if len(order) >= listeners and decided_at is None:
            chosen = set(order[:listeners])
            mine = [r for r in rows if r["participant"] in chosen and r["block"] == block.number]
            estimate, p = primary_contrast(analyse_block(mine), plan)
            if p is not None:
                z = math.copysign(stats.norm.isf(max(p, 1e-300) / 2), estimate)
                said = design.decision(k, z)
                if said == "efficacy" and z < 0:
                    said = "opposite"  # two-sided: ``than`` is the better one
                look = replace(look, estimate=estimate, p=p, z=z, decision=said)
                if look.decision != "continue":
                    decision, decided_at = look.decision, k
        looks.append(look)
    stagewise = None
    if decided_at is not None and looks[decided_at].z is not None:
        stagewise = stagewise_p_value(design, look=decided_at, z=looks[decided_at].z)
    next_look = next((n for n in plan.looks if n > len(order)), None)
    return SequentialMonitor(
        block=plan.block,
        better=plan.better,
        than=plan.than,
        measure="mean rating difference" if block.kind == "rating" else "preference share",
        alpha=plan.alpha,
        sided=plan.sided,
        spending=SPENDING_NAMES[plan.spending],
        futility=plan.futility,
        finished_listeners=len(order),
        looks=looks,
        decision=decision if decided_at is not None else "continue",
        decided_at_look=decided_at + 1 if decided_at is not None else None,
        next_look_at=None if decided_at is not None else next_look,
        stagewise_p=stagewise,
        sentence=_sentence(plan, looks, decided_at, next_look, len(order), stagewise),
    )


def primary_contrast(result, plan: SequentialSpec) -> tuple[float | None, float | None]:
    """The primary contrast (``better`` minus ``than``, or the share preferring ``better``
    less 1/2) and its model-based two-sided p value, from one block's analysis."""
    if isinstance(result, RatingBlock):
        for pair in result.pairwise:
            if {pair.first, pair.second} == {plan.better, plan.than}:
                if pair.difference is None or pair.p_model is None:
                    return None, None
                sign = 1 if pair.first == plan.better else -1
                return sign * pair.difference, pair.p_model
    if isinstance(result, PairwiseBlock):
        for pair in result.pairs:
            if {pair.first, pair.second} == {plan.better, plan.than}:
                if pair.model_share is None or pair.p_model is None:
                    return None, None
                share = pair.model_share if pair.first == plan.better else 1 - pair.model_share
                return share - 0.5, pair.p_model
    return None, None


def _sentence(plan, looks, decided_at, next_look, finished, stagewise) -> str:
    hypothesis = f"{plan.better} over {plan.than} (block {plan.block})"
    if decided_at is None:
        reached = [look for look in looks if look.z is not None]
        if next_look is None:
            return f"All looks are reached for {hypothesis}, but no statistic could be computed."
        done = f"; look {reached[-1].look} said continue" if reached else ""
        return (
            f"{finished} listener{'s' if finished != 1 else ''} finished{done}: continue "
            f"to the next look at {next_look} listeners for {hypothesis}."
        )
    look = looks[decided_at]
    if look.decision == "opposite":
        return (
            f"Stop at look {look.look} ({look.listeners} listeners): z = {look.z:.2f} crossed "
            f"the lower boundary {-look.efficacy_z:.2f}, the opposite of the hypothesis: "
            f"{plan.than} is ahead of {plan.better} (block {plan.block}); the stage-wise "
            f"adjusted {p_text(stagewise)}."
        )
    if look.decision == "efficacy":
        return (
            f"Stop for efficacy at look {look.look} ({look.listeners} listeners): z = "
            f"{look.z:.2f} crossed the boundary {look.efficacy_z:.2f} for {hypothesis}; the "
            f"stage-wise adjusted {p_text(stagewise)}."
        )
    if look.look == len(looks):
        return (
            f"The last look ({look.listeners} listeners) did not cross its boundary: z = "
            f"{look.z:.2f} < {look.efficacy_z:.2f}; the null hypothesis for {hypothesis} is "
            f"kept (stage-wise adjusted {p_text(stagewise)})."
        )
    return (
        f"Stop for futility at look {look.look} ({look.listeners} listeners): z = "
        f"{look.z:.2f} is below the futility bound {look.futility_z:.2f} for {hypothesis} "
        "(a non-binding bound: continuing would not inflate the type I error)."
    )
