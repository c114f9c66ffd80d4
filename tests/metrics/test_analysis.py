"""The block-by-block analysis on hand-made answer tables: what a report says in words."""

import dataclasses
import json
import math

import numpy as np
import pytest

from metrics.analysis import BlockDesign, Options, analyse, to_json_data


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
    pair = result.blocks[0].pairs[0]
    assert (pair.first_wins, pair.second_wins, pair.n) == (210, 90, 300)
    # The pooled counts keep their Wilson interval (DeepJ's paper: 64.6-74.9%) ...
    assert (round(pair.low, 3), round(pair.high, 3)) == (0.646, 0.749)
    # ... and the headline comes from the listener- and clip-aware model. These listeners
    # all prefer DeepJ equally often and the clips do not differ, so the model's variances
    # are zero and its logit interval lands on the same share.
    assert pair.sentence == (
        "Listeners preferred deepj over biaxial in 70.0% of trials (population-averaged, "
        "95% CI 64.6-74.9%, p < 0.001 adjusted; 300 decided trials)."
    )
    strengths = result.blocks[0].bradley_terry.strengths
    # Two systems: the Bradley-Terry strength is the log-odds of the share, log(210/90).
    assert strengths[1].ability == pytest.approx(-math.log(210 / 90), abs=1e-6)
    assert strengths[1].robust_standard_error is not None


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
    block = analyse(rows, [PAIRWISE]).blocks[0]
    assert block.pairs[0].ties == 1 and block.pairs[0].n == 20
    assert any("no preference" in note for note in block.notes)


def test_a_single_listener_gets_words_not_nan():
    design = BlockDesign(1, "rating", "Rating", ["a", "b"], scale_values=list(range(1, 11)))
    rows = [
        row("only", 1, "rating", "a", rating=7, stimulus=1, trial=1),
        row("only", 1, "rating", "b", rating=4, stimulus=2, trial=2),
    ]
    result = analyse(rows, [design])
    table = result.blocks[0].systems_table
    assert all("no interval" in s.sentence for s in table)
    assert any(
        "Fewer than 2 listeners" in note or "Too few" in note for note in result.blocks[0].notes
    )
    json.dumps(to_json_data(result), allow_nan=False)  # no NaN anywhere


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
    assert result.listeners.excluded == 1
    assert result.listeners.exclusion_reasons == {"failed the headphone screen (3 of 6)": 1}
    assert result.listeners.simulated_left_out == 1
    assert result.blocks[0].answers == 1
    with_bots = analyse(rows, [design], include_simulated=True)
    assert with_bots.blocks[0].answers == 2


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
    block = analyse(rows, [design]).blocks[0]
    comparison = block.generated_vs_human
    assert comparison.z == pytest.approx(0.900, abs=1e-3)
    assert block.chance == pytest.approx(1 / 3)
    assert block.confusion[0] == [100, 0, 80]


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
    holm = analyse(rows, [design]).blocks[0]
    bh = analyse(rows, [design], options=Options(correction="bh")).blocks[0]
    raw = [p.p_model for p in holm.pairwise]
    assert [p.p_model_adjusted for p in holm.pairwise] != raw
    assert all(
        b.p_model_adjusted <= h.p_model_adjusted + 1e-12
        for b, h in zip(bh.pairwise, holm.pairwise, strict=True)
    )
    a_vs_b = holm.pairwise[0]
    assert a_vs_b.difference == pytest.approx(2.0)
    assert "a was rated 2.00 points above b" in a_vs_b.sentence
    assert holm.omnibus.model.p_value < 0.001
    # a's ratings (6-8) sit wholly at or above b's and c's (4-6): the ordinal model's
    # maximum lies at infinity, and the report says so instead of printing it.
    assert holm.ordinal is None
    assert any("ordinal model ran off to infinity" in note for note in holm.notes)


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


def test_one_listener_who_gave_every_clip_the_same_rating_gets_no_test_and_no_overflow():
    design = BlockDesign(
        1, "rating", "Rating", ["bach", "deepj", "markov"], ["bach"], list(range(1, 11))
    )
    rows = [
        row("only", 1, "rating", system, stimulus=k * 3 + clip, trial=k * 3 + clip, rating=6)
        for k, system in enumerate(design.systems)
        for clip in range(3)
    ]
    block = analyse(rows, [design]).blocks[0]
    assert block.model is None
    assert block.omnibus.model is None and block.omnibus.sentence is None
    assert all(p.p_model is None and p.low is None for p in block.pairwise)
    assert any("Every rating was 6" in note for note in block.notes)
    sentences = " ".join(s.sentence for s in block.systems_table)
    assert "1 listener," in sentences and "1 listeners" not in sentences
    assert "p < 0.001" not in sentences
    assert block.agreement.icc.agreement is None
    assert "no intraclass correlation" in block.agreement.icc.note


def _turing_rows(seed, *, listeners=30, clips=10, listener_sd=1.0, clip_sd=1.0):
    rng = np.random.default_rng(seed)
    listener_effect = rng.normal(0, listener_sd, listeners)
    rows = []
    for system in ("human", "model"):
        clip_effect = rng.normal(0, clip_sd, clips)
        for listener in range(listeners):
            for clip in range(clips):
                eta = listener_effect[listener] + clip_effect[clip]
                rows.append(
                    row(
                        f"l{listener}",
                        1,
                        "turing",
                        system,
                        stimulus=f"{system}-{clip}",
                        trial=clip,
                        judged_human=bool(rng.random() < 1 / (1 + math.exp(-eta))),
                    )
                )
    return rows


def test_turing_headline_comes_from_the_listener_and_clip_model_and_is_less_sure_than_pooling():
    design = BlockDesign(1, "turing", "Turing", ["human", "model"], ["human"])
    block = analyse(_turing_rows(4), [design]).blocks[0]
    model = next(s for s in block.systems_table if s.system == "model")
    assert block.model.listeners == 30 and block.model.clips == 20
    assert block.model.listener_variance > 0.3
    assert model.model_low < model.model_share < model.model_high
    # Clustered answers: the model's interval is wider than the pooled Wilson interval.
    assert model.model_high - model.model_low > 1.5 * (model.high - model.low)
    assert model.p_model_vs_half > model.p_vs_half
    assert "population-averaged" in model.sentence
    assert block.clips_judged_human_by_majority["model"].of == 10


def test_every_answer_machine_is_said_in_words_not_estimated():
    design = BlockDesign(1, "turing", "Turing", ["human", "model"], ["human"])
    rows = _turing_rows(5)
    for r in rows:
        if r["system"] == "model":
            r["judged_human"] = False
    block = analyse(rows, [design]).blocks[0]
    model = next(s for s in block.systems_table if s.system == "model")
    assert model.model_share is None and model.share == 0
    assert any("went one way for model 'no'" in note for note in block.notes)


def test_ordinal_check_is_a_listener_aware_model_with_the_right_sign():
    design = BlockDesign(1, "rating", "Rating", ["a", "b"], scale_values=list(range(1, 6)))
    rng = np.random.default_rng(2)
    rows = []
    for listener in range(15):
        shift = rng.normal(0, 0.8)
        for k, system in enumerate(("a", "b")):
            for clip in range(4):
                value = 3 + shift - 0.7 * k + rng.normal(0, 0.9)
                rows.append(
                    row(f"l{listener}", 1, "rating", system, stimulus=k * 10 + clip,
                        trial=k * 4 + clip, rating=int(np.clip(round(value), 1, 5)))
                )  # fmt: skip
    block = analyse(rows, [design]).blocks[0]
    assert "clmm" in block.ordinal.model
    assert block.ordinal.effects[0].log_odds < 0
    assert block.ordinal.listener_sd > 0
    assert "Satterthwaite" in block.model.tests
    assert block.pairwise[0].df is not None


def test_every_training_level_has_its_own_interval_and_test_over_its_listeners():
    design = BlockDesign(1, "turing", "Turing", ["human", "model"], ["human"])
    rows = _turing_rows(6, listener_sd=0.3, clip_sd=0.3)
    # Listeners 0-9 are professionals (level 5) who call the model's clips machine-made
    # 9 times in 10; 10-28 have no training (level 0); listener 29 alone has level 3.
    for r in rows:
        n = int(r["participant"][1:])
        r["musical_training"] = 5 if n < 10 else (3 if n == 29 else 0)
        if n < 10 and r["system"] == "model":
            r["judged_human"] = (r["trial"] + n) % 10 == 0
    block = analyse(rows, [design]).blocks[0]
    levels = {g.group: g for g in block.by_training}
    assert [g.listeners for g in block.by_training] == [19, 1, 10]
    expert = levels[next(k for k in levels if levels[k].listeners == 10)].systems["model"]
    assert expert.listener_share == pytest.approx(0.1)
    assert expert.listener_p is None  # every professional's share is 10%: no spread
    novices = block.by_training[0].systems["model"]
    assert novices.listener_low < novices.listener_share < novices.listener_high
    assert 0 <= novices.listener_p <= 1
    alone = block.by_training[1].systems["model"]
    assert alone.listener_share is not None and alone.listener_low is None


def test_rating_block_reports_intraclass_correlations_of_listener_agreement():
    design = BlockDesign(1, "rating", "Rating", ["a", "b"], scale_values=list(range(1, 11)))
    rng = np.random.default_rng(8)
    clip_quality = rng.normal(0, 1.5, 12)
    rows = [
        row(f"l{listener}", 1, "rating", "a" if clip < 6 else "b", stimulus=clip, trial=clip,
            rating=int(np.clip(round(5.5 + clip_quality[clip] + rng.normal(0, 0.7)), 1, 10)))
        for listener in range(20)
        for clip in range(12)
    ]  # fmt: skip
    icc = analyse(rows, [design]).blocks[0].agreement.icc
    # Listeners agree closely on which clips are good: most of the spread is the clips'.
    assert icc.agreement > 0.6
    assert icc.consistency >= icc.agreement
    assert icc.average_agreement > icc.agreement
    assert icc.listeners_per_clip == 20


def test_results_are_frozen_plain_numbers_and_write_the_reports_json_keys():
    design = BlockDesign(1, "rating", "Rating", ["a", "b"], scale_values=list(range(1, 11)))
    rows = [
        row("only", 1, "rating", "a", rating=7, stimulus=1, trial=1),
        row("only", 1, "rating", "b", rating=4, stimulus=2, trial=2),
    ]
    block = analyse(rows, [design]).blocks[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        block.notes = []
    rated = block.systems_table[0]
    assert type(rated.mean) is float and rated.sd is None  # numpy gone, one rating: no SD
    written = to_json_data(block)
    assert list(written)[:8] == [
        "number", "kind", "title", "systems", "human_systems", "answers", "listeners", "notes",
    ]  # fmt: skip
    # Keys the report only ever wrote when the model said something stay out without it.
    pair = written["pairwise"][0]
    assert "p_model_adjusted" not in pair and "df" not in pair and pair["p_model"] is None
    assert "model_df" not in written["systems_table"][0]
