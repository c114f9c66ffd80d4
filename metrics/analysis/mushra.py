"""MUSHRA blocks (after ITU-R BS.1534): 0-100 ratings of every system on each page beside a
hidden reference and a low anchor, analysed as ratings are (the linear mixed model and the
per-listener checks), with what the hidden reference says about the listeners."""

from __future__ import annotations

from dataclasses import replace

from metrics.analysis.common import share_of
from metrics.analysis.design import BlockDesign, Options
from metrics.analysis.ratings import analyse_ratings
from metrics.statistics.proportions import wilson_interval
from studies.design import MUSHRA_REFERENCE_FLOOR

HIDDEN_REFERENCE = "hidden reference"


def analyse_mushra(block: BlockDesign, rows: list[dict], options: Options) -> dict:
    """The MUSHRA block's own fields of a MushraBlock."""
    # The hidden reference and the anchor are named as such in every table and sentence,
    # and come last: the tested systems first, in the order of the pairwise tests.
    names = {block.reference: f"{block.reference} ({HIDDEN_REFERENCE})"}
    if block.anchor:
        names[block.anchor] = f"{block.anchor} (anchor)"
    rows = [
        {**r, "system": names.get(r["system"], r["system"])}
        for r in rows
        if r.get("rating") is not None
    ]
    tested = [s for s in block.systems if s not in names]
    ends = [names[s] for s in (block.anchor, block.reference) if s]
    design = replace(
        block,
        systems=tested + ends,
        human_systems=[names.get(s, s) for s in block.human_systems],
    )
    fields = analyse_ratings(design, rows, options, ordinal=False)
    hidden = [r for r in rows if r.get("clip_role") == HIDDEN_REFERENCE]
    at_top = sum(r["rating"] >= MUSHRA_REFERENCE_FLOOR for r in hidden)
    notes = list(fields["notes"])
    notes.append(
        "MUSHRA's 0-100 scale has too many points for an ordinal model: the ratings are "
        "analysed with the linear mixed model and the per-listener tests only."
    )
    if block.post_screening:
        notes.append(
            f"Post-screening (ITU-R BS.1534), declared with the study: listeners who rated "
            f"the hidden reference below {MUSHRA_REFERENCE_FLOOR} on more than 15% of their "
            "pages are excluded."
        )
    return {
        **fields,
        "notes": notes,
        "reference": block.reference,
        "anchor": block.anchor or None,
        "pages": len({(r["participant"], r["trial"]) for r in rows}),
        "hidden_reference_at_top": share_of(wilson_interval(at_top, len(hidden)))
        if hidden
        else None,
        "post_screening": block.post_screening,
    }
