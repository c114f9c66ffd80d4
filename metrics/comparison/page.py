"""The comparison page's parts: the table rows, learning curves and scatter-plot matrix."""

from __future__ import annotations

from collections import defaultdict
from html import escape

from generation.charts.curves import line_chart_svg
from metrics import music, plots
from metrics.comparison.exports import flat_row, reference_row, spearman_summary
from metrics.comparison.measures import HEADLINE_OBJECTIVES, LISTENER_MEASURES, objective_title
from metrics.comparison.results import Comparison


def _curve_charts(comparison: Comparison) -> list[dict]:
    by_unit = defaultdict(list)
    for curve in comparison.curves:
        by_unit[curve.loss_unit].append(curve)
    charts = []
    for unit, curves in by_unit.items():
        series = [(escape(c.label), [tuple(p) for p in c.points]) for c in curves]
        charts.append(
            {
                "unit": unit,
                "svg": line_chart_svg(
                    series,
                    y_label="validation loss",
                    height=max(280, 60 + 18 * len(series)),
                ),
            }
        )
    return charts


def _scatter(comparison: Comparison) -> str | None:
    records = {(r.objective, r.listener): r for r in comparison.agreement.across_checkpoints}
    listeners = [m for m in LISTENER_MEASURES if any(k[1] == m for k in records)]
    objectives = [o for o in HEADLINE_OBJECTIVES if any(k[0] == o for k in records)]
    if not listeners or not objectives:
        return None
    cells = [
        [
            {"points": records[(o, m)].points, "caption": spearman_summary(records[(o, m)])}
            if (o, m) in records
            else None
            for m in listeners
        ]
        for o in objectives
    ]
    return plots.scatter_matrix(
        cells,
        row_labels=[objective_title(o) for o in objectives],
        column_labels=[LISTENER_MEASURES[m] for m in listeners],
        title="Objective measures (rows) against listener results (columns), one dot per "
        "heard checkpoint",
    )


def page_context(comparison: Comparison) -> dict:
    return {
        "rows": [flat_row(e) for e in comparison.entries],
        "reference_row": reference_row(comparison),
        "music_features": [(n, t) for n, t in music.SCALAR_FEATURES.items()],
        "overlap_features": [(f"overlap_{n}", music.feature_title(n)) for n in music.FEATURES],
        "curve_charts": _curve_charts(comparison),
        "scatter": _scatter(comparison),
    }
