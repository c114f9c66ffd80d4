"""The answer table the analysis reads: one dict per answer, the columns of studies'
export. Which answers count, and how a clip is named."""

from __future__ import annotations


def clip_name(row: dict) -> str:
    """Where a clip came from, as a reader can find it: the piece's file name, or the sample
    set and the sample's index in it."""
    if row.get("piece"):
        return str(row["piece"])
    if row.get("sample_set") is not None:
        index = row.get("sample_index")
        return f"{row['sample_set']} #{index}" if index is not None else str(row["sample_set"])
    return f"clip {row['stimulus']}"


def listener_known(row: dict) -> bool:
    """False for an answer imported as a count per clip: nobody knows who gave it."""
    return row.get("listener_known") is not False


def known_listener_rows(rows: list[dict]) -> list[dict]:
    """The answers whose listener is known: what per-listener analyses can use."""
    return [r for r in rows if listener_known(r)]


def kept_rows(rows: list[dict], *, include_simulated: bool) -> list[dict]:
    """The answers an analysis counts: none from excluded listeners, and none from simulated
    listeners unless asked."""
    return [
        r for r in rows if not r.get("excluded") and (include_simulated or not r.get("simulated"))
    ]


def main_trials(rows: list[dict]) -> list[dict]:
    """Answers to main trials (checks and repeats left out)."""
    return [r for r in rows if r.get("trial_kind", "main") == "main"]
