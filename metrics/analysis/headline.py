"""The one-screen summary of a block: one table and one sentence, the estimate a reader
looks for first."""

from __future__ import annotations

from metrics.analysis.design import Options
from metrics.analysis.results import (
    AbxBlock,
    BinaryModelSummary,
    BlockResult,
    Headline,
    HeadlineRow,
    MushraBlock,
    PairwiseBlock,
    RatingBlock,
    ShareHeadlineRow,
    StyleBlock,
    TuringBlock,
)
from metrics.analysis.wording import percent, plural
from metrics.statistics.multiple import METHODS


def headline(block: BlockResult, options: Options) -> Headline | None:
    alpha = 1 - options.confidence
    if isinstance(block, RatingBlock) and block.systems_table:
        return _headline(block, **_rating_headline(block, alpha))
    if isinstance(block, AbxBlock) and block.systems_table:
        return _headline(block, **_abx_headline(block, alpha))
    if isinstance(block, TuringBlock) and block.systems_table:
        return _headline(block, **_turing_headline(block, alpha))
    if isinstance(block, PairwiseBlock) and block.pairs:
        return _headline(block, **_pairwise_headline(block, alpha, options))
    if isinstance(block, StyleBlock) and block.by_system:
        return _headline(block, **_style_headline(block))
    return None


def _headline(block, *, rows, measure, method, finding) -> Headline:
    return Headline(
        measure=measure,
        method=method,
        rows=rows,
        finding=finding,
        listeners=block.listeners,
        answers=block.answers,
    )


def _rating_headline(block: RatingBlock, alpha: float) -> dict:
    rows = []
    for s in block.systems_table:
        modelled = s.model_mean is not None
        rows.append(
            HeadlineRow(
                label=s.system,
                human=s.human,
                estimate=s.model_mean if modelled else s.mean,
                low=s.model_low if modelled else s.listener_t_low,
                high=s.model_high if modelled else s.listener_t_high,
                n=s.answers,
            )
        )
    model = block.model
    return {
        "rows": rows,
        "measure": "mean MUSHRA score (0-100)" if isinstance(block, MushraBlock) else "mean rating",
        "method": f"linear mixed model {model.formula}; {model.tests}"
        if model
        else "no model (see the notes): per-listener t intervals where there are any",
        "finding": (block.omnibus.sentence or "") if block.omnibus else "",
    }


def significant_pairs(block: RatingBlock, options: Options) -> list[str]:
    """The sentences of the rating comparisons whose model test survives the correction."""
    return _significant_sentences(block.pairwise, 1 - options.confidence)


def _turing_headline(block: TuringBlock, alpha: float) -> dict:
    rows = [_share_row(s, s.system, s.human, p=s.p_model_vs_human) for s in block.systems_table]
    machine = [r for r in rows if not r.human and r.p is not None and r.p < alpha]
    return {
        "rows": rows,
        "measure": "share judged human",
        "method": _binary_method(block.model),
        "finding": (
            f"{plural(len(machine), 'system')} judged human less (or more) often than the "
            f"human clips at the {percent(alpha, 0)} level."
            if any(r.human for r in rows)
            else "No human reference answered: shares are compared with 50% only."
        ),
    }


def _abx_headline(block: AbxBlock, alpha: float) -> dict:
    rows = [_share_row(s, s.system, False, p=_abx_p(s)) for s in block.systems_table]
    told = [r.label for r in rows if r.p is not None and r.p < alpha and (r.estimate or 0) > 0.5]
    return {
        "rows": rows,
        "measure": "share of trials where X was matched (guessing: 50%)",
        "method": _binary_method(block.model),
        "finding": (
            f"Listeners told {', '.join(told)} apart from {block.reference} at the "
            f"{percent(alpha, 0)} level."
            if told
            else f"No system was told apart from {block.reference} at the {percent(alpha, 0)} level."
        ),
    }


def _abx_p(entry) -> float | None:
    return entry.model_p if entry.model_share is not None else entry.p_binomial


def _pairwise_headline(block: PairwiseBlock, alpha: float, options: Options) -> dict:
    rows = [
        _share_row(
            p,
            f"{p.first} over {p.second}",
            False,
            p=p.p_model_adjusted if p.p_model_adjusted is not None else p.p_adjusted,
        )
        for p in block.pairs
    ]
    return {
        "rows": rows,
        "measure": "share preferring the first-named system",
        "method": (
            "logit mixed model per pair, answer ~ 1 + order + (1 | listener) + (1 | clip pair), "
            "Laplace; order balanced out; Wald t on the smaller of listeners and clip pairs "
            "less one degrees of freedom, "
            f"{METHODS[options.correction]}-adjusted"
        ),
        "finding": " ".join(_significant_sentences(block.pairs, alpha))
        or "No pair shows a preference after correction.",
    }


def _style_headline(block: StyleBlock) -> dict:
    return {
        "rows": [_share_row(s, s.label, s.human, p=s.p_model_vs_chance) for s in block.by_system],
        "measure": f"share of styles named right (chance {percent(block.chance)})",
        "method": _binary_method(block.model),
        "finding": block.generated_vs_human.sentence if block.generated_vs_human else "",
    }


def _significant_sentences(comparisons, alpha: float) -> list[str]:
    return [
        c.sentence
        for c in comparisons
        if c.p_model_adjusted is not None and c.p_model_adjusted < alpha
    ]


def _share_row(entry, label, human, *, p=None) -> ShareHeadlineRow:
    modelled = entry.model_share is not None
    return ShareHeadlineRow(
        label=label,
        human=human,
        estimate=entry.model_share if modelled else entry.share,
        low=entry.model_low if modelled else entry.low,
        high=entry.model_high if modelled else entry.high,
        n=entry.n,
        p=p,
        pooled=not modelled,
    )


def _binary_method(model: BinaryModelSummary | None) -> str:
    if model is None:
        return "pooled Wilson intervals (no model could be fitted; see the notes)"
    return (
        f"logit mixed model {model.formula} over {plural(model.listeners, 'listener')} "
        f"and {plural(model.clips, 'clip')}; shares are {model.measure.split(':')[0]}; "
        f"{model.tests}"
    )
