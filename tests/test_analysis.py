"""The block-by-block analysis on hand-made answer tables: what a report says in words."""

import json
import math

import pytest

from metrics.analysis import BlockDesign, Options, analyse


def row(participant, block, kind, system, **answer):
    base = {
        "participant": participant,
        "block": block,
        "block_kind": kind,
        "trial": answer.pop("trial", 1),
        "trial_kind": answer.pop("trial_kind", "main"),
        "repeat_of_trial": answer.pop("repeat_of_trial", None),
        "stimulus": answer.pop("stimulus", 1),
        "system": system,
        "second_stimulus": answer.pop("second_stimulus", None),
        "second_system": answer.pop("second_system", None),
        "piece": None,
        "sample_set": system,
        "true_style": answer.pop("true_style", None),
        "excluded": answer.pop("excluded", False),
        "exclusion_reasons": answer.pop("exclusion_reasons", None),
        "simulated": answer.pop("simulated", False),
        "musical_training": answer.pop("musical_training", 2),
    }
    for key in (
        "rating",
        "could_be_human",
        "judged_human",
        "confidence",
        "preferred_system",
        "style_answer",
        "passed_check",
    ):
        base[key] = answer.pop(key, None)
    assert not answer, answer
    return base


PAIRWISE = BlockDesign(
    1, "pairwise", "Preference", ["deepj", "biaxial"], pairs=[("deepj", "biaxial")]
)


def deepj_preferences():
    # DeepJ's preference test: 300 answers, 210 for DeepJ, from 30 listeners.
    rows = []
    for n in range(300):
        rows.append(
            row(
                f"listener{n % 30}",
                1,
                "pairwise",
                "deepj",
                stimulus=n % 3 + 1,
                second_system="biaxial",
                second_stimulus=n % 3 + 10,
                trial=n // 30 + 1,
                preferred_system="deepj" if n < 210 else "biaxial",
            )
        )
    return rows


def test_preference_share_is_reported_in_plain_words_with_wilson_interval():
    result = analyse(deepj_preferences(), [PAIRWISE])
    pair = result["blocks"][0]["pairs"][0]
    assert (pair["first_wins"], pair["second_wins"], pair["n"]) == (210, 90, 300)
    assert pair["sentence"] == (
        "Listeners preferred deepj over biaxial in 70.0% of 300 trials "
        "(95% CI 64.6-74.9%, p < 0.001)."
    )
    strengths = result["blocks"][0]["bradley_terry"]["strengths"]
    # Two systems: the Bradley-Terry strength is the log-odds of the share, log(210/90).
    assert strengths[1]["ability"] == pytest.approx(-math.log(210 / 90), abs=1e-6)
    assert strengths[1]["robust_standard_error"] is not None


def test_ties_are_counted_apart_and_left_out_of_the_share():
    rows = deepj_preferences()[:20]
    rows.append(
        row(
            "listener0",
            1,
            "pairwise",
            "deepj",
            second_system="biaxial",
            second_stimulus=10,
            trial=99,
        )
    )
    block = analyse(rows, [PAIRWISE])["blocks"][0]
    assert block["pairs"][0]["ties"] == 1 and block["pairs"][0]["n"] == 20
    assert any("no preference" in note for note in block["notes"])


def test_a_single_listener_gets_words_not_nan():
    design = BlockDesign(1, "rating", "Rating", ["a", "b"], scale_values=list(range(1, 11)))
    rows = [
        row("only", 1, "rating", "a", rating=7, stimulus=1, trial=1),
        row("only", 1, "rating", "b", rating=4, stimulus=2, trial=2),
    ]
    result = analyse(rows, [design])
    table = result["blocks"][0]["systems_table"]
    assert all("no interval" in s["sentence"] for s in table)
    assert any(
        "Fewer than 2 listeners" in note or "Too few" in note
        for note in result["blocks"][0]["notes"]
    )
    json.dumps(result, allow_nan=False)  # no NaN anywhere


def test_exclusions_and_simulated_listeners_are_dropped_and_counted():
    design = BlockDesign(1, "turing", "Turing", ["model", "human"], human_systems=["human"])
    rows = [
        row("real", 1, "turing", "model", judged_human=True),
        row(
            "careless",
            1,
            "turing",
            "model",
            judged_human=True,
            excluded=True,
            exclusion_reasons="failed the headphone screen (3 of 6)",
        ),
        row("bot", 1, "turing", "model", judged_human=False, simulated=True),
    ]
    result = analyse(rows, [design])
    assert result["listeners"]["excluded"] == 1
    assert result["listeners"]["exclusion_reasons"] == {"failed the headphone screen (3 of 6)": 1}
    assert result["listeners"]["simulated_left_out"] == 1
    assert result["blocks"][0]["answers"] == 1
    with_bots = analyse(rows, [design], include_simulated=True)
    assert with_bots["blocks"][0]["answers"] == 2


def test_style_block_reproduces_deepj_counts():
    # DeepJ: 53 of 90 generated clips and 47 of 90 human clips classified correctly.
    design = BlockDesign(
        1,
        "style",
        "Style",
        ["deepj", "human"],
        human_systems=["human"],
        styles=["baroque", "classical", "romantic"],
    )
    rows = []
    for system, correct in (("deepj", 53), ("human", 47)):
        for n in range(90):
            answer = "baroque" if n < correct else "romantic"
            rows.append(
                row(
                    f"l{n}",
                    1,
                    "style",
                    system,
                    true_style="baroque",
                    style_answer=answer,
                    stimulus=n % 5 + (0 if system == "deepj" else 10),
                )
            )
    block = analyse(rows, [design])["blocks"][0]
    comparison = block["generated_vs_human"]
    assert comparison["z"] == pytest.approx(0.900, abs=1e-3)
    assert block["chance"] == pytest.approx(1 / 3)
    assert block["confusion"][0] == [100, 0, 80]


def test_rating_comparisons_are_adjusted_and_benjamini_hochberg_is_selectable():
    design = BlockDesign(1, "rating", "Rating", ["a", "b", "c"], scale_values=list(range(1, 11)))
    rows = []
    for listener in range(12):
        for k, (system, base) in enumerate((("a", 7), ("b", 5), ("c", 5))):
            for clip in range(2):
                rows.append(
                    row(
                        f"l{listener}",
                        1,
                        "rating",
                        system,
                        trial=k * 2 + clip,
                        stimulus=k * 10 + clip,
                        rating=base + (listener + clip) % 3 - 1,
                    )
                )
    holm = analyse(rows, [design])["blocks"][0]
    bh = analyse(rows, [design], options=Options(correction="bh"))["blocks"][0]
    raw = [p["p_model"] for p in holm["pairwise"]]
    assert [p["p_model_adjusted"] for p in holm["pairwise"]] != raw
    assert all(
        b["p_model_adjusted"] <= h["p_model_adjusted"] + 1e-12
        for b, h in zip(bh["pairwise"], holm["pairwise"], strict=True)
    )
    a_vs_b = holm["pairwise"][0]
    assert a_vs_b["difference"] == pytest.approx(2.0)
    assert "a was rated 2.00 points above b" in a_vs_b["sentence"]
    assert holm["omnibus"]["model"]["p_value"] < 0.001
    assert holm["ordinal"]["effects"][0]["log_odds"] < 0  # b rated lower than a


def test_simulated_listeners_follow_their_model():
    from studies.simulation import Clip, ListenerModel, SimulatedListener, TrialView

    model = ListenerModel(system_effects={"good": 1.0, "bad": -1.0}, attentive=1.0, seed=3)
    scale = tuple(range(1, 11))

    def ratings(system):
        return [
            SimulatedListener(model, n).answer(
                TrialView("rating", (Clip(n % 5, system, False),), scale_values=scale)
            )["rating"]
            for n in range(300)
        ]

    good, bad = ratings("good"), ratings("bad")
    assert sum(good) / 300 - sum(bad) / 300 > 3  # 2 SD apart, 2.25 scale points per SD
    assert set(good) | set(bad) <= set(scale)
    listener = SimulatedListener(model, 0)
    check = TrialView("turing", (Clip(1, "good", False),), expected={"judged_human": False})
    assert listener.answer(check) == {"judged_human": False}  # attentive: does as asked
    pair = TrialView("pairwise", (Clip(1, "good", False), Clip(2, "bad", False)))
    picks = [SimulatedListener(model, n).answer(pair)["choice"] for n in range(200)]
    assert picks.count("first") > 150
    # The same seed gives the same listeners.
    assert ratings("good") == good
    with pytest.raises(ValueError, match="attentive"):
        ListenerModel(attentive=1.5)
