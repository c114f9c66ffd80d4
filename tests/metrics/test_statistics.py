"""The statistics pinned to reference values from independent sources, cited per test.

Where the source is an R call, the call is in a comment and the value is R's printed
output as published by the package authors (tests, vignettes or help pages).
"""

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from metrics.statistics.agreement import intraclass_correlation, krippendorff_alpha
from metrics.statistics.bradley_terry import Comparison, fit_bradley_terry
from metrics.statistics.detection import sensitivity
from metrics.statistics.effect_sizes import (
    cliffs_delta,
    cohens_d,
    cohens_d_noncentral_interval,
    cohens_dz,
    hedges_g,
    rank_biserial_paired,
)
from metrics.statistics.glmm import fit_binary_mixed
from metrics.statistics.mixed import fit_crossed_intercepts
from metrics.statistics.multiple import adjust_p_values
from metrics.statistics.ordinal import fit_cumulative_logit
from metrics.statistics.ordinal_mixed import fit_cumulative_logit_mixed
from metrics.statistics.power import (
    cohens_h,
    listeners_for_preference,
    listeners_for_rating_difference,
    trials_for_preference,
)
from metrics.statistics.proportions import binomial_test, two_proportions, wilson_interval

DATA = Path(__file__).parents[1] / "data"


# --- proportions -------------------------------------------------------------------------


def test_wilson_interval_reproduces_deepj_preference_share():
    # DeepJ (Mao et al. 2017, seed 004): 210 of 300 listeners preferred DeepJ. The paper
    # prints 70% +- 5.16% (a Wald interval); the Wilson interval is 64.6-74.9%.
    share = wilson_interval(210, 300)
    assert share.share == pytest.approx(0.70)
    assert round(share.low * 100, 1) == 64.6
    assert round(share.high * 100, 1) == 74.9


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        # Newcombe (1998), Statistics in Medicine 17:857-872, Table II, method 3 (Wilson).
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_interval_matches_newcombe_table(successes, n, low, high):
    share = wilson_interval(successes, n)
    assert share.low == pytest.approx(low, abs=1e-4)
    assert share.high == pytest.approx(high, abs=1e-4)


def test_wilson_interval_with_no_answers_is_empty_not_nan():
    share = wilson_interval(0, 0)
    assert share.share is None and share.low is None and share.high is None


def test_exact_binomial_test_matches_r():
    # R, ?binom.test (Mendel's peas): binom.test(c(682, 243), p = 3/4) -> p-value = 0.3825
    result = binomial_test(682, 925, null_share=0.75)
    assert result.p_value == pytest.approx(0.3825, abs=1e-4)


def test_fishers_exact_test_matches_r_tea_tasting():
    # R, ?fisher.test: TeaTasting <- matrix(c(3, 1, 1, 3), nrow = 2)
    # fisher.test(TeaTasting) -> p-value = 0.4857
    result = two_proportions(3, 4, 1, 4)
    assert result.p_value_fisher == pytest.approx(0.4857, abs=1e-4)


def test_two_proportion_z_on_deepj_style_test():
    # DeepJ's style test: 53 of 90 DeepJ clips and 47 of 90 human clips classified correctly.
    # The paper reports z = 0.945, which is what its rounded shares give:
    # (0.59 - 0.52) / sqrt(p(1 - p)(2/90)) with p = 100/180. The exact counts give
    # z = (53/90 - 47/90) / sqrt(100/180 * 80/180 * 2/90) = 0.9000; R's
    # prop.test(c(53, 47), c(90, 90), correct = FALSE) reports X-squared = z^2 = 0.81.
    result = two_proportions(53, 90, 47, 90)
    assert result.z == pytest.approx(0.9000, abs=1e-4)
    rounded = (0.59 - 0.52) / math.sqrt(100 / 180 * 80 / 180 * 2 / 90)
    assert rounded == pytest.approx(0.945, abs=1e-3)
    assert result.p_value_z > 0.05  # "no statistical difference", as the paper concludes


# --- multiple comparisons ----------------------------------------------------------------


def test_holm_and_benjamini_hochberg_match_p_adjust():
    # R: p.adjust(c(0.01, 0.02, 0.03, 0.04, 0.05), "holm") -> 0.05 0.08 0.09 0.09 0.09
    #    p.adjust(c(0.01, 0.02, 0.03, 0.04, 0.05), "BH")   -> 0.05 0.05 0.05 0.05 0.05
    p = [0.03, 0.01, 0.05, 0.02, 0.04]  # unsorted on purpose
    assert adjust_p_values(p, method="holm") == pytest.approx([0.09, 0.05, 0.09, 0.08, 0.09])
    assert adjust_p_values(p, method="bh") == pytest.approx([0.05] * 5)
    with pytest.raises(ValueError, match="unknown correction"):
        adjust_p_values(p, method="bonferonni")


# --- effect sizes ------------------------------------------------------------------------


def test_cliffs_delta_matches_effsize():
    # R effsize package, tests/testCliff.Rout.save (the printed R output; the comment
    # above it in testCliff.R still shows an older version's interval):
    # cliff.delta(c(10,10,20,20,20,30,30,30,40,50), c(10,20,30,40,40,50),
    #             use.unbiased = FALSE, use.normal = TRUE)
    # -> delta estimate: -0.25, 95 percent CI -0.7125351 0.3639999
    result = cliffs_delta([10, 10, 20, 20, 20, 30, 30, 30, 40, 50], [10, 20, 30, 40, 40, 50])
    assert result.estimate == pytest.approx(-0.25)
    assert result.low == pytest.approx(-0.7125351, abs=1e-6)
    assert result.high == pytest.approx(0.3639999, abs=1e-6)


def test_cohens_d_interval_follows_hedges_olkin():
    # Two groups of 20 whose means differ by half a pooled SD: d = 0.5 and, by Hedges &
    # Olkin (1985) eq. 5.14, se = sqrt(40/400 + 0.25/80) = 0.321131, so the 95% interval
    # is 0.5 -+ 1.959964 * 0.321131 = (-0.12940, 1.12940).
    base = np.array([-1.0, 1.0] * 10)
    spread = base / base.std(ddof=1)
    result = cohens_d(spread + 0.5, spread)
    assert result.estimate == pytest.approx(0.5)
    assert result.low == pytest.approx(-0.12940, abs=1e-5)
    assert result.high == pytest.approx(1.12940, abs=1e-5)


def test_hedges_g_and_the_noncentral_t_interval_match_r():
    # R (base): a <- c(5.1, 6.3, 4.8, 7.2, 6.0, 5.5, 6.8, 5.9); b <- c(4.2, 5.0, 4.9, 3.8,
    #   5.6, 4.4, 5.2); d <- (mean(a) - mean(b)) / pooled SD; t <- d / sqrt(1/8 + 1/7)
    #   ncp bounds: uniroot(function(x) pt(t, 13, x) - 0.975 | 0.025, c(-20, 20))
    #   J <- gamma(13/2) / (sqrt(13/2) * gamma(12/2))
    # d 1.6652063806 [0.4464160749, 2.8383410452]; g 1.5669300088 [0.4200696997, 2.6708291602]
    a = [5.1, 6.3, 4.8, 7.2, 6.0, 5.5, 6.8, 5.9]
    b = [4.2, 5.0, 4.9, 3.8, 5.6, 4.4, 5.2]
    low, high = cohens_d_noncentral_interval(cohens_d(a, b).estimate, 8, 7)
    assert (low, high) == pytest.approx((0.4464160749, 2.8383410452), rel=1e-6)
    g = hedges_g(a, b)
    assert (g.estimate, g.low, g.high) == pytest.approx(
        (1.5669300088, 0.4200696997, 2.6708291602), rel=1e-6
    )
    assert g.interval_method == "noncentral t"


def test_bonferroni_matches_p_adjust():
    # R: p.adjust(c(0.01, 0.02, 0.04, 0.5), "bonferroni") -> 0.04 0.08 0.16 1.00
    assert adjust_p_values([0.01, 0.02, 0.04, 0.5], method="bonferroni") == pytest.approx(
        [0.04, 0.08, 0.16, 1.0]
    )


def test_d_prime_without_correction_uses_the_plain_rates():
    # 40 of 50 human clips judged human, 20 of 50 machine clips: z(0.8) - z(0.4)
    plain = sensitivity(40, 50, 20, 50, correction="none")
    assert plain.d_prime == pytest.approx(0.8416212 + 0.2533471, abs=1e-6)
    assert not plain.corrected
    assert sensitivity(50, 50, 20, 50, correction="none") is None  # a rate of 1: infinite


def test_paired_effect_sizes_on_hollander_wolfe_depression_data():
    # R, ?wilcox.test: Hollander & Wolfe (1973) p. 29, Hamilton depression scale.
    # wilcox.test(x, y, paired = TRUE, alternative = "greater") -> V = 40, p-value = 0.01953
    # so W+ = 40 and W- = 45 - 40 = 5: rank-biserial r = (40 - 5) / 45 = 0.7778.
    x = np.array([1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30])
    y = np.array([0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29])
    r = rank_biserial_paired(x - y)
    assert r.estimate == pytest.approx(35 / 45)
    assert r.low < r.estimate < r.high <= 1
    assert rank_biserial_paired(x - y) == r  # the bootstrap is seeded
    dz = cohens_dz(x - y)
    diffs = x - y
    assert dz.estimate == pytest.approx(diffs.mean() / diffs.std(ddof=1))


# --- mixed model -------------------------------------------------------------------------

# lme4's Penicillin data (Davies & Goldsmith 1972): inhibition-zone diameters for 6 samples
# on each of 24 plates, plates a..x in order, samples A..F within each plate.
PENICILLIN = [
    27, 23, 26, 23, 23, 21, 27, 23, 26, 23, 23, 21, 25, 21, 25, 24, 24, 20, 26, 23, 25, 23,
    23, 20, 25, 22, 26, 22, 23, 20, 24, 22, 25, 23, 22, 19, 24, 20, 23, 21, 22, 19, 26, 22,
    26, 24, 24, 21, 24, 21, 24, 22, 22, 20, 24, 21, 24, 23, 22, 19, 26, 23, 26, 24, 24, 21,
    25, 22, 26, 24, 24, 20, 26, 24, 26, 24, 25, 22, 26, 23, 26, 23, 23, 20, 26, 23, 25, 24,
    24, 22, 25, 22, 25, 23, 23, 20, 25, 21, 24, 23, 23, 20, 25, 22, 24, 23, 23, 19, 24, 21,
    23, 21, 21, 19, 26, 23, 26, 24, 24, 21, 25, 21, 24, 22, 22, 18, 25, 22, 25, 22, 22, 20,
    24, 21, 24, 22, 24, 19, 24, 21, 24, 22, 21, 18,
]  # fmt: skip


def test_crossed_random_intercepts_match_lme4_penicillin():
    # R: lmer(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin)   (REML)
    # Bates, "lme4: Mixed-effects modeling with R" (2010), section 2.1.2:
    #   plate variance 0.71691, sample variance 3.73097, residual 0.30241,
    #   intercept 22.9722 (SE 0.8086), REML criterion 330.9
    plate = np.repeat(np.arange(24), 6)
    sample = np.tile(np.arange(6), 24)
    fit = fit_crossed_intercepts(PENICILLIN, np.ones((144, 1)), {"plate": plate, "sample": sample})
    assert fit.coefficients[0] == pytest.approx(22.9722, abs=1e-4)
    assert fit.standard_errors[0] == pytest.approx(0.8086, abs=1e-4)
    assert fit.group_variances["plate"] == pytest.approx(0.71691, abs=2e-4)
    assert fit.group_variances["sample"] == pytest.approx(3.73097, abs=2e-3)
    assert fit.residual_variance == pytest.approx(0.30241, abs=2e-5)
    assert fit.reml_criterion == pytest.approx(330.9, abs=0.05)


def test_mixed_model_interval_is_wider_than_the_naive_one_for_clustered_ratings():
    # What the model is for: 20 listeners who each rate 10 clips, with strong listener
    # effects. SD/sqrt(n) over 200 answers pretends they are 200 independent listeners.
    rng = np.random.default_rng(7)
    listener = np.repeat(np.arange(20), 10)
    ratings = 5 + rng.normal(0, 1.5, 20)[listener] + rng.normal(0, 0.5, 200)
    fit = fit_crossed_intercepts(ratings, np.ones((200, 1)), {"listener": listener})
    naive_se = ratings.std(ddof=1) / math.sqrt(200)
    assert fit.standard_errors[0] > 2.5 * naive_se
    per_listener = np.array([ratings[listener == i].mean() for i in range(20)])
    assert fit.standard_errors[0] == pytest.approx(per_listener.std(ddof=1) / math.sqrt(20))


def _read(name):
    with open(DATA / name, newline="") as handle:
        return list(csv.DictReader(handle))


def _codes(values):
    _, codes = np.unique(values, return_inverse=True)
    return codes


def _ham():
    # lmerTest's ham data (Kuznetsova et al. 2017): 81 consumers, 4 products, 2 ratings each.
    rows = _read("ham.csv")
    y = np.array([float(r["Informed.liking"]) for r in rows])
    product = np.array([int(r["Product"]) for r in rows])
    consumer = [r["Consumer"] for r in rows]
    X = np.column_stack([np.ones(len(y))] + [(product == k).astype(float) for k in (2, 3, 4)])
    groups = {
        "Consumer": _codes(consumer),
        "Consumer:Product": _codes([f"{c}:{p}" for c, p in zip(consumer, product, strict=True)]),
    }
    return y, X, groups


def test_satterthwaite_degrees_of_freedom_match_lmertest_on_ham():
    # R: library(lmerTest)
    #    m <- lmer(Informed.liking ~ Product + (1 | Consumer) + (1 | Consumer:Product), ham)
    #    summary(m)$coefficients; contest(m, c(0, 1, -1, 0)); anova(m)
    # (Intercept) 5.8086419753 SE 0.2322605466 df 313.1338245
    # Product2   -0.7037037037 SE 0.3141116131 df 239.9997219  p 0.02598737899
    # Product2 - Product3: F 9.886485873 on 1 and 239.9997239 df, p 0.001874864248
    # anova: Product F 3.82915 on 3 and 239.99972 df, p 0.010476
    # VarCorr: Consumer:Product 3.1464404911, Consumer 0.3735646117, residual 1.6990735599
    y, X, groups = _ham()
    fit = fit_crossed_intercepts(y, X, groups)
    assert fit.group_variances["Consumer:Product"] == pytest.approx(3.1464404911, rel=1e-4)
    assert fit.group_variances["Consumer"] == pytest.approx(0.3735646117, rel=1e-4)
    assert fit.residual_variance == pytest.approx(1.6990735599, rel=1e-4)
    intercept = fit.contrast([1, 0, 0, 0])
    assert intercept.estimate == pytest.approx(5.8086419753, rel=1e-6)
    assert intercept.standard_error == pytest.approx(0.2322605466, rel=1e-4)
    assert intercept.df == pytest.approx(313.1338245, rel=1e-4)
    product2 = fit.contrast([0, 1, 0, 0])
    assert product2.estimate == pytest.approx(-0.7037037037, rel=1e-6)
    assert product2.standard_error == pytest.approx(0.3141116131, rel=1e-4)
    assert product2.df == pytest.approx(239.9997219, rel=1e-4)
    assert product2.p_value == pytest.approx(0.02598737899, rel=1e-4)
    assert product2.method == "Satterthwaite t"
    difference = fit.contrast([0, 1, -1, 0])
    assert difference.statistic**2 == pytest.approx(9.886485873, rel=1e-4)
    assert difference.p_value == pytest.approx(0.001874864248, rel=1e-3)
    omnibus = fit.f_test(np.eye(4)[1:])
    assert omnibus.f == pytest.approx(3.82915, rel=1e-5)
    assert omnibus.numerator_df == 3
    assert omnibus.denominator_df == pytest.approx(239.99972, rel=1e-4)
    assert omnibus.p_value == pytest.approx(0.010476, abs=2e-6)


def test_satterthwaite_intervals_are_wider_than_z_with_few_clips():
    # Three clips per system (the demo's design): a contrast rests on a handful of clips.
    rng = np.random.default_rng(3)
    clip = np.tile(np.arange(6), 20)
    listener = np.repeat(np.arange(20), 6)
    system = (clip >= 3).astype(int)
    y = 5 + 0.5 * system + rng.normal(0, 0.8, 6)[clip] + rng.normal(0, 1, 20)[listener]
    y = y + rng.normal(0, 1, 120)
    X = np.column_stack([1 - system, system]).astype(float)
    fit = fit_crossed_intercepts(y, X, {"listener": listener, "clip": clip})
    contrast = fit.contrast([1, -1])
    assert contrast.df < 8
    z_half_width = 1.959964 * contrast.standard_error
    assert (contrast.high - contrast.low) / 2 > 1.2 * z_half_width


def test_binary_mixed_model_matches_glmer_on_cbpp():
    # R: glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, binomial)
    # fixef -1.398342864 -0.991924975 -1.128216216 -1.579745414
    # SE     0.2312140481 0.3031506445 0.3228301532 0.4220491594; herd variance 0.4122537921
    # logLik -92.02656639. lme4's own Laplace deviance stops short here: its devfun at its
    # optimum returns 184.053133, the same deviance with PIRLS iterated to convergence is
    # 184.052572 there and 184.052564 at our optimum (away from the optimum the two agree to
    # 3e-6, e.g. 184.903648 vs 184.903646 at theta 0.5, beta (-1.4, -1, -1.1, -1.5)). So the
    # estimates agree to 5e-4 and the Hessian-based SEs, which lme4 takes by finite
    # differences of that rougher function, to 1.5%.
    rows = _read("cbpp.csv")
    y = np.array([float(r["incidence"]) for r in rows])
    size = np.array([float(r["size"]) for r in rows])
    period = np.array([int(r["period"]) for r in rows])
    X = np.column_stack([np.ones(len(y))] + [(period == k).astype(float) for k in (2, 3, 4)])
    fit = fit_binary_mixed(y, X, {"herd": _codes([r["herd"] for r in rows])}, trials=size)
    expected = [-1.398342864, -0.991924975, -1.128216216, -1.579745414]
    np.testing.assert_allclose(fit.coefficients, expected, rtol=5e-4)
    np.testing.assert_allclose(
        fit.standard_errors, [0.2312140481, 0.3031506445, 0.3228301532, 0.4220491594], rtol=1.5e-2
    )
    assert fit.group_variances["herd"] == pytest.approx(0.4122537921, rel=1e-3)
    assert fit.log_likelihood == pytest.approx(-92.02656639, abs=1e-3)
    assert fit.log_likelihood >= -92.02656639
    assert not fit.separated and not fit.singular


def test_binary_mixed_model_with_crossed_listeners_and_clips_matches_glmer():
    # 288 Turing answers simulated once (24 listeners x 12 of 16 clips, two systems).
    # R: glmer(judged_human ~ 0 + system + (1 | listener) + (1 | clip), d, binomial)
    # fixef human 0.4585621832, model 0.1572428065; SE 0.2194585938, 0.2130063273
    # listener variance 0.29296395834, clip variance 0.02771110748; logLik -193.7267168
    rows = _read("turing_crossed.csv")
    y = np.array([int(r["judged_human"]) for r in rows])
    X = np.array([[r["system"] == "human", r["system"] == "model"] for r in rows], float)
    groups = {
        "listener": _codes([r["listener"] for r in rows]),
        "clip": _codes([r["clip"] for r in rows]),
    }
    fit = fit_binary_mixed(y, X, groups)
    np.testing.assert_allclose(fit.coefficients, [0.4585621832, 0.1572428065], rtol=1e-4)
    np.testing.assert_allclose(fit.standard_errors, [0.2194585938, 0.2130063273], rtol=2e-3)
    assert fit.group_variances["listener"] == pytest.approx(0.29296395834, rel=3e-4)
    assert fit.group_variances["clip"] == pytest.approx(0.02771110748, rel=3e-4)
    assert fit.log_likelihood == pytest.approx(-193.7267168, abs=1e-4)
    share = fit.population_share(fit.coefficients[1])
    assert 0.5 < share < fit.conditional_share(fit.coefficients[1])


def test_binary_mixed_model_says_when_every_answer_went_one_way():
    listener = np.repeat(np.arange(10), 6)
    clip = np.tile(np.arange(6), 10)
    y = np.zeros(60)
    y[clip >= 3] = (np.arange(30) % 3 == 0).astype(float)
    X = np.column_stack([clip < 3, clip >= 3]).astype(float)
    fit = fit_binary_mixed(y, X, {"listener": listener, "clip": clip})
    assert fit.separated


def test_ordinal_mixed_model_matches_clmm_on_wine():
    # R: library(ordinal); clmm(rating ~ temp + contact + (1 | judge), data = wine)
    # tempwarm 3.062996626 (SE 0.5953761831), contactyes 1.834884922 (SE 0.5125293320)
    # thresholds -1.623666924 1.513365183 4.228526688 6.088772558; judge SD 1.131132578
    # logLik -81.56540929
    rows = _read("wine.csv")
    levels = np.array([int(r["rating"]) - 1 for r in rows])
    X = np.array([[r["temp"] == "warm", r["contact"] == "yes"] for r in rows], float)
    fit = fit_cumulative_logit_mixed(levels, X, _codes([r["judge"] for r in rows]))
    np.testing.assert_allclose(fit.coefficients, [3.062996626, 1.834884922], rtol=1e-4)
    np.testing.assert_allclose(fit.standard_errors, [0.5953761831, 0.5125293320], rtol=1e-4)
    np.testing.assert_allclose(
        fit.thresholds, [-1.623666924, 1.513365183, 4.228526688, 6.088772558], rtol=1e-4
    )
    assert fit.listener_sd == pytest.approx(1.131132578, rel=1e-4)
    assert fit.log_likelihood == pytest.approx(-81.56540929, abs=1e-4)


def test_ordinal_mixed_model_with_listeners_at_the_top_of_the_scale_matches_clmm():
    # Three of 30 listeners gave every clip a 5. R: clmm(rating ~ system + (1 | listener),
    # data = d, control = clmm.control(gradTol = 1e-8, maxIter = 500)): systemb 1.8260088454
    # (SE 0.3239730844), thresholds -4.5018430699 -2.7488451250 -0.4573997246 2.3278604075,
    # listener SD 4.327997748, logLik -238.4706321. (With clmm's default gradTol = 1e-4 it
    # stops at logLik -238.4736, 1.8256.) The likelihood is flat along the listener SD and
    # the thresholds together: this fit's logLik is 1.6e-6 higher than R's, its thresholds
    # within 4e-4 (0.05% of their SEs), so those pins are absolute, the others 2e-4 relative.
    # Before the damped Newton step the fit landed at logLik -267.68 with systemb 0.42.
    rows = _read("ordinal_extreme_listeners.csv")
    levels = np.array([int(r["rating"]) - 1 for r in rows])
    X = np.array([[r["system"] == "b"] for r in rows], float)
    fit = fit_cumulative_logit_mixed(levels, X, _codes([r["listener"] for r in rows]))
    assert fit.coefficients[0] == pytest.approx(1.8260088454, rel=2e-4)
    assert fit.standard_errors[0] == pytest.approx(0.3239730844, rel=2e-4)
    np.testing.assert_allclose(
        fit.thresholds, [-4.5018430699, -2.7488451250, -0.4573997246, 2.3278604075], atol=1e-3
    )
    assert fit.listener_sd == pytest.approx(4.327997748, rel=2e-4)
    assert fit.log_likelihood == pytest.approx(-238.4706321, abs=1e-4)
    assert fit.converged


# --- ordinal -----------------------------------------------------------------------------


def test_cumulative_logit_matches_polr_on_ucla_admissions():
    # UCLA OARC ordinal logistic regression example (ologit.dta, 400 students):
    # R: MASS::polr(apply ~ pared + public + gpa, data = ologit, Hess = TRUE)
    #   pared 1.04769 (SE 0.2658), public -0.05879 (SE 0.2979), gpa 0.61594 (SE 0.2606)
    #   thresholds unlikely|somewhat likely 2.2039, somewhat likely|very likely 4.2994
    order = {"unlikely": 0, "somewhat likely": 1, "very likely": 2}
    with open(DATA / "ologit_ucla.csv") as f:
        rows = list(csv.DictReader(f))
    levels = [order[r["apply"]] for r in rows]
    X = [[float(r["pared"]), float(r["public"]), float(r["gpa"])] for r in rows]
    fit = fit_cumulative_logit(levels, X)
    assert fit.coefficients == pytest.approx([1.04769, -0.05879, 0.61594], abs=2e-4)
    assert fit.standard_errors == pytest.approx([0.2658, 0.2979, 0.2606], abs=2e-4)
    # polr's optimiser (BFGS, default reltol) stops about 6e-4 short on the thresholds;
    # Newton's method converges to 2.20332, 4.29877, whose log-likelihood is no lower.
    assert fit.thresholds == pytest.approx([2.2039, 4.2994], abs=1e-3)
    assert fit.converged


# --- Bradley-Terry -----------------------------------------------------------------------

JOURNALS = ["Biometrika", "Comm Statist", "JASA", "JRSS-B"]
# Stigler (1994) citations, as BradleyTerry2's `citations`: cited journal "wins".
CITED_BY = {  # (cited, citing): count
    (1, 0): 33, (2, 0): 320, (3, 0): 284, (0, 1): 730, (2, 1): 813, (3, 1): 276,
    (0, 2): 498, (1, 2): 68, (3, 2): 325, (0, 3): 221, (1, 3): 17, (2, 3): 142,
}  # fmt: skip


def test_bradley_terry_matches_bradleyterry2_citations():
    # BradleyTerry2 tests/BTabilities.Rout.save (R 3.6.0):
    # BTabilities(BTm(cbind(win1, win2), journal1, journal2, data = citations.sf))
    #   Comm Statist -2.9490725 (0.10254534), JASA -0.4795698 (0.06058873),
    #   JRSS-B 0.2689541 (0.07082997); Biometrika is the reference.
    comparisons = [
        Comparison(i, j, CITED_BY[(i, j)], CITED_BY[(j, i)])
        for i in range(4)
        for j in range(i + 1, 4)
    ]
    fit = fit_bradley_terry(JOURNALS, comparisons)
    abilities = {s.name: (s.ability, s.standard_error) for s in fit.strengths}
    assert abilities["Biometrika"] == (0.0, 0.0)
    assert abilities["Comm Statist"] == pytest.approx((-2.9490725, 0.10254534), abs=1e-6)
    assert abilities["JASA"] == pytest.approx((-0.4795698, 0.06058873), abs=1e-6)
    assert abilities["JRSS-B"] == pytest.approx((0.2689541, 0.07082997), abs=1e-6)


def test_bradley_terry_says_when_a_system_never_loses():
    fit = fit_bradley_terry(["a", "b"], [Comparison(0, 1, 5, 0)])
    assert not fit.estimable and "never won or never lost" in fit.problem


def test_bradley_terry_clustered_errors_grow_when_listeners_are_consistent():
    # 10 listeners, 10 comparisons each; half always pick A, half always pick B. The
    # model-based SE treats 100 coin flips as independent; clustering by listener sees
    # 10 clusters of identical answers and must widen the interval.
    comparisons = [
        Comparison(0, 1, 10, 0, cluster=i) if i % 2 else Comparison(0, 1, 0, 10, cluster=i)
        for i in range(10)
    ]
    comparisons += [Comparison(0, 1, 1, 1, cluster=i) for i in range(10)]
    strengths = fit_bradley_terry(["a", "b"], comparisons).strengths
    assert strengths[1].robust_standard_error > 2 * strengths[1].standard_error


# --- agreement ---------------------------------------------------------------------------


def test_krippendorff_alpha_matches_krippendorff_2011_example():
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", section C:
    # 4 observers x 12 units with missing values: nominal 0.743, interval 0.849.
    nan = math.nan
    data = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
        [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ]
    assert round(krippendorff_alpha(data, level="nominal"), 3) == 0.743
    assert round(krippendorff_alpha(data, level="interval"), 3) == 0.849
    assert round(krippendorff_alpha(data, level="ordinal"), 3) == 0.815
    assert round(krippendorff_alpha(data, level="ratio"), 3) == 0.797


def test_krippendorff_alpha_is_undefined_without_pairs():
    assert krippendorff_alpha([[1, math.nan], [math.nan, 2]], level="nominal") is None


# Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges.
SHROUT_FLEISS = [
    [9, 2, 5, 8],
    [6, 1, 3, 2],
    [8, 4, 6, 8],
    [7, 1, 2, 6],
    [10, 5, 6, 9],
    [6, 2, 4, 7],
]


def _shrout_fleiss_long(dropped=()):
    rows = [
        (rating, target, judge)
        for target, row in enumerate(SHROUT_FLEISS)
        for judge, rating in enumerate(row)
        if (target, judge) not in dropped
    ]
    return [np.array(column) for column in zip(*rows, strict=True)]


def test_intraclass_correlation_matches_shrout_fleiss_and_lmer():
    # Published (Shrout & Fleiss 1979, Table 4): ICC(2,1) .29, ICC(3,1) .71, ICC(2,4) .62.
    # R: f <- lmer(rating ~ 1 + (1 | target) + (1 | judge), d); VarCorr(f)
    # target 2.55556283819, judge 5.24445076692, residual 1.01944336520; from anova(lm(...)),
    # the mean-square formulas give ICC2 0.289763779528, ICC3 0.714840714841,
    # ICC2k 0.620050547599 (REML equals ANOVA on complete data; lmer's optimiser stops at 1e-6).
    ratings, targets, judges = _shrout_fleiss_long()
    icc = intraclass_correlation(ratings, judges, targets)
    assert icc.clip_variance == pytest.approx(2.55556283819, rel=1e-5)
    assert icc.listener_variance == pytest.approx(5.24445076692, rel=1e-5)
    assert icc.residual_variance == pytest.approx(1.01944336520, rel=1e-5)
    assert icc.agreement == pytest.approx(0.289763779528, rel=1e-5)
    assert icc.consistency == pytest.approx(0.714840714841, rel=1e-5)
    assert icc.average_agreement == pytest.approx(0.620050547599, rel=1e-5)
    assert icc.listeners_per_clip == 4
    assert round(icc.agreement, 2) == 0.29 and round(icc.consistency, 2) == 0.71


def test_intraclass_correlation_on_an_incomplete_design_matches_lmer():
    # The same data without target 1 / judge 1, target 3 / judge 4 and target 5 / judge 2
    # (R: d <- d[-c(1, 12, 18), ]; lmer as above): target 2.32159042386, judge 5.07462754324,
    # residual 1.20871711145; A1 0.269797552529, C1 0.657617049120, and with k = 3.5 listeners
    # per clip Ak 0.563926476163.
    ratings, targets, judges = _shrout_fleiss_long(dropped={(0, 0), (2, 3), (4, 1)})
    icc = intraclass_correlation(ratings, judges, targets)
    assert icc.agreement == pytest.approx(0.269797552529, rel=1e-4)
    assert icc.consistency == pytest.approx(0.657617049120, rel=1e-4)
    assert icc.average_agreement == pytest.approx(0.563926476163, rel=1e-4)
    assert icc.listeners_per_clip == 3.5


def test_intraclass_correlation_is_undefined_without_spread_or_listeners():
    assert intraclass_correlation([6, 6, 6, 6], [0, 0, 1, 1], [0, 1, 0, 1]) is None
    assert intraclass_correlation([1, 5, 3, 2], [0, 0, 0, 0], [0, 1, 2, 3]) is None


# --- signal detection --------------------------------------------------------------------


def test_d_prime_and_criterion_from_the_normal_table():
    # Standard normal table: z(0.8413) = 1.000, z(0.1587) = -1.000, so H = .8413 and
    # F = .1587 give d' = 2 and c = 0 (Macmillan & Creelman 2005, eq. 1.5 and 2.1). Large
    # counts make the log-linear correction negligible.
    result = sensitivity(84134, 100000, 15866, 100000)
    assert result.d_prime == pytest.approx(2.0, abs=1e-3)
    assert result.criterion == pytest.approx(0.0, abs=1e-3)
    # Perfect answers stay finite thanks to the correction (Hautus 1995).
    perfect = sensitivity(10, 10, 0, 10)
    assert math.isfinite(perfect.d_prime) and perfect.d_prime > 2.5


# --- power -------------------------------------------------------------------------------


def test_rating_power_matches_pwr():
    # R: pwr.t.test(d = 0.5, power = 0.8, sig.level = 0.05)                  -> n = 63.76561
    #    pwr.t.test(d = 0.5, power = 0.8, sig.level = 0.05, type = "paired") -> n = 33.36713
    between = listeners_for_rating_difference(0.5, 1.0, within_subject=False)
    within = listeners_for_rating_difference(1.0, 2.0)
    assert between.per_group == pytest.approx(63.76561, abs=1e-3)
    assert within.per_group == pytest.approx(33.36713, abs=1e-3)
    assert (between.needed, within.needed) == (64, 34)


def test_preference_power_follows_the_arcsine_formula():
    # Cohen (1988) ch. 6: n = ((z_{1-alpha/2} + z_{power}) / h)^2 with
    # h = 2 asin(sqrt(0.6)) - 2 asin(sqrt(0.5)) = 0.201358; the far tail adds < 1e-6.
    h = cohens_h(0.6)
    assert h == pytest.approx(0.201358, abs=1e-6)
    closed_form = ((1.959964 + 0.841621) / h) ** 2
    plan = trials_for_preference(0.6)
    assert plan.per_group == pytest.approx(closed_form, abs=1e-2)
    assert plan.needed == 194
    # 10 comparisons per listener: 20 listeners if independent, more if listeners are
    # consistent with themselves.
    assert listeners_for_preference(0.6, 10).needed == 20
    assert listeners_for_preference(0.6, 10, intraclass_correlation=0.1).needed == 37
