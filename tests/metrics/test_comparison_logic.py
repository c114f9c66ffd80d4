"""The comparison's reasoning on hand-made rows: which checkpoint a run's loss and its
listeners pick, and which checkpoints a correlation may pool."""

from dataclasses import replace

import pytest

from metrics.analysis import Options
from metrics.comparison.agreement import across_checkpoints
from metrics.comparison.chooser import choosers
from tests.factories import comparison_entry as entry


def heard(row, **listeners):
    """The row with these listener figures (entries are frozen: a new one)."""
    return replace(row, listeners={**row.listeners, **listeners})


def test_chooser_flags_when_listeners_prefer_another_step():
    rows = [
        entry("a", step=100, valid_loss=1.2, rating=6.0),
        entry("b", step=200, valid_loss=1.0, rating=4.0),
        entry("c", step=300, valid_loss=1.1),  # not heard
    ]
    [chooser] = choosers(rows)
    assert chooser.best_by_loss_step == 200
    assert chooser.best_by_listeners_step == 100
    assert chooser.listener_measure == "rating"
    assert chooser.agree is False

    rows[0] = heard(rows[0], rating=3.0)
    assert choosers(rows)[0].agree is True


def test_chooser_needs_two_steps_of_a_run_and_two_heard_ones():
    assert choosers([entry("a", run=1), entry("b", run=2)]) == []
    [chooser] = choosers([entry("a", step=1, rating=5.0), entry("b", step=2)])
    assert chooser.best_by_listeners_step is None and chooser.agree is None


def test_losses_correlate_only_within_one_unit_and_few_points_are_called_fragile():
    rows = [
        entry(f"m{i}", run=i, valid_loss=1.0 + i / 10, rating=7.0 - i, entropy=2.0 + i / 10)
        for i in range(4)
    ] + [
        entry("roll", run=9, valid_loss=0.06, unit="biaxial-lstm piano-roll loss", rating=9.0,
              entropy=3.0)
    ]  # fmt: skip
    records, notes = across_checkpoints(rows, Options())
    by_name = {(r.objective, r.listener): r for r in records}
    # Four melody models, lower loss rated higher: rho -1 over those four only.
    loss = by_name[("valid_loss", "rating")]
    assert loss.n == 4 and loss.rho == pytest.approx(-1.0)
    # Music metrics pool every heard checkpoint, whatever its loss unit.
    assert by_name[("pitch_class_entropy", "rating")].n == 5
    assert any("use only the 4 heard checkpoints" in n for n in notes)
    assert any("Only 5 heard checkpoints" in n for n in notes)


def test_no_heard_checkpoint_says_so():
    records, notes = across_checkpoints([entry("a"), entry("b")], Options())
    assert records == []
    assert notes == ["None of these checkpoints was heard in the chosen study."]


def test_a_tie_between_checkpoints_is_a_tie_not_a_disagreement():
    # Every checkpoint rated 6.00: listeners cannot tell them apart.
    rows = [entry("a", step=100, valid_loss=1.2, rating=6.0), entry("b", step=200, rating=6.0)]
    [chooser] = choosers(rows)
    assert chooser.verdict == "tie" and chooser.agree is None
    # Different means whose intervals overlap: still a tie.
    rows = [
        heard(rows[0], rating=6.4, rating_low=5.8, rating_high=7.0),
        heard(rows[1], rating=6.0, rating_low=5.4, rating_high=6.6),
    ]
    assert choosers(rows)[0].verdict == "tie"
    # Intervals apart: the loss picked a checkpoint listeners rated clearly lower.
    rows[1] = heard(rows[1], rating=4.0, rating_low=3.5, rating_high=4.5)
    assert choosers(rows)[0].verdict == "disagree"


def test_a_correlation_of_a_constant_measure_is_undefined_in_words():
    rows = [entry(k, step=s, valid_loss=v, rating=6.0) for k, s, v in
            (("a", 100, 1.3), ("b", 200, 1.2), ("c", 300, 1.1), ("d", 400, 1.0))]  # fmt: skip
    records, _ = across_checkpoints(rows, Options())
    assert records and all(r.rho is None for r in records)
    assert all("same for every point" in r.undefined for r in records)
