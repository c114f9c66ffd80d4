"""Pure study logic: specs, balanced assignment, the headphone screen, answer checking."""

import random
from collections import Counter

import numpy as np
import pytest

from studies import assignment, headphone_screen
from studies.answers import AnswerError, BlockOptions, check_passed, parse_answer, parse_listening
from studies.assignment import BlockMaterial, Exposure, pair_key, plan_study
from studies.design import BlockKind, SpecError, StudySpec

SPEC_TOML = """
slug = "chorale-study"
title = "Chorales"
clips_per_system = 3
clip_seconds = 12
headphone_screen = true

[[systems]]
name = "deepj"
checkpoint = 4
sampling = { temperature = 0.9, bars = 8 }
style = "Bach"

[[systems]]
name = "bach"
human = "bach-chorales"
style = "bach"

[[systems]]
name = "palestrina"
human = "palestrina"
split = "all"
style = "palestrina"

[[blocks]]
kind = "rating"
scale = "mos"
ask_human = true
instructed_checks = 1
repeats = 1

[[blocks]]
kind = "pairwise"
systems = ["deepj", "bach"]
trials = 4

[[blocks]]
kind = "style"
"""


def test_spec_reads_toml_and_writes_it_back_unchanged():
    spec = StudySpec.from_toml(SPEC_TOML)
    assert [s.name for s in spec.systems] == ["deepj", "bach", "palestrina"]
    assert spec.blocks[0].kind == BlockKind.RATING and spec.blocks[0].scale == "mos"
    assert spec.block_pairs(spec.blocks[1]) == [("deepj", "bach")]
    assert spec.block_styles(spec.blocks[2]) == ["bach", "palestrina"]
    assert StudySpec.from_toml(spec.to_toml()) == spec
    # Only what was chosen is written: defaults stay out of the file.
    assert "ask_confidence" not in spec.to_toml()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('slug = "chorale-study"', 'slug = "Chorale Study"'), "slug"),
        (('kind = "style"', 'kind = "styles"'), "styles"),
        (('systems = ["deepj", "bach"]', 'systems = ["deepj", "bachh"]'), "unknown systems: bachh"),
        (('split = "all"', 'split = "everything"'), "split"),
        (("ask_human = true", "ask_humans = true"), "unknown field(s) ask_humans"),
        (('style = "palestrina"', 'style = ""'), "palestrina have no style"),
        (("clip_seconds = 12", "clip_seconds = 0"), "clip_seconds"),
        (('human = "bach-chorales"', 'sample_set = "x"\nhuman = "bach-chorales"'), "exactly one"),
        (("trials = 4", "trials = 0"), "trials"),
        (("clips_per_system = 3", "clips_per_system = 3\nredirect_url = 'ftp://x'"), "http"),
        (("[[blocks]]", "[[blocks"), "not valid TOML"),
    ],
)
def test_a_bad_spec_fails_naming_the_field(change, message):
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        StudySpec.from_toml(SPEC_TOML.replace(*change, 1))


def test_swapping_a_checkpoint_keeps_everything_else():
    spec = StudySpec.from_toml(SPEC_TOML)
    clone = spec.with_checkpoint("deepj", 9, slug="chorale-study-2", title="Chorales II")
    assert clone.system("deepj").checkpoint == 9
    assert clone.system("deepj").sampling == {"temperature": 0.9, "bars": 8}
    assert clone.blocks == spec.blocks and clone.system("bach") == spec.system("bach")
    with pytest.raises(SpecError, match="human"):
        spec.with_checkpoint("bach", 9, slug="x", title="x")


# Balanced assignment -----------------------------------------------------------------------


def simulate(material, n_participants, *, drop_every=0, seed=0):
    """Participants arrive one after another; every `drop_every`-th abandons and its
    assignment expires before the next arrival. Returns the completed plans."""
    counted: list[list[assignment.PlannedTrial]] = []
    for number in range(n_participants):
        exposure = Exposure()
        for plan in counted:
            for trial in plan:
                if trial.kind != assignment.MAIN:
                    continue
                for stimulus in trial.stimuli:
                    exposure.stimulus[stimulus] += 1
                if len(trial.stimuli) == 2:
                    first, second = (system_of(material, s) for s in trial.stimuli)
                    exposure.pair[pair_key(first, second)] += 1
                    exposure.first[(pair_key(first, second), first)] += 1
        plan = plan_study([material], [exposure], seed=seed * 1000 + number)
        if drop_every and number % drop_every == drop_every - 1:
            continue  # dropped out: the assignment expires and no longer counts
        counted.append(plan)
    return counted


def system_of(material, stimulus):
    return next(name for name, ids in material.stimuli_by_system.items() if stimulus in ids)


def main_exposures(plans):
    counts = Counter()
    for plan in plans:
        for trial in plan:
            if trial.kind == assignment.MAIN:
                counts.update(trial.stimuli)
    return counts


@pytest.mark.parametrize("drop_every", [0, 4])
def test_forty_participants_hear_every_stimulus_equally_often_within_one(drop_every):
    # 4 systems x 5 clips; each participant rates 7 of the 20.
    material = BlockMaterial(
        kind=BlockKind.RATING,
        stimuli_by_system={f"s{k}": list(range(k * 5, k * 5 + 5)) for k in range(4)},
        trials=7,
    )
    plans = simulate(
        material, 40 + (40 // (drop_every - 1) if drop_every else 0), drop_every=drop_every
    )
    assert len(plans) >= 40
    counts = main_exposures(plans)
    assert set(counts) == set(range(20))
    assert max(counts.values()) - min(counts.values()) <= 1
    # No participant hears the same clip twice as a main trial.
    for plan in plans:
        mains = [t.stimuli[0] for t in plan if t.kind == assignment.MAIN]
        assert len(mains) == len(set(mains)) == 7


def test_pairs_first_positions_and_clips_are_balanced_for_forty_participants():
    material = BlockMaterial(
        kind=BlockKind.PAIRWISE,
        stimuli_by_system={"deepj": [1, 2, 3, 4], "biaxial": [5, 6, 7, 8], "human": [9, 10, 11]},
        trials=5,
        pairs=[("deepj", "biaxial"), ("deepj", "human"), ("biaxial", "human")],
    )
    plans = simulate(material, 40)
    pairs, first = Counter(), Counter()
    for plan in plans:
        for trial in plan:
            a, b = (system_of(material, s) for s in trial.stimuli)
            pairs[pair_key(a, b)] += 1
            first[(pair_key(a, b), a)] += 1
    assert sum(pairs.values()) == 200
    assert max(pairs.values()) - min(pairs.values()) <= 1
    for pair in pairs:
        assert abs(first[(pair, pair[0])] - first[(pair, pair[1])]) <= 1
    counts = main_exposures(plans)
    for clips in material.stimuli_by_system.values():
        assert max(counts[c] for c in clips) - min(counts[c] for c in clips) <= 1


def test_checks_and_repeats_are_placed_after_and_recorded():
    material = BlockMaterial(
        kind=BlockKind.TURING,
        stimuli_by_system={"a": [1, 2, 3], "b": [4, 5, 6]},
        instructed_checks=2,
        repeats=2,
    )
    for seed in range(30):
        plan = plan_study([material, material], [Exposure(), Exposure()], seed)
        assert Counter(t.kind for t in plan) == {"main": 12, "instructed": 4, "repeat": 4}
        for index, trial in enumerate(plan):
            if trial.kind == assignment.REPEAT:
                original = plan[trial.repeat_of]
                assert original.kind == assignment.MAIN and original.stimuli == trial.stimuli
                assert original.block == trial.block and trial.repeat_of <= index - 2
            if trial.kind == assignment.INSTRUCTED:
                assert set(trial.expected) == {"judged_human"}
        # Blocks keep the study's order.
        assert [t.block for t in plan] == sorted(t.block for t in plan)
    # The same seed gives the same order: a participant's order can be rebuilt from the record.
    assert plan_study([material], [Exposure()], 7) == plan_study([material], [Exposure()], 7)


def test_a_repeated_pair_is_heard_the_other_way_round():
    material = BlockMaterial(
        kind=BlockKind.PAIRWISE,
        stimuli_by_system={"a": [1, 2], "b": [3, 4]},
        pairs=[("a", "b")],
        trials=2,
        repeats=1,
    )
    plan = plan_study([material], [Exposure()], 3)
    repeat = next(t for t in plan if t.kind == assignment.REPEAT)
    assert repeat.stimuli == tuple(reversed(plan[repeat.repeat_of].stimuli))


def test_instructed_rating_is_never_an_end_of_the_scale():
    material = BlockMaterial(kind=BlockKind.RATING, stimuli_by_system={"a": [1]}, scale="mos")
    rng = random.Random(0)
    assert {assignment.instructed_answer(material, rng)["rating"] for _ in range(200)} == {2, 3, 4}


# Headphone screen --------------------------------------------------------------------------


def test_headphone_screen_tones_follow_woods_et_al():
    # Variant with the antiphase tone first, the quiet tone second.
    variant = headphone_screen.VARIANTS.index(("antiphase", "quiet", "normal"))
    audio = headphone_screen.trial_audio(variant)
    rate = headphone_screen.SAMPLE_RATE
    assert audio.shape == (round(4.0 * rate), 2)  # three 1 s tones, two 0.5 s gaps
    tones = [audio[round(start * rate) : round((start + 1.0) * rate)] for start in (0, 1.5, 3.0)]
    rms = [np.sqrt(np.mean(tone**2, axis=0)) for tone in tones]
    # The quiet tone is 6 dB below the others in both channels.
    assert 20 * np.log10(rms[1][0] / rms[2][0]) == pytest.approx(-6.0, abs=0.01)
    # Antiphase: as loud per channel, but the channels cancel when summed (loudspeakers).
    assert rms[0][0] == pytest.approx(rms[2][0], rel=1e-6)
    assert np.abs(tones[0].sum(axis=1)).max() < 1e-6
    assert np.abs(tones[2][:, 0] - tones[2][:, 1]).max() == 0
    spectrum = np.abs(np.fft.rfft(tones[2][:, 0]))
    assert np.fft.rfftfreq(len(tones[2]), 1 / rate)[spectrum.argmax()] == pytest.approx(200, abs=1)
    assert headphone_screen.correct_answer(variant) == 2


def test_headphone_screen_passes_at_five_of_six():
    order = headphone_screen.trial_order(random.Random(1))
    right = [headphone_screen.correct_answer(v) for v in order]
    assert sorted(order) == list(range(6))
    assert headphone_screen.passed(order, right)
    one_wrong = [right[0] % 3 + 1, *right[1:]]
    assert headphone_screen.passed(order, one_wrong)
    two_wrong = [right[0] % 3 + 1, right[1] % 3 + 1, *right[2:]]
    assert not headphone_screen.passed(order, two_wrong)
    # Someone on loudspeakers picks the antiphase tone every time.
    loudspeaker = [headphone_screen.VARIANTS[v].index("antiphase") + 1 for v in order]
    assert headphone_screen.score(order, loudspeaker) == 0


# Answers ------------------------------------------------------------------------------------


def test_answers_are_checked_against_the_block():
    rating = BlockOptions(BlockKind.RATING, scale="1-10", ask_human=True)
    assert parse_answer(rating, {"rating": "7", "could_be_human": "no"}) == {
        "rating": 7,
        "could_be_human": False,
    }
    with pytest.raises(AnswerError, match="whether a human"):
        parse_answer(rating, {"rating": "7"})
    with pytest.raises(AnswerError, match="not one of"):
        parse_answer(rating, {"rating": "11", "could_be_human": "no"})
    pairwise = BlockOptions(BlockKind.PAIRWISE)
    with pytest.raises(AnswerError, match="not one of"):
        parse_answer(pairwise, {"choice": "none"})  # forced choice by default
    style = BlockOptions(BlockKind.STYLE, styles=("bach", "palestrina"))
    assert parse_answer(style, {"style": "bach"}) == {"style": "bach"}
    assert check_passed({"style": "bach"}, {"style": "bach"}) is True
    assert check_passed({"rating": 2}, {"rating": 3, "could_be_human": True}) is False
    assert check_passed(None, {"rating": 3}) is None


def test_an_answer_needs_every_clip_played_to_the_end():
    with pytest.raises(AnswerError, match="each clip to the end"):
        parse_listening({"plays_0": "1", "ended_0": "1", "plays_1": "1"}, 2)
    with pytest.raises(AnswerError, match="non-negative"):
        parse_listening({"plays_0": "1", "ended_0": "1", "listening_seconds": "-3"}, 1)
    timings = parse_listening(
        {"plays_0": "2", "ended_0": "1", "listening_seconds": "21.5", "response_seconds": "3"}, 1
    )
    assert timings["plays"] == [2] and timings["listening_seconds"] == 21.5
