"""Small self-contained SVG charts for reports: no plotting library, no scripts, the same
markup in the browser, the PDF and a saved HTML file."""

from __future__ import annotations

from html import escape

ROW = 26
LABEL_WIDTH = 170
PLOT_WIDTH = 380
RIGHT_WIDTH = 150


def _x(value: float, low: float, high: float) -> float:
    span = (high - low) or 1.0
    return LABEL_WIDTH + (min(max(value, low), high) - low) / span * PLOT_WIDTH


def interval_chart(
    rows: list[tuple[str, float | None, float | None, float | None]],
    *,
    axis: tuple[float, float],
    title: str,
    percent: bool = False,
    reference: float | None = None,
) -> str:
    """A dot per row at its estimate with a whisker over its interval, labelled on the right.

    rows: (label, estimate, low, high); a row without an estimate is drawn as "no data".
    """
    low_axis, high_axis = axis
    height = ROW * len(rows) + 40

    def fmt(v: float) -> str:
        return f"{v * 100:.0f}%" if percent else f"{v:.2f}"

    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {LABEL_WIDTH + PLOT_WIDTH + RIGHT_WIDTH} '
        f'{height}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    base = ROW * len(rows) + 8
    for tick in range(5):
        value = low_axis + (high_axis - low_axis) * tick / 4
        x = _x(value, low_axis, high_axis)
        parts.append(
            f'<line x1="{x:.1f}" y1="4" x2="{x:.1f}" y2="{base}" class="grid"/>'
            f'<text x="{x:.1f}" y="{base + 16}" class="tick">{fmt(value)}</text>'
        )
    if reference is not None:
        x = _x(reference, low_axis, high_axis)
        parts.append(f'<line x1="{x:.1f}" y1="4" x2="{x:.1f}" y2="{base}" class="reference"/>')
    for i, (label, estimate, low, high) in enumerate(rows):
        y = ROW * i + ROW / 2 + 4
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 4:.1f}" class="label">{escape(label)}</text>'
        )
        if estimate is None:
            parts.append(f'<text x="{LABEL_WIDTH + 4}" y="{y + 4:.1f}" class="none">no data</text>')
            continue
        if low is not None and high is not None:
            parts.append(
                f'<line x1="{_x(low, low_axis, high_axis):.1f}" y1="{y:.1f}" '
                f'x2="{_x(high, low_axis, high_axis):.1f}" y2="{y:.1f}" class="whisker"/>'
            )
            text = f"{fmt(estimate)} [{fmt(low)}, {fmt(high)}]"
        else:
            text = f"{fmt(estimate)} (no interval)"
        parts.append(
            f'<circle cx="{_x(estimate, low_axis, high_axis):.1f}" cy="{y:.1f}" r="4.5" '
            f'class="dot"/><text x="{LABEL_WIDTH + PLOT_WIDTH + 8}" y="{y + 4:.1f}" '
            f'class="value">{text}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


# Text widths are estimated (no font metrics in a pure module): an average glyph of the
# charts' 12 px sans-serif is about 7 px wide.
GLYPH = 7.0


def _text_width(label: str) -> float:
    return GLYPH * len(label)


def heatmap(
    row_labels: list[str],
    column_labels: list[str],
    counts: list[list[int]],
    *,
    title: str,
    row_title: str,
    column_title: str,
) -> str:
    """Counts in a grid shaded by each row's share, so rows of different size compare.

    Labels are written whole (column labels slanted), never cut: "checkpoint-12" and
    "checkpoint-9" must not both read "checkpoint"."""
    cell = 64
    left = max(LABEL_WIDTH, 16 + max((_text_width(label) for label in row_labels), default=0))
    # A label slanted at 45 degrees rises by its width / sqrt(2).
    rise = max((_text_width(label) for label in column_labels), default=0) * 0.71
    top = 34 + rise
    width = left + cell * len(column_labels) + 10 + rise
    height = top + cell * len(row_labels) + 10
    parts = [
        f'<svg class="chart heatmap" role="img" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
        f'<text x="{left}" y="12" class="axis">{escape(column_title)} &#8594;</text>',
        f'<text x="4" y="{top - 8:.0f}" class="axis">{escape(row_title)} &#8595;</text>',
    ]
    for j, label in enumerate(column_labels):
        x, y = left + cell * j + cell / 2, top - 8
        parts.append(
            f'<text x="{x:.0f}" y="{y:.0f}" class="column slanted" text-anchor="start" '
            f'transform="rotate(-45 {x:.0f} {y:.0f})">{escape(label)}</text>'
        )
    for i, label in enumerate(row_labels):
        total = sum(counts[i]) or 1
        y = top + cell * i
        parts.append(
            f'<text x="{left - 8:.0f}" y="{y + cell / 2 + 4:.0f}" class="label">{escape(label)}</text>'
        )
        for j, count in enumerate(counts[i]):
            share = count / total
            parts.append(
                f'<rect x="{left + cell * j:.0f}" y="{y:.0f}" width="{cell - 2}" height="{cell - 2}" '
                f'class="cell" fill-opacity="{0.08 + 0.8 * share:.2f}"/>'
                f'<text x="{left + cell * j + cell / 2 - 1:.0f}" y="{y + cell / 2 + 4:.0f}" '
                f'class="{"cell-count dark" if share > 0.5 else "cell-count"}">{count}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _tick(value: float) -> str:
    return f"{value:.3g}"


def scatter_matrix(
    cells: list[list[dict | None]],
    *,
    row_labels: list[str],
    column_labels: list[str],
    title: str,
) -> str:
    """Small scatter plots in a grid: rows are objective measures, columns listener measures.

    A cell is None (too few points) or {"points": [[x, y], ...], "caption": str}; each panel
    scales to its own points, because the measures have nothing in common but their ranks.
    """
    size, gap, top = 120, 64, 22
    left = 50 + max(LABEL_WIDTH, 16 + max((_text_width(x) for x in row_labels), default=0))
    width = left + (size + gap) * len(column_labels)
    row_pitch = size + 42  # room for the axis values and the caption under each panel
    height = top + row_pitch * len(row_labels)
    parts = [
        f'<svg class="chart scatter-matrix" role="img" viewBox="0 0 {width:.0f} {height}" '
        f'width="{width:.0f}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for j, label in enumerate(column_labels):
        x = left + (size + gap) * j + size / 2
        parts.append(f'<text x="{x:.1f}" y="14" class="column">{escape(label)}</text>')
    for i, label in enumerate(row_labels):
        y0 = top + row_pitch * i
        parts.append(
            f'<text x="{left - 44:.0f}" y="{y0 + size / 2:.1f}" class="label">{escape(label)}</text>'
        )
        for j, cell in enumerate(cells[i]):
            x0 = left + (size + gap) * j
            parts.append(
                f'<rect x="{x0:.0f}" y="{y0}" width="{size}" height="{size}" class="panel"/>'
            )
            if cell is None:
                parts.append(
                    f'<text x="{x0 + size / 2:.0f}" y="{y0 + size / 2}" class="none">'
                    "too few points</text>"
                )
                continue
            xs = [p[0] for p in cell["points"]]
            ys = [p[1] for p in cell["points"]]
            x_low, x_span = min(xs), (max(xs) - min(xs)) or 1.0
            y_low, y_span = min(ys), (max(ys) - min(ys)) or 1.0
            # Each panel has its own scale: its lowest and highest value on each axis, at the
            # edge where the points lie (8 px inside the frame).
            bottom, right = y0 + size - 8, x0 + size - 8
            parts.append(
                f'<line x1="{x0 + 8:.0f}" y1="{y0 + size}" x2="{x0 + 8:.0f}" y2="{y0 + size + 4}" class="axis-tick"/>'
                f'<line x1="{right:.0f}" y1="{y0 + size}" x2="{right:.0f}" y2="{y0 + size + 4}" class="axis-tick"/>'
                f'<line x1="{x0 - 4:.0f}" y1="{bottom}" x2="{x0:.0f}" y2="{bottom}" class="axis-tick"/>'
                f'<line x1="{x0 - 4:.0f}" y1="{y0 + 8}" x2="{x0:.0f}" y2="{y0 + 8}" class="axis-tick"/>'
                f'<text x="{x0 + 8:.0f}" y="{y0 + size + 14}" class="tick">{_tick(min(xs))}</text>'
                f'<text x="{x0 - 6:.0f}" y="{bottom + 4}" class="tick y">{_tick(min(ys))}</text>'
            )
            # One value when every point has it (written twice, the two would overlap).
            if max(xs) > min(xs):
                parts.append(
                    f'<text x="{right:.0f}" y="{y0 + size + 14}" class="tick">{_tick(max(xs))}</text>'
                )
            if max(ys) > min(ys):
                parts.append(
                    f'<text x="{x0 - 6:.0f}" y="{y0 + 12}" class="tick y">{_tick(max(ys))}</text>'
                )
            for px, py in cell["points"]:
                cx = x0 + 8 + (px - x_low) / x_span * (size - 16)
                cy = y0 + size - 8 - (py - y_low) / y_span * (size - 16)
                parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3" class="dot"/>')
            parts.append(
                f'<text x="{x0 + size / 2:.0f}" y="{y0 + size + 30}" class="caption">'
                f"{escape(cell['caption'])}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)
