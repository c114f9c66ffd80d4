"""ABX blocks: is X from A's source or B's? Per compared system, how often listeners told
its music from the reference's: pooled counts with Wilson intervals and exact tests against
guessing (50%), beside a logit mixed model of the answers with crossed listener and X-clip
intercepts (as lme4's glmer(correct ~ 0 + system + (1 | listener) + (1 | clip), binomial))."""

from __future__ import annotations

import numpy as np

from metrics.analysis.agreement import listener_agreement
from metrics.analysis.binary import binary_summary, fit_binary_model
from metrics.analysis.design import BlockDesign, Options
from metrics.analysis.results import AbxSystem
from metrics.analysis.wording import p_text, percent
from metrics.statistics.proportions import binomial_test, wilson_interval


def abx_rows(block: BlockDesign, rows: list[dict]) -> list[dict]:
    """Each answer named by its compared system (the one of A and B that is not the
    reference) and its X clip: what the model's system and clip factors read."""
    named = []
    for r in rows:
        if r.get("correct") is None:
            continue
        compared = r["second_system"] if r["system"] == block.reference else r["system"]
        named.append({**r, "system": compared, "stimulus": r["x_stimulus"]})
    return named


def analyse_abx(block: BlockDesign, rows: list[dict], options: Options) -> dict:
    """The ABX block's own fields of an AbxBlock."""
    rows = abx_rows(block, rows)
    systems = [
        s for s in block.systems if s != block.reference and any(r["system"] == s for r in rows)
    ]
    notes = []
    model = fit_binary_model(
        rows, systems, lambda r: int(bool(r["correct"])), notes, what="on matching X"
    )
    table = []
    for system in systems:
        answers = [bool(r["correct"]) for r in rows if r["system"] == system]
        pooled = wilson_interval(sum(answers), len(answers), confidence=options.confidence)
        entry = {
            "system": system,
            "correct": sum(answers),
            "n": len(answers),
            "share": pooled.share,
            "low": pooled.low,
            "high": pooled.high,
            "p_binomial": binomial_test(sum(answers), len(answers)).p_value,
            "model_share": None,
            "model_low": None,
            "model_high": None,
            "model_p": None,
        }
        if model is not None and system in model.systems:
            share = model.share(model.weights(system), confidence=options.confidence)
            entry.update(
                model_share=share.share,
                model_low=share.low,
                model_high=share.high,
                model_p=share.p_value,
            )
        alpha = 1 - options.confidence
        sentence = _sentence(entry, block.reference, alpha)
        table.append(AbxSystem(**entry, sentence=sentence))
    return {
        "notes": notes,
        "reference": block.reference,
        "systems_table": table,
        "model": binary_summary(model),
        "agreement": listener_agreement(
            [{**r, "stimulus": (r["stimulus"], r["system"])} for r in rows],
            "correct",
            "nominal",
        ),
    }


def _sentence(entry: dict, reference: str, alpha: float) -> str:
    modelled = entry["model_share"] is not None
    share = entry["model_share"] if modelled else entry["share"]
    low = entry["model_low"] if modelled else entry["low"]
    high = entry["model_high"] if modelled else entry["high"]
    p = entry["model_p"] if modelled else entry["p_binomial"]
    if share is None or not np.isfinite(share):
        return f"{entry['system']}: no answers."
    if p is not None and p < alpha:
        told = "told apart from" if share > 0.5 else "confused, more often than not, with"
    else:
        told = "not shown to be told apart from"
    return (
        f"Listeners matched X in {percent(share)} of {entry['system']} trials ({1 - alpha:.0%} CI "
        f"{percent(low)} to {percent(high)}; guessing gives 50%, {p_text(p)}): "
        f"{entry['system']} was {told} {reference}."
    )
