"""A small piano-roll picture of a piece as SVG (numbers and fixed colours only)."""

from __future__ import annotations

import numpy as np

from generation.music.scores import END, PART, PITCH, START

# Okabe & Ito (2008), told apart with every common colour-vision deficiency (their yellow,
# too pale on white, gives way to grey).
PART_COLOURS = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#000000",
    "#777777",
)
# Room for the pitch names left of the notes and the bar numbers under them.
PITCH_GUTTER = 30.0
BAR_AXIS = 14.0


def part_colour(part: int) -> str:
    return PART_COLOURS[part % len(PART_COLOURS)]


def pitch_name(midi_pitch: int) -> str:
    """C4 is middle C (MIDI 60)."""
    return f"C{midi_pitch // 12 - 1}"


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
    roll_width = n_steps * step_width
    roll_height = (high - low + 1) * row_height
    width, height = PITCH_GUTTER + roll_width, roll_height + BAR_AXIS
    parts = [f'<g transform="translate({PITCH_GUTTER:g} 0)">']
    # A bar number at least every 24 px.
    bars_per_label = max(1, int(-(-24 // (steps_per_bar * step_width))))
    for bar in range(0, n_steps + 1, steps_per_bar):
        x = bar * step_width
        parts.append(f'<line x1="{x:g}" y1="0" x2="{x:g}" y2="{roll_height:g}" class="bar"/>')
        number = bar // steps_per_bar + 1
        if (number - 1) % bars_per_label == 0 and bar < n_steps:
            parts.append(
                f'<text x="{x + 1:g}" y="{roll_height + 11:g}" class="bar-number">{number}</text>'
            )
    for pitch in range(low, high + 1):
        if pitch % 12 == 0:
            y = (high - pitch + 1) * row_height
            parts.append(f'<line x1="0" y1="{y:g}" x2="{roll_width:g}" y2="{y:g}" class="octave"/>')
            parts.append(
                f'<text x="-4" y="{y:g}" class="pitch" text-anchor="end">{pitch_name(pitch)}</text>'
            )
    for pitch, start, end, part in notes[:, [PITCH, START, END, PART]].tolist():
        x = start * step_width
        w = max(1.0, (min(end, n_steps) - start) * step_width - 0.5)
        y = (high - pitch) * row_height
        parts.append(
            f'<rect x="{x:g}" y="{y:g}" width="{w:g}" height="{row_height - 0.5:g}" '
            f'fill="{part_colour(part)}"/>'
        )
    parts.append("</g>")
    label = f"piano roll: {len(notes)} notes, MIDI {low + 1} to {high - 1}"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{label}" class="pianoroll" '
        f'viewBox="0 0 {width:g} {height:g}" width="{width:g}" height="{height:g}">'
        f"{''.join(parts)}</svg>"
    )
