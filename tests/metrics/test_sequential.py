"""Group-sequential boundaries, stopping decisions and stage-wise p values, pinned to R's
rpact 3.3 (Debian r-cran-rpact). Values are rpact's printed ones, to 6 decimals."""

import math

import pytest
from scipy import stats

from metrics.statistics.sequential import (
    group_sequential_design,
    operating_characteristics,
    stagewise_p_value,
)


@pytest.mark.parametrize(
    ("rates", "alpha", "sided", "spending", "boundaries", "spent"),
    [
        # R: library(rpact)
        #    d <- getDesignGroupSequential(kMax=3, alpha=0.025, sided=1, typeOfDesign="asOF")
        #    d$criticalValues; d$alphaSpent
        (
            [1 / 3, 2 / 3, 1], 0.025, 1, "obrien-fleming",
            [3.710303, 2.511427, 1.993047], [0.00010351, 0.00604839, 0.025],
        ),
        # R: getDesignGroupSequential(kMax=3, alpha=0.025, sided=1, typeOfDesign="asP")
        (
            [1 / 3, 2 / 3, 1], 0.025, 1, "pocock",
            [2.279428, 2.294911, 2.295940], [0.01132081, 0.01908456, 0.025],
        ),
        # R: getDesignGroupSequential(informationRates=c(0.25,0.6,1), alpha=0.05, sided=2,
        #                             typeOfDesign="asOF")
        (
            [0.25, 0.6, 1], 0.05, 2, "obrien-fleming",
            [4.332634, 2.668869, 1.980976], [0.00001473, 0.00761613, 0.05],
        ),
        # R: getDesignGroupSequential(informationRates=c(0.25,0.6,1), alpha=0.05, sided=2,
        #                             typeOfDesign="asP")
        (
            [0.25, 0.6, 1], 0.05, 2, "pocock",
            [2.368328, 2.292087, 2.267036], [0.01786870, 0.03542565, 0.05],
        ),
        # R: getDesignGroupSequential(informationRates=c(0.2,0.4,0.7,1), alpha=0.05,
        #                             sided=1, typeOfDesign="asOF")
        (
            [0.2, 0.4, 0.7, 1], 0.05, 1, "obrien-fleming",
            [4.229195, 2.888137, 2.085302, 1.704039],
            [0.00001173, 0.00194191, 0.01914964, 0.05],
        ),
    ],
)  # fmt: skip
def test_boundaries_match_rpact(rates, alpha, sided, spending, boundaries, spent):
    design = group_sequential_design(rates, alpha=alpha, sided=sided, spending=spending)
    assert design.efficacy == pytest.approx(boundaries, abs=2e-6)
    assert design.cumulative_alpha == pytest.approx(spent, abs=1e-8)


def test_power_and_expected_size_with_futility_bounds_match_rpact():
    # R: d <- getDesignGroupSequential(kMax=3, alpha=0.025, sided=1, typeOfDesign="asOF",
    #                                  futilityBounds=c(0, 0), bindingFutility=FALSE)
    #    p <- getPowerMeans(d, alternative=0.5, stDev=1, maxNumberOfSubjects=100,
    #                       normalApproximation=TRUE, groups=1)
    #    p$overallReject; p$rejectPerStage; p$futilityPerStage; p$expectedNumberOfSubjects
    #    -> 0.996931; 0.205097 0.736544 0.055290; 0.001946 0.000009; 61.6453
    design = group_sequential_design([1 / 3, 2 / 3, 1], alpha=0.025, futility=[0, 0])
    result = operating_characteristics(design, drift=0.5 * math.sqrt(100))
    assert result.rejection == pytest.approx(0.996931, abs=1e-6)
    assert result.efficacy_by_look == pytest.approx([0.205097, 0.736544, 0.055290], abs=1e-6)
    assert result.futility_by_look == pytest.approx([0.001946, 0.000009], abs=1e-6)
    assert 100 * result.expected_information == pytest.approx(61.6453, abs=1e-4)


def test_non_binding_futility_keeps_the_type_i_error_below_alpha():
    design = group_sequential_design([0.5, 1], alpha=0.025, futility=[0])
    assert operating_characteristics(design, drift=0).rejection < 0.025
    no_futility = group_sequential_design([0.5, 1], alpha=0.025)
    assert operating_characteristics(no_futility, drift=0).rejection == pytest.approx(0.025)


def test_decisions_at_each_look():
    design = group_sequential_design([1 / 3, 2 / 3, 1], alpha=0.05, sided=2, futility=[0, 0])
    assert design.decision(0, 3.0) == "continue"  # below 3.71 early on
    assert design.decision(0, 4.0) == "efficacy"
    assert design.decision(1, -0.5) == "futility"  # the wrong direction at an interim look
    assert design.decision(2, 1.9) == "futility"  # the last look, not crossed: null kept
    assert design.decision(2, -2.5) == "efficacy"  # two-sided: either direction
    assert design.nominal_p(2) == pytest.approx(2 * stats.norm.sf(design.efficacy[2]))


def test_stagewise_p_value_is_alpha_spent_at_the_boundary_and_monotone():
    design = group_sequential_design([1 / 3, 2 / 3, 1], alpha=0.025)
    # At the first look it is the ordinary p value.
    assert stagewise_p_value(design, look=0, z=2.0) == pytest.approx(stats.norm.sf(2.0))
    # Stopping exactly on a boundary gives the alpha spent by that look.
    for look in range(3):
        p = stagewise_p_value(design, look=look, z=design.efficacy[look])
        assert p == pytest.approx(design.cumulative_alpha[look], abs=1e-7)
    # Later stopping and smaller z are weaker evidence.
    assert stagewise_p_value(design, look=1, z=3.0) < stagewise_p_value(design, look=1, z=2.6)
    assert stagewise_p_value(design, look=1, z=5.0) > design.cumulative_alpha[0]


@pytest.mark.parametrize(
    ("rates", "message"),
    [([0.5, 0.9], "increase to 1"), ([0.5, 0.5, 1], "increase to 1"), ([0, 1], "above 0")],
)
def test_bad_looks_are_refused(rates, message):
    with pytest.raises(ValueError, match=message):
        group_sequential_design(rates)
