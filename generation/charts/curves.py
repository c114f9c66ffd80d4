"""Learning curves as a small SVG line chart: numbers, fixed colours and fixed labels only."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

# Okabe & Ito (2008): told apart with every common colour-vision deficiency.
SERIES_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values from at or below ``low`` to at or above ``high``: the axis they span
    holds every value (a validation F1 of 0.863 no longer rises above an axis ending at 0.8)."""
    if high <= low:
        high = low + 1.0
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    # The tolerance keeps a value that is a tick (0.3 as 0.30000000000000004) from adding one.
    tolerance = step * 1e-9
    ticks = [round(math.floor(low / step + 1e-9) * step, 10)]
    while ticks[-1] < high - tolerance:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _label(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 or float(value).is_integer() else f"{value:.3g}"


def line_chart_svg(
    series: Sequence[tuple[str, Sequence[tuple[float, float]]]],
    *,
    x_label: str = "step",
    y_label: str = "loss (nats per event)",
    width: int = 640,
    height: int = 280,
) -> str:
    """series: (name, [(x, y), ...]) pairs; non-finite points are left out. Names must be plain text
    chosen by the caller (they are written into the SVG as they are)."""
    cleaned = [
        (name, [(float(x), float(y)) for x, y in points if y is not None and math.isfinite(y)])
        for name, points in series
    ]
    cleaned = [(name, points) for name, points in cleaned if points]
    # The legend sits in the top margin, above the lines, never over them.
    left, right, top, bottom = 56, 24, 30, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    title = f"{y_label} by {x_label}: " + ", ".join(name for name, _ in cleaned) if cleaned else ""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" class="chart">'
        f"<title>{escape(title or 'no evaluations yet')}</title>"
    ]
    if not cleaned:
        parts.append(
            f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">no evaluations yet</text></svg>'
        )
        return "".join(parts)
    xs = [x for _, points in cleaned for x, _ in points]
    ys = [y for _, points in cleaned for _, y in points]
    x_ticks = nice_ticks(min(xs), max(xs))
    y_ticks = nice_ticks(min(ys), max(ys))
    x0, x1, y0, y1 = x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]

    def sx(x: float) -> float:
        return left + (x - x0) / ((x1 - x0) or 1) * plot_w

    def sy(y: float) -> float:
        return top + plot_h - (y - y0) / ((y1 - y0) or 1) * plot_h

    for tick in y_ticks:
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{sy(tick):.1f}" y2="{sy(tick):.1f}" stroke="#d0d7de"/>'
            f'<text x="{left - 6}" y="{sy(tick) + 4:.1f}" text-anchor="end" font-size="11">{_label(tick)}</text>'
        )
    for tick in x_ticks:
        parts.append(
            f'<text x="{sx(tick):.1f}" y="{top + plot_h + 16}" text-anchor="middle" font-size="11">'
            f"{_label(tick)}</text>"
        )
    parts.append(
        f'<text x="{left + plot_w / 2}" y="{height - 4}" text-anchor="middle" font-size="12">{x_label}</text>'
        f'<text x="12" y="{top + plot_h / 2}" text-anchor="middle" font-size="12" '
        f'transform="rotate(-90 12 {top + plot_h / 2})">{y_label}</text>'
    )
    for index, (name, points) in enumerate(cleaned):
        colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in sorted(points))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        for x, y in points:
            parts.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5" fill="{colour}"/>')
        legend_x = left + 110 * index
        parts.append(
            f'<rect x="{legend_x}" y="9" width="14" height="4" fill="{colour}"/>'
            f'<text x="{legend_x + 18}" y="15" font-size="12" data-series="{name}">{name}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def learning_curve_svg(history: Sequence[dict], metric: str = "loss") -> str:
    """Training (running average since the previous evaluation) and validation curves."""
    series = []
    for split, name in (("train", "training"), ("valid", "validation")):
        points = [
            (entry["step"], (entry.get(split) or {}).get(metric))
            for entry in history
            if (entry.get(split) or {}).get(metric) is not None
        ]
        series.append((name, points))
    y_label = "loss (nats)" if metric == "loss" else metric.replace("_", " ")
    return line_chart_svg(series, y_label=y_label)
