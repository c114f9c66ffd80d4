"""A small piano-roll picture of a piece as SVG (numbers and fixed colours only)."""

from __future__ import annotations

import numpy as np

from generation.music.scores import END, PART, PITCH, START

PART_COLOURS = (
    "#1f6feb",
    "#d1242f",
    "#1a7f37",
    "#9a6700",
    "#8250df",
    "#bf3989",
    "#0969da",
    "#57606a",
)


def piano_roll_svg(
    notes: np.ndarray,
    *,
    steps_per_bar: int = 16,
    max_steps: int = 512,
    step_width: float = 3.0,
    row_height: float = 4.0,
) -> str:
    notes = notes[notes[:, START] < max_steps]
    if len(notes) == 0:
        return '<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="no notes" width="0" height="0"></svg>'
    low, high = int(notes[:, PITCH].min()) - 1, int(notes[:, PITCH].max()) + 1
    n_steps = min(int(notes[:, END].max()), max_steps)
    width = n_steps * step_width
    height = (high - low + 1) * row_height
    parts = []
    for bar in range(0, n_steps + 1, steps_per_bar):
        x = bar * step_width
        parts.append(f'<line x1="{x:g}" y1="0" x2="{x:g}" y2="{height:g}" class="bar"/>')
    for c in range(low, high + 1):
        if c % 12 == 0:
            y = (high - c + 1) * row_height
            parts.append(f'<line x1="0" y1="{y:g}" x2="{width:g}" y2="{y:g}" class="octave"/>')
    for pitch, start, end, part in notes[:, [PITCH, START, END, PART]].tolist():
        x = start * step_width
        w = max(1.0, (min(end, n_steps) - start) * step_width - 0.5)
        y = (high - pitch) * row_height
        colour = PART_COLOURS[part % len(PART_COLOURS)]
        parts.append(
            f'<rect x="{x:g}" y="{y:g}" width="{w:g}" height="{row_height - 0.5:g}" fill="{colour}"/>'
        )
    label = f"piano roll: {len(notes)} notes, MIDI {low + 1} to {high - 1}"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{label}" class="pianoroll" '
        f'viewBox="0 0 {width:g} {height:g}" width="{width:g}" height="{height:g}" '
        f'preserveAspectRatio="none">{"".join(parts)}</svg>'
    )
