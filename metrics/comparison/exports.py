"""The comparison as tables (CSV, LaTeX), as the command line's text and as JSON."""

from __future__ import annotations

import json

from metrics import music
from metrics.comparison.measures import RATING_AND_HUMAN_FIELDS, STRENGTH_FIELDS, TRAINING_COLUMNS
from metrics.comparison.results import Comparison, Correlation, Entry
from metrics.records import to_json_data
from metrics.reports import Table, tables_to_csv_zip, tables_to_latex


def flat_row(entry: Entry) -> dict:
    """One table row per entry: every column by name (the CSV's and the page's)."""
    row = {
        "checkpoint": entry.checkpoint.id,
        "model": entry.label,
        "samples": entry.sample_set_label or entry.sample_set,
        "sample_set": entry.sample_set,
        "family": entry.checkpoint.family,
        "config": entry.checkpoint.config,
        "step": entry.checkpoint.step,
        "loss_unit": entry.loss_unit,
        **{name: getattr(entry.training, name) for name in TRAINING_COLUMNS},
    }
    if entry.music:
        for name, summary in entry.music.features.items():
            row[name] = summary.mean
    row["mean_overlap"] = entry.music.mean_overlap if entry.music else None
    if entry.music:
        for name, distance in (entry.music.distances or {}).items():
            row[f"overlap_{name}"] = distance.overlap
            row[f"kl_{name}"] = distance.kl_divergence
    listeners = entry.listeners or {}
    row.update({name: listeners.get(name) for name in ("system", *RATING_AND_HUMAN_FIELDS)})
    row.update({name: listeners.get(name) for name in STRENGTH_FIELDS})
    return row


def reference_row(comparison: Comparison) -> dict:
    reference = comparison.reference
    row = {
        "model": f"reference: {reference.dataset} ({reference.split})",
        "samples": f"{reference.pieces} pieces",
    }
    for name, summary in reference.music.features.items():
        row[name] = summary.mean
    listeners = reference.listeners or {}
    row.update({name: listeners.get(name) for name in ("system", *RATING_AND_HUMAN_FIELDS)})
    return row


def tables(comparison: Comparison) -> list[Table]:
    entries = [flat_row(e) for e in comparison.entries]
    reference = reference_row(comparison)
    training_columns = ["checkpoint", "model", "family", "config", "step", "loss_unit",
                        *TRAINING_COLUMNS]  # fmt: skip
    music_columns = ["model", "samples", *music.SCALAR_FEATURES, "mean_overlap"]
    overlap_columns = ["model", "samples"] + [f"overlap_{n}" for n in music.FEATURES]
    listener_columns = ["model", "samples", "system", *RATING_AND_HUMAN_FIELDS, *STRENGTH_FIELDS]
    agreement_columns = [
        "objective_title",
        "listener_title",
        "n",
        "rho",
        "low",
        "high",
        "p_value",
        "p_method",
    ]
    out = [
        Table("training", "Training metrics per checkpoint (validation split unless named)",
              training_columns, [[r.get(c) for c in training_columns] for r in entries]),
        Table("music", "Music metrics: mean over each sample set's pieces, and the reference",
              music_columns, [[r.get(c) for c in music_columns] for r in [*entries, reference]]),
        Table("overlap", "Overlap of each feature's inter-set distances with the reference's "
              "intra-set distances (Yang & Lerch 2018; 1 = like the reference)",
              overlap_columns, [[r.get(c) for c in overlap_columns] for r in entries]),
    ]  # fmt: skip
    if comparison.study:
        out.append(Table(
            "listeners",
            f"Listener results in study {comparison.study.slug}",
            listener_columns,
            [[r.get(c) for c in listener_columns] for r in [*entries, reference]
             if r.get("system")],
        ))  # fmt: skip
        for scope in ("across_checkpoints", "across_stimuli"):
            records = getattr(comparison.agreement, scope)
            if records:
                out.append(Table(
                    f"agreement_{scope}",
                    f"Spearman correlation {scope.replace('_', ' ')} "
                    "(bootstrap percentile interval)",
                    agreement_columns,
                    [[getattr(r, c) for c in agreement_columns] for r in records],
                ))  # fmt: skip
    return out


def to_text(comparison: Comparison) -> str:
    """The command line's table: training, music summary and listeners side by side."""
    columns = [
        ("model", "model", 40),
        ("samples", "samples", 30),
        ("valid_loss", "valid loss", 10),
        ("accuracy", "accuracy", 8),
        ("test_loss", "test loss", 9),
        ("cv_loss", "CV loss", 8),
        ("pitch_class_entropy", "PC entropy", 10),
        ("scale_consistency", "scale", 6),
        ("repetition", "repeats", 7),
        ("mean_overlap", "overlap", 7),
        ("rating", "rating", 6),
        ("human_share", "human", 6),
        ("strength", "BT", 6),
    ]

    def cell(value, width):
        if value is None:
            text = "-"
        elif isinstance(value, float):
            text = f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"
        else:
            text = str(value)
        return text[:width].ljust(width)

    rows = [flat_row(e) for e in comparison.entries] + [reference_row(comparison)]
    lines = ["  ".join(title.ljust(width) for _, title, width in columns)]
    for row in rows:
        lines.append("  ".join(cell(row.get(key), width) for key, _, width in columns))
    for chooser in comparison.choosers:
        line = f"{chooser.run_label}: best by validation loss step {chooser.best_by_loss_step}"
        if chooser.best_by_listeners_step is not None:
            line += (
                f", by {chooser.listener_measure_title} step {chooser.best_by_listeners_step}"
                + {
                    "agree": " (they agree)",
                    "tie": " (listeners cannot tell these apart)",
                }.get(chooser.verdict, " (they DISAGREE)")
            )
        lines.append(line)
    for note in comparison.agreement.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines) + "\n"


def spearman_summary(record: Correlation) -> str:
    if record.rho is None:
        return "undefined"
    text = f"rho = {record.rho:.2f}"
    if record.low is not None:
        text += f" [{record.low:.2f}, {record.high:.2f}]"
    return text


def to_csv_zip(comparison: Comparison) -> bytes:
    return tables_to_csv_zip(tables(comparison))


def to_latex(comparison: Comparison) -> str:
    heading = (
        f"earshot checkpoint comparison against {comparison.reference.dataset} "
        f"({comparison.reference.split}), generated {comparison.generated_at}"
    )
    return tables_to_latex(tables(comparison), heading=heading, label_prefix="comparison")


def to_json(comparison: Comparison) -> str:
    return json.dumps(to_json_data(comparison), indent=2, allow_nan=False)


FORMATS = {
    "zip": ("application/zip", to_csv_zip),
    "tex": ("text/x-tex; charset=utf-8", to_latex),
    "json": ("application/json", to_json),
    "txt": ("text/plain; charset=utf-8", to_text),
}
