"""ABX discrimination per system: the logit mixed model and the exact tests, pinned to R."""

import csv
from pathlib import Path

import numpy as np
import pytest

from metrics.analysis.abx import abx_rows, analyse_abx
from metrics.analysis.binary import fit_binary_model
from metrics.analysis.design import BlockDesign, Options

DATA = Path(__file__).resolve().parent.parent / "data" / "abx_answers.csv"
BLOCK = BlockDesign(
    number=1, kind="abx", title="ABX", systems=["model-a", "model-b", "human"],
    human_systems=["human"], reference="human",
)  # fmt: skip


def _export_rows() -> list[dict]:
    """The answers as the export writes them: the reference as A on even rows, as B on odd
    ones, so the analysis must find the compared system on either side."""
    rows = []
    with DATA.open() as handle:
        for n, r in enumerate(csv.DictReader(handle)):
            a, b = ("human", r["system"]) if n % 2 == 0 else (r["system"], "human")
            rows.append({
                "participant": r["listener"], "trial": n, "block": 1, "stimulus": 1000 + n,
                "system": a, "second_system": b, "x_stimulus": r["clip"],
                "x_system": r["system"], "correct": r["correct"] == "1", "choice": "first",
            })  # fmt: skip
    return rows


def test_abx_model_matches_glmer_with_listener_and_x_clip_intercepts():
    # R: d <- read.csv("abx_answers.csv")
    #    m <- glmer(correct ~ 0 + system + (1 | listener) + (1 | clip), d, binomial)
    # fixef model-a 0.9674466454, model-b 0.3963263591; SE 0.3088599913, 0.2941275718
    # listener variance 0.2970421596, clip variance 0.1148056375; logLik -121.3167214
    notes = []
    model = fit_binary_model(
        abx_rows(BLOCK, _export_rows()), ["model-a", "model-b"],
        lambda r: int(r["correct"]), notes, what="matched X",
    )  # fmt: skip
    # The likelihood is flat at the top here: earshot's Laplace deviance differs from
    # lme4's by 8e-5 in logLik, and its optimum (0.96781, 0.39639) is higher than R's point by
    # 1e-6 on its own scale, so coefficients agree to 4e-4 and SEs to 5e-3, not closer.
    np.testing.assert_allclose(model.fit.coefficients, [0.9674466454, 0.3963263591], rtol=1e-3)
    np.testing.assert_allclose(model.fit.standard_errors, [0.3088599913, 0.2941275718], rtol=6e-3)
    assert model.fit.group_variances["listener"] == pytest.approx(0.2970421596, rel=1e-3)
    assert model.fit.group_variances["clip"] == pytest.approx(0.1148056375, rel=1e-3)
    assert model.fit.log_likelihood == pytest.approx(-121.3167214, abs=1e-4)
    assert model.clips == 12 and model.listeners == 16


def test_abx_block_reports_each_system_against_guessing():
    # R: binom.test(68, 96)$p.value 5.459154358e-05; binom.test(57, 96)$p.value 0.08219306856
    result = analyse_abx(BLOCK, _export_rows(), Options())
    a, b = result["systems_table"]
    assert (a.system, a.correct, a.n) == ("model-a", 68, 96)
    assert (b.system, b.correct, b.n) == ("model-b", 57, 96)
    assert a.p_binomial == pytest.approx(5.459154358e-05, rel=1e-6)
    assert b.p_binomial == pytest.approx(0.08219306856, rel=1e-6)
    # The population-averaged share lies between 50% and the typical listener's.
    assert 0.5 < a.model_share < 1 / (1 + np.exp(-0.9674466454))
    assert a.model_p < 0.05 and a.model_low > 0.5
    assert "model-a was told apart from human" in a.sentence
    assert "model-b was not shown to be told apart from human" in b.sentence
    assert result["model"].formula.startswith("answer ~ 0 + system + (1 | listener) + (1 | clip)")
