"""A study's declared looks, watched: the primary contrast at each look on the listeners who
had finished by then, and the decision the boundaries give."""

import json
import random

import pytest

from metrics.analysis import BlockDesign, Options, analyse
from metrics.analysis.sequential import monitor
from metrics.analysis.wording import p_text
from studies.design import SequentialSpec, SpecError
from tests.factories import spec

BLOCK = BlockDesign(number=1, kind="rating", title="Rating", systems=["a", "b"],
                    scale_values=list(range(1, 11)))  # fmt: skip


def ratings(listeners: int, effect: float, *, seed: int = 1) -> list[dict]:
    """Each listener rates six clips of each system; ``a`` is ``effect`` points better."""
    rng = random.Random(seed)
    rows = []
    trial = 0
    for n in range(listeners):
        taste = rng.gauss(0, 1)
        for system, shift in (("a", effect), ("b", 0.0)):
            for clip in range(6):
                trial += 1
                value = round(5.5 + taste + shift + rng.gauss(0, 1))
                rows.append({
                    "participant": f"p{n:02d}", "completed_at": f"2026-12-07T10:{n:02d}:00",
                    "block": 1, "trial": trial, "trial_kind": "main", "system": system,
                    "stimulus": f"{system}{clip}", "rating": min(10, max(1, value)),
                })  # fmt: skip
    return rows


def watch(rows, **plan):
    plan = SequentialSpec(**{"looks": (8, 16, 24), "block": 1, "better": "a", "than": "b",
                             **plan})  # fmt: skip

    def analyse_block(block_rows):
        return analyse(block_rows, [BLOCK]).blocks[0]

    return monitor(plan, rows, BLOCK, Options(), analyse_block)


def test_a_large_effect_stops_for_efficacy_at_the_first_look():
    result = watch(ratings(30, effect=2.0))
    first = result.looks[0]
    assert (result.decision, result.decided_at_look) == ("efficacy", 1)
    assert first.z > first.efficacy_z and first.estimate == pytest.approx(2.0, abs=0.6)
    # Later looks are not evaluated once a look has decided.
    assert [look.decision for look in result.looks] == ["efficacy", None, None]
    # At the first look the adjusted p is the look's own p, and below the alpha spent.
    assert result.stagewise_p == pytest.approx(first.p, rel=1e-6)
    assert result.stagewise_p < first.cumulative_alpha
    assert "Stop for efficacy at look 1 (8 listeners)" in result.sentence
    # Written as every other p value of the report, never "p = 0.0000".
    assert result.sentence.endswith(f"the stage-wise adjusted {p_text(result.stagewise_p)}.")


def test_the_wrong_direction_stops_for_futility_when_declared():
    rows = ratings(30, effect=-0.8)
    # With no futility bound, two-sided: the second look finds the opposite of the hypothesis.
    reverse = watch(rows)
    assert [look.decision for look in reverse.looks] == ["continue", "opposite", None]
    assert "the opposite of the hypothesis: b is ahead of a" in reverse.sentence
    result = watch(rows, futility=0.0)
    assert (result.decision, result.decided_at_look) == ("futility", 1)
    assert result.looks[0].z < 0 and "non-binding" in result.sentence


def test_looks_not_reached_say_when_the_next_one_comes():
    result = watch(ratings(5, effect=2.0))
    assert result.decision == "continue" and result.next_look_at == 8
    assert all(look.z is None for look in result.looks)
    assert result.sentence.startswith("5 listeners finished: continue to the next look at 8")


def test_each_look_uses_only_the_listeners_who_had_finished_by_then():
    # The first 8 finishers show no effect; the later ones a large one.
    early = ratings(8, effect=0.0, seed=3)
    late = [dict(r, participant="q" + r["participant"], completed_at="2026-12-07T11" +
                 r["completed_at"][13:]) for r in ratings(16, effect=3.0, seed=4)]  # fmt: skip
    result = watch(early + late)
    assert result.looks[0].decision == "continue" and abs(result.looks[0].estimate) < 1
    assert result.looks[1].decision == "efficacy"


@pytest.mark.parametrize(
    ("sequential", "message"),
    [
        ({"looks": [20], "block": 1, "better": "model-a", "than": "model-b"}, "two or more"),
        ({"looks": [20, 10], "block": 1, "better": "model-a", "than": "model-b"}, "increase"),
        ({"looks": [10, 20], "block": 2, "better": "model-a", "than": "model-b"}, "no block 2"),
        ({"looks": [10, 20], "block": 1, "better": "model-a", "than": "nope"}, "no system nope"),
        ({"looks": [10, 20], "block": 1, "better": "model-a", "than": "model-b",
          "spending": "haybittle"}, "spending must be one of"),
        ({"looks": [10, 20], "block": 1, "better": "model-a", "than": "model-b",
          "gamma": 1}, "unknown field"),
    ],
)  # fmt: skip
def test_a_bad_sequential_design_names_what_is_wrong(sequential, message):
    with pytest.raises(SpecError, match=message):
        spec([{"kind": "rating"}], sequential=sequential)


@pytest.mark.django_db
def test_the_dashboard_and_the_report_show_the_looks(material, staff_client, capsys):
    from django.core.management import call_command

    from studies import services
    from tests.factories import open_study

    study = open_study(
        [{"kind": "rating"}],
        sequential={"looks": [4, 8], "block": 1, "better": "model-a", "than": "model-b",
                    "futility": 0.0},
    )  # fmt: skip
    clips = {s.system.name: s.pk for s in study.stimuli.select_related("system")}
    scores = {"model-a": 8, "model-b": 3, "human": 6}

    def listeners(names):
        rows = []
        for name in names:
            for trial, (system, stimulus) in enumerate(sorted(clips.items()), start=1):
                bump = (int(name[1:]) + trial) % 3  # no hash(): its seed changes per process
                rows.append({"participant": name, "block": 1, "trial": trial,
                             "stimulus": stimulus, "rating": scores[system] + bump})  # fmt: skip
        assert services.import_answers(study, rows).errors == []

    listeners(["p1", "p2", "p3"])
    dashboard = staff_client.get(study.get_absolute_url()).content.decode()
    assert (
        'data-testid="sequential-panel"' in dashboard and "Looks after 4, 8 listeners" in dashboard
    )
    panel = staff_client.get(f"/studies/{study.slug}/sequential/").content.decode()
    assert (
        "<strong>Continue.</strong> 3 listeners finished: continue to the next look at 4" in panel
    )

    listeners(["p4", "p5"])
    panel = staff_client.get(f"/studies/{study.slug}/sequential/").content.decode()
    assert "not reached" in panel and "Alpha spent" in panel
    call_command("report", study.slug, "--format", "json")
    report = json.loads(capsys.readouterr().out)
    first = report["sequential"]["looks"][0]
    assert first["listeners"] == 4 and first["z"] is not None
    assert first["decision"] in ("continue", "efficacy")
    page = staff_client.get(f"/studies/{study.slug}/report/").content.decode()
    assert 'data-testid="sequential"' in page and "O&#x27;Brien-Fleming-type" in page


@pytest.mark.django_db
def test_a_study_without_a_sequential_design_has_no_panel(material, staff_client):
    from tests.factories import open_study

    study = open_study([{"kind": "rating"}])
    assert "sequential-panel" not in staff_client.get(study.get_absolute_url()).content.decode()
    assert staff_client.get(f"/studies/{study.slug}/sequential/").status_code == 404
