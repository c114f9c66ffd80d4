"""Do the objective measures agree with listeners? Spearman's rho between each objective
measure and each listener measure, across checkpoints and across clips."""

from __future__ import annotations

from collections import defaultdict

from metrics import music
from metrics.analysis import Options
from metrics.comparison.measures import FEW_CHECKPOINTS, LISTENER_MEASURES, objective_title
from metrics.comparison.results import Correlation, Entry
from metrics.statistics.correlation import spearman


def objective_measures(entry: Entry) -> dict[str, float | None]:
    """Every objective number a row has: loss and accuracy, the mean overlap with the
    reference, each feature's mean and each feature's overlap."""
    measures = {
        "valid_loss": entry.training.valid_loss,
        "accuracy": entry.training.accuracy,
        "mean_overlap": entry.music.mean_overlap if entry.music else None,
    }
    if entry.music:
        for name, summary in entry.music.features.items():
            measures[name] = summary.mean
        for name, distance in (entry.music.distances or {}).items():
            measures[f"overlap_{name}"] = distance.overlap
    return measures


def _undefined_reason(xs, ys, rho) -> str | None:
    if rho is not None:
        return None
    if len(xs) < 3:
        return "fewer than 3 points: no correlation"
    if len(set(xs)) < 2 or len(set(ys)) < 2:
        return "one measure is the same for every point: a correlation is undefined"
    return "no correlation could be computed"


def correlate(points: list[tuple], objective: str, listener: str, options: Options) -> Correlation:
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    found = spearman(xs, ys, confidence=options.confidence, seed=0)
    return Correlation(
        objective=objective,
        objective_title=objective_title(objective),
        listener=listener,
        listener_title=LISTENER_MEASURES[listener],
        n=found.n,
        rho=found.rho,
        low=found.low,
        high=found.high,
        p_value=found.p_value,
        p_method=found.p_method,
        undefined=_undefined_reason(xs, ys, found.rho),
        points=[[x, y] for x, y in points],
    )


def across_checkpoints(
    entries: list[Entry], options: Options
) -> tuple[list[Correlation], list[str]]:
    """Correlations over the heard checkpoints, and notes on how far to trust them."""
    notes = []
    heard = [e for e in entries if e.listeners]
    units = defaultdict(list)
    for entry in heard:
        units[entry.loss_unit].append(entry)
    comparable = max(units.values(), key=len) if units else []
    if len(units) > 1:
        notes.append(
            "Losses and accuracies are in different units for different encodings; their "
            f"correlations use only the {len(comparable)} heard checkpoints measured in "
            f"{comparable[0].loss_unit}."
        )
    comparable_keys = {e.key for e in comparable}
    out = []
    # Every measure any heard checkpoint has (one without samples has no music metrics).
    objectives = list(dict.fromkeys(name for e in heard for name in objective_measures(e)))
    for objective in objectives:
        for listener in LISTENER_MEASURES:
            points = []
            for entry in heard:
                if objective in ("valid_loss", "accuracy") and entry.key not in comparable_keys:
                    continue
                x = objective_measures(entry).get(objective)
                y = entry.listeners.get(listener)
                if x is not None and y is not None:
                    points.append((x, y))
            if len(points) >= 3:
                out.append(correlate(points, objective, listener, options))
    n = len(heard)
    if 0 < n < FEW_CHECKPOINTS:
        notes.append(
            f"Only {n} heard checkpoint{'s' if n != 1 else ''}: a rank correlation over so few "
            "points is fragile (one checkpoint can flip its sign) and its interval is wide. "
            "Read these as a description of these checkpoints, not as evidence that a metric "
            "tracks what listeners hear."
        )
    elif n == 0:
        notes.append("None of these checkpoints was heard in the chosen study.")
    return out, notes


def across_stimuli(stimuli: list[dict], options: Options) -> list[Correlation]:
    """Correlations over the heard clips: each clip's features against its answers."""
    out = []
    for objective in music.SCALAR_FEATURES:
        for listener in ("rating", "human_share"):
            points = [
                (s["features"][objective], s[listener])
                for s in stimuli
                if s["features"].get(objective) is not None and s.get(listener) is not None
            ]
            if len(points) >= 3:
                out.append(correlate(points, objective, listener, options))
    return out
