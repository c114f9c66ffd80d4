"""Checkpoint comparison: training metrics, objective music metrics and listener results in
one table, and how far the objective measures agree with the listeners.

``build_comparison`` (``building.py``) reads the checkpoints, their samples, a reference
split and (optionally) a study, and returns a typed Comparison (``results.py``); the page
(``page.py``), the ``compare`` command and the exports (``exports.py``) only format it, so
every format shows the same numbers. ``checkpoints.py`` and ``listeners.py`` gather the two
sides, ``agreement.py`` correlates them and ``chooser.py`` sets loss against listeners.
"""

from metrics.comparison.building import ComparisonError, build_comparison
from metrics.comparison.checkpoints import (
    checkpoints_in,
    checkpoints_with_samples,
    default_reference,
)
from metrics.comparison.exports import FORMATS, tables, to_text
from metrics.comparison.listeners import has_real_listeners, studies_with
from metrics.comparison.measures import objective_title
from metrics.comparison.page import page_context
from metrics.comparison.results import Comparison

__all__ = [
    "FORMATS",
    "Comparison",
    "ComparisonError",
    "build_comparison",
    "checkpoints_in",
    "checkpoints_with_samples",
    "default_reference",
    "has_real_listeners",
    "objective_title",
    "page_context",
    "studies_with",
    "tables",
    "to_text",
]
