"""Turing blocks: was this clip composed by a human? Shares judged human per system, per
clip and per musical-training level."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from metrics.analysis.agreement import listener_agreement
from metrics.analysis.binary import shares_by_system
from metrics.analysis.common import share_fields
from metrics.analysis.design import BlockDesign, Options
from metrics.analysis.results import MajorityCount, StimulusShare
from metrics.analysis.rows import clip_name
from metrics.statistics.proportions import wilson_interval


def analyse_turing(block: BlockDesign, rows: list[dict], options: Options) -> dict:
    """The Turing block's own fields of a TuringBlock."""
    rows = [r for r in rows if r.get("judged_human") is not None]
    systems = [s for s in block.systems if any(r["system"] == s for r in rows)]
    notes = []
    if not any(s in block.human_systems for s in systems):
        notes.append("No human clips answered yet: no comparison with human music.")
    shares = shares_by_system(rows, systems, block, "judged_human", "were human", options, notes)
    stimuli = defaultdict(list)
    for r in rows:
        stimuli[(r["system"], r["stimulus"], clip_name(r))].append(bool(r["judged_human"]))
    per_stimulus = [
        StimulusShare(
            system=system,
            stimulus=stimulus,
            source=source,
            **share_fields(wilson_interval(sum(v), len(v))),
        )
        for (system, stimulus, source), v in sorted(
            stimuli.items(), key=lambda item: (item[0][0], -np.mean(item[1]))
        )
    ]
    sureness = defaultdict(list)
    for r in rows:
        if r.get("confidence") is not None:
            sureness[r["system"]].append(r["confidence"])
    confidence = {s: float(np.mean(sureness[s])) if sureness[s] else None for s in systems}
    majority = Counter(c.system for c in per_stimulus if c.share and c.share > 0.5)
    return {
        "notes": notes,
        "question": shares.question if shares else None,
        "human_reference": shares.human_reference if shares else None,
        "systems_table": shares.systems_table if shares else [],
        "model": shares.model if shares else None,
        "by_training": shares.by_training if shares else [],
        "per_stimulus": per_stimulus,
        "clips_judged_human_by_majority": {
            s: MajorityCount(clips=majority[s], of=sum(1 for c in per_stimulus if c.system == s))
            for s in systems
        },
        "mean_confidence": confidence,
        "agreement": listener_agreement(rows, "judged_human", "nominal"),
    }
