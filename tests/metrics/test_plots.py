"""The report's and the comparison's SVG charts: labels whole, axes with values."""

import re

from metrics import plots


def test_heatmap_writes_long_labels_whole_so_none_become_alike():
    names = ["checkpoint-12", "checkpoint-9", "a-rather-long-system-name-for-a-model"]
    svg = plots.heatmap(
        names, names, [[0, 3, 4], [1, 0, 2], [5, 6, 0]], title="Wins", row_title="preferred",
        column_title="over",
    )  # fmt: skip
    columns = re.findall(r'class="column slanted"[^>]*>([^<]+)</text>', svg)
    rows = re.findall(r'class="label">([^<]+)</text>', svg)
    assert columns == names and rows == names
    # The longest row label fits left of the grid (about 7 px a character at 12 px).
    first_cell_x = float(re.search(r'<rect x="([\d.]+)"', svg).group(1))
    assert first_cell_x >= 7 * len(names[2])


def test_scatter_matrix_panels_show_the_values_at_their_edges():
    cells = [[{"points": [[0.5, 10.0], [1.5, 30.0], [1.0, 20.0]], "caption": "rho 1.00"}, None]]
    svg = plots.scatter_matrix(
        cells, row_labels=["pitch-class entropy"], column_labels=["mean rating", "share human"],
        title="t",
    )  # fmt: skip
    ticks = re.findall(r'class="tick(?: y)?">([^<]+)</text>', svg)
    assert sorted(ticks, key=float) == ["0.5", "1.5", "10", "30"]
    assert "too few points" in svg and svg.count("<circle") == 3
