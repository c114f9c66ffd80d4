"""The learning-curve and piano-roll pictures: what a reader of the chart relies on."""

import re

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from generation.charts.curves import learning_curve_svg, nice_ticks
from generation.charts.piano_roll import piano_roll_svg


@given(
    low=st.floats(-1e6, 1e6, allow_nan=False),
    width=st.floats(1e-6, 1e6, allow_nan=False),
)
def test_axis_ticks_hold_every_value(low, width):
    high = low + width
    ticks = nice_ticks(low, high)
    assert 2 <= len(ticks) <= 12
    # Within a millionth of a tick step: no reader sees that.
    slack = (ticks[1] - ticks[0]) * 1e-6
    assert ticks[0] <= low + slack and ticks[-1] >= high - slack
    assert ticks == sorted(ticks)


def _tick_values(svg: str) -> list[float]:
    return [
        float(v) for v in re.findall(r'text-anchor="end" font-size="11">([-\d.e]+)</text>', svg)
    ]


def test_a_learning_curve_is_not_clipped_at_the_top():
    # The step-0 loss (5.39) once stood above an axis that ended at 5; a play F1 of 0.863
    # above one that ended at 0.8.
    loss = learning_curve_svg(
        [{"step": 0, "valid": {"loss": 5.39}}, {"step": 100, "valid": {"loss": 2.1},
          "train": {"loss": 2.5}}]
    )  # fmt: skip
    assert max(_tick_values(loss)) >= 5.39
    f1 = learning_curve_svg(
        [{"step": s, "valid": {"play_f1": v}} for s, v in [(0, 0.0), (100, 0.81), (300, 0.863)]],
        metric="play_f1",
    )
    assert max(_tick_values(f1)) >= 0.863
    # Every point lies inside the plot: no circle above the top gridline.
    top_grid = min(float(y) for y in re.findall(r'<line x1="56" x2="\d+" y1="([\d.]+)"', f1))
    assert all(float(cy) >= top_grid for cy in re.findall(r'<circle cx="[\d.]+" cy="([\d.]+)"', f1))


def test_a_piano_roll_names_its_octaves_and_numbers_its_bars():
    # pitch, start, end, velocity, part: two parts over two 4/4 bars of sixteenths.
    notes = np.array([[60, 0, 8, 80, 0], [72, 8, 32, 80, 1], [48, 16, 20, 80, 1]], dtype=np.int32)
    svg = piano_roll_svg(notes, steps_per_bar=16, step_width=6)
    names = re.findall(r'class="pitch" text-anchor="end">(C-?\d)</text>', svg)
    assert names == ["C3", "C4", "C5"]
    assert re.findall(r'class="bar-number">(\d+)</text>', svg) == ["1", "2"]
    assert svg.count("<rect ") == 3 and {"#0072B2", "#D55E00"} <= set(
        re.findall(r'fill="(#\w+)"', svg)
    )
