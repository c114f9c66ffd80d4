"""MUSHRA pages and ABX trials in a real browser (headless Chromium), from the link to the
completion code: one participant with the keyboard alone on a desktop, one tapping on a
phone, with the database checked after each answer."""

import time

import pytest

from studies.models import Participant, Response
from tests.accessibility import assert_accessible
from tests.conftest import wait_for_js
from tests.factories import open_study, take_path

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

BLOCKS = [
    {"kind": "mushra", "reference": "human", "anchor": "model-b", "trials": 1},
    {"kind": "abx", "reference": "human", "systems": ["model-a", "human"], "trials": 1,
     "instructed_checks": 1},
]  # fmt: skip


def _start(page) -> Participant:
    page.goto(take_path())
    page.get_by_role("button", name="I agree").click()
    page.get_by_label("25-34").check()
    page.get_by_label("1-3 years").check()
    page.get_by_label("Headphones").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Start").click()
    return Participant.objects.get()


def _past_introduction(page, part: int) -> None:
    page.get_by_text(f"Part {part} of 2").wait_for()
    page.get_by_role("button", name=f"Start part {part}").click()
    page.wait_for_selector("form[data-trial][data-ready]")


def _current(participant):
    return participant.trials.filter(response__isnull=True).order_by("position").first()


def _ended(page, index: int) -> None:
    wait_for_js(page, f"document.querySelector('input[name=ended_{index}]').value === '1'")


def _answers(participant) -> int:
    return Response.objects.filter(trial__participant=participant).count()


def _sent(page, participant, before: int) -> None:
    """The answer is stored (once), and the next page has replaced the sent one."""
    deadline = time.monotonic() + 10
    while _answers(participant) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _answers(participant) == before + 1, page.inner_text("body")[:800]
    wait_for_js(page, "!document.querySelector('form[data-trial][data-sent]')")


def test_mushra_and_abx_with_the_keyboard_only(page, live_server, material):
    study = open_study(BLOCKS)
    participant = _start(page)
    _past_introduction(page, 1)
    assert_accessible(page, "a MUSHRA page, locked")
    trial = _current(participant)
    stimuli = trial.stimuli
    hidden = next(n for n in range(1, len(stimuli)) if stimuli[n].pk == trial.first_id)
    # Every clip plays from the keyboard; a clip's slider opens once that clip has ended.
    for index in range(len(stimuli)):
        if index:
            assert page.get_by_test_id(f"rating-{index}").is_disabled()
        page.get_by_test_id(f"play-{index}").focus()
        page.keyboard.press("Enter")
        _ended(page, index)
        if index:
            assert page.get_by_test_id(f"rating-{index}").is_enabled()
    page.wait_for_selector("fieldset.answers:not([disabled])")
    assert_accessible(page, "a MUSHRA page, heard")
    # Sending with a slider nobody moved sends nothing and says why.
    page.get_by_test_id("rating-1").focus()
    page.keyboard.press("End")
    page.get_by_test_id("next").focus()
    page.keyboard.press("Enter")
    assert page.get_by_test_id("rate-note").is_visible()
    assert "move each slider" in page.get_by_test_id("rate-note").inner_text()
    assert _answers(participant) == 0
    expected = {}
    for slot in range(1, len(stimuli)):
        page.get_by_test_id(f"rating-{slot}").focus()
        if slot == hidden:
            page.keyboard.press("End")  # 100
        else:
            page.keyboard.press("Home")  # 0, then up by tens
            for _ in range(3 + slot):
                page.keyboard.press("PageUp")
        expected[slot] = int(page.get_by_test_id(f"rating-{slot}").input_value())
        value_text = page.get_by_test_id(f"rating-value-{slot}").inner_text()
        assert value_text.startswith(str(expected[slot]) + " ")  # "100 Excellent", "40 Fair"
    assert page.get_by_test_id(f"rating-value-{hidden}").inner_text() == "100 Excellent"
    page.get_by_test_id("next").focus()
    page.keyboard.press("Enter")
    _sent(page, participant, 0)
    stored = Response.objects.get(trial=trial)
    assert stored.ratings == [None] + [expected[slot] for slot in range(1, len(stimuli))]
    assert stored.ratings[hidden] == 100 and stored.plays == [1] * len(stimuli)

    _past_introduction(page, 2)
    for answered in (1, 2):
        trial = _current(participant)
        assert_accessible(page, "an ABX trial")
        assert [page.get_by_test_id(f"play-{n}").inner_text() for n in range(3)] == [
            "Play clip A", "Play clip B", "Play clip X",
        ]  # fmt: skip
        page.get_by_test_id("play-0").focus()
        for index in range(3):
            page.keyboard.press("Enter")
            _ended(page, index)
            if index < 2:
                page.keyboard.press("Tab")  # to the next clip's Play button
        page.wait_for_selector("fieldset.answers:not([disabled])")
        # Unlocking moves the focus to the first answer; the arrow keys choose.
        assert page.evaluate("document.activeElement.value") == "first"
        wanted = (trial.expected or {}).get("choice", "second")
        # Focus alone checks nothing: Space picks the focused answer, an arrow the next one.
        page.keyboard.press("ArrowRight" if wanted == "second" else "Space")
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        _sent(page, participant, answered)
        assert Response.objects.get(trial=trial).choice == wanted
    assert page.get_by_test_id("completion-code").inner_text() == study.completion_code
    participant.refresh_from_db()
    assert participant.stage == "done" and participant.exclusion_reasons == []
    checked = Response.objects.get(trial__participant=participant, trial__kind="instructed")
    assert checked.passed_check is True


def test_mushra_and_abx_on_a_phone(browser, live_server, material):
    study = open_study(BLOCKS)
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    participant = _start(page)
    _past_introduction(page, 1)
    # One clip to a row: its Play button, and under it the slider across the screen.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    trial = _current(participant)
    count = len(trial.stimuli)
    for index in range(count):
        page.get_by_test_id(f"play-{index}").tap()
        _ended(page, index)
    widths = page.evaluate(
        "() => Array.from(document.querySelectorAll('input[data-rating]'))"
        ".map(s => s.getBoundingClientRect().width / document.querySelector('.take-card').clientWidth)"
    )
    assert len(widths) == count - 1 and min(widths) > 0.5, widths
    play = page.get_by_test_id("play-1").bounding_box()
    slider = page.get_by_test_id("rating-1").bounding_box()
    assert slider["y"] >= play["y"] + play["height"] - 1  # below its Play button, not beside
    for slot in range(1, count):
        box = page.get_by_test_id(f"rating-{slot}").bounding_box()
        page.touchscreen.tap(box["x"] + box["width"] * 0.95, box["y"] + box["height"] / 2)
    assert_accessible(page, "a MUSHRA page on a phone, rated")
    page.get_by_test_id("next").tap()
    _sent(page, participant, 0)
    ratings = Response.objects.get(trial=trial).ratings
    assert ratings[0] is None and all(r >= 85 for r in ratings[1:])
    _past_introduction(page, 2)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    for answered in (1, 2):
        trial = _current(participant)
        for index in range(3):
            page.get_by_test_id(f"play-{index}").tap()
            _ended(page, index)
        page.wait_for_selector("fieldset.answers:not([disabled])")
        wanted = (trial.expected or {}).get("choice", "first")
        page.locator(f"input[name=choice][value={wanted}]").tap()
        page.get_by_test_id("next").tap()
        _sent(page, participant, answered)
    assert page.get_by_test_id("completion-code").inner_text() == study.completion_code
    context.close()
