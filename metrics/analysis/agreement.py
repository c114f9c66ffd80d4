"""How far listeners agree with each other: Krippendorff's alpha for every block kind, and
the intraclass correlations of a rating block."""

from __future__ import annotations

import numpy as np

from metrics.analysis.results import Agreement, IntraclassSummary
from metrics.analysis.rows import known_listener_rows
from metrics.statistics.agreement import intraclass_correlation, krippendorff_alpha


def listener_agreement(rows, key: str, level: str, *, unit: str = "stimulus") -> Agreement:
    """Krippendorff's alpha of the answers ``key`` over listeners and ``unit``s."""
    listeners = {p: i for i, p in enumerate(dict.fromkeys(r["participant"] for r in rows))}
    units = {u: i for i, u in enumerate(dict.fromkeys(r[unit] for r in rows))}
    if len(listeners) < 2 or not units:
        return Agreement(alpha=None, level=level, note="fewer than 2 listeners: no alpha")
    data = np.full((len(listeners), len(units)), np.nan)
    values: dict = {}
    for r in rows:
        value = r.get(key)
        if value is None:
            continue
        if not isinstance(value, (int, float)):
            value = values.setdefault(value, len(values))
        data[listeners[r["participant"]], units[r[unit]]] = float(value)
    alpha = krippendorff_alpha(data, level=level)
    return Agreement(
        alpha=alpha,
        level=level,
        note=None if alpha is not None else "no clip was judged by 2 listeners: no alpha",
    )


def rating_agreement(rows) -> Agreement:
    """Alpha (interval) and the intraclass correlations of a rating block."""
    alpha = listener_agreement(rows, "rating", "interval")
    # Alpha needs only the answers each clip got; the intraclass correlations need to know
    # which listener gave which, so answers counted per clip are left out of them.
    known = known_listener_rows(rows)
    icc = intraclass_correlation(
        [r["rating"] for r in known],
        [r["participant"] for r in known],
        [r["stimulus"] for r in known],
    )
    if icc is None:
        summary = IntraclassSummary(
            agreement=None,
            note="no intraclass correlation: it needs 2 listeners, 2 clips and ratings that vary",
        )
    else:
        summary = IntraclassSummary(
            agreement=icc.agreement,
            consistency=icc.consistency,
            average_agreement=icc.average_agreement,
            listeners_per_clip=icc.listeners_per_clip,
            note=None,
        )
    return Agreement(alpha=alpha.alpha, level=alpha.level, note=alpha.note, icc=summary)
