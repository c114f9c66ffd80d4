"""A study's answers, analysed block by block: the numbers every report format shows.

Plain Python, no Django: it takes the long table of answers (one dict per answer, the
columns of studies' export) and a description of each block, and returns typed results
(``results.py``), ready for HTML, LaTeX, CSV or JSON. Missing numbers are None and every gap
has a sentence saying why, so no format ever prints NaN.

One module per block kind (``ratings``, ``turing``, ``pairwise``, ``style``), with what they
share: ``binary`` (logit mixed models of yes/no answers), ``agreement``, ``headline`` (the
one-screen summary), ``wording`` (how numbers read in sentences); ``study`` runs them all.
"""

from metrics.analysis.binary import POPULATION_NOTE, small_sample_df
from metrics.analysis.design import TRAINING_GROUPS, BlockDesign, Options
from metrics.analysis.results import Analysis, to_json_data
from metrics.analysis.rows import clip_name, kept_rows, main_trials
from metrics.analysis.study import ANALYSERS, analyse
from metrics.analysis.wording import interval_text, number_text, p_text, percent, plural

__all__ = [
    "ANALYSERS",
    "POPULATION_NOTE",
    "TRAINING_GROUPS",
    "Analysis",
    "BlockDesign",
    "Options",
    "analyse",
    "clip_name",
    "interval_text",
    "kept_rows",
    "main_trials",
    "number_text",
    "p_text",
    "percent",
    "plural",
    "small_sample_df",
    "to_json_data",
]
