"""Participants in a real browser (headless Chromium): from the link to the completion code,
for each block kind, with the database checked afterwards."""

import pytest

from studies.headphone_screen import correct_answer
from studies.models import Participant, Response, Study, Trial
from tests.accessibility import assert_accessible
from tests.conftest import wait_for_js
from tests.factories import open_study, take_path

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def start(page, query: str = "") -> Participant:
    page.goto(f"{take_path()}{query}")
    assert_accessible(page, "the consent page")
    page.get_by_role("button", name="I agree").click()
    assert_accessible(page, "the questionnaire")
    page.get_by_label("25-34").check()
    page.get_by_label("1-3 years").check()
    page.get_by_label("Headphones").check()
    page.get_by_role("button", name="Continue").click()


def trial_ready(page) -> None:
    """Waits until listen.js has wired the trial's controls, not just until the form is drawn."""
    page.wait_for_selector("form[data-trial][data-ready]")


def begin_trials(page) -> Participant:
    assert_accessible(page, "the instructions")
    page.get_by_role("button", name="Start").click()
    trial_ready(page)
    # Each block kind's first trial page, locked (nothing heard yet).
    assert_accessible(page, "a trial page")
    return Participant.objects.get()


def current_trial(participant: Participant) -> Trial:
    return participant.trials.filter(response__isnull=True).order_by("position").first()


def answers_locked(page) -> bool:
    locked = page.eval_on_selector("fieldset.answers", "f => f.disabled")
    # A disabled fieldset disables every control inside it, the Next button too.
    assert page.get_by_test_id("next").is_disabled() == locked
    return locked


def listen(page, clips: int = 1) -> None:
    trial_ready(page)
    for index in range(clips):
        assert answers_locked(page)  # nothing can be answered before every clip has ended
        page.get_by_test_id(f"play-{index}").click()
        wait_for_js(page, f"document.querySelector('input[name=ended_{index}]').value === '1'")
    page.wait_for_selector("fieldset.answers:not([disabled])")


def submit_and_wait(page, participant: Participant, answered_before: int) -> None:
    page.get_by_test_id("next").click()
    wait_for_js(
        page,
        "n => !document.querySelector('[data-testid=progress]') || "
        "!document.querySelector('[data-testid=progress]').textContent.includes('Question ' + n + ' ')",
        arg=answered_before + 1,
    )
    assert Response.objects.filter(trial__participant=participant).count() == answered_before + 1


def test_rating_block_on_a_phone_with_reload_and_double_submit(browser, live_server, material):
    study = open_study(
        [{"kind": "rating", "ask_human": True, "instructed_checks": 1, "repeats": 1}],
        redirect_url="https://app.prolific.com/submissions/complete?cc=TEST",
    )
    context = browser.new_context(base_url=live_server.url, viewport={"width": 375, "height": 667})
    page = context.new_page()
    page.set_default_timeout(15_000)
    start(page, "?PROLIFIC_PID=prolific-9&STUDY_ID=study-1&SESSION_ID=session-1")
    page.get_by_text("Each answer unlocks once you have heard the whole clip").wait_for()
    participant = begin_trials(page)
    total = participant.trials.count()
    assert total == 8 and page.get_by_test_id("progress").inner_text() == f"Question 1 of {total}"
    # The page fits the phone: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    for answered in range(total):
        trial = current_trial(participant)
        if answered == 2:
            # Reloading mid-study resumes at the same trial; nothing is lost or repeated.
            page.reload()
            assert page.get_by_test_id("progress").inner_text() == f"Question 3 of {total}"
            assert page.locator("input[name=trial]").input_value() == trial.token
        listen(page)
        if answered == 0:
            assert_accessible(page, "a rating trial, unlocked, on a phone")
        rating = (trial.expected or {}).get("rating", 6)
        page.locator(f"input[name=rating][value='{rating}']").check()
        page.get_by_label("Yes").check()
        if answered == 4:
            # A double click sends the answer once.
            page.get_by_test_id("next").dblclick()
            wait_for_js(
                page,
                "document.querySelector('[data-testid=progress]') === null || "
                f"document.querySelector('[data-testid=progress]').textContent.includes('Question {answered + 2} ')",
            )
            assert Response.objects.filter(trial__participant=participant).count() == answered + 1
        else:
            submit_and_wait(page, participant, answered)
    code = page.get_by_test_id("completion-code")
    assert code.inner_text() == study.completion_code
    assert_accessible(page, "the completion page")
    # Back to Prolific after a countdown the participant sees and can stop.
    page.wait_for_selector("[data-countdown]:not([hidden])")
    wait_for_js(page, "Number(document.querySelector('[data-seconds-left]').textContent) < 10")
    page.get_by_role("button", name="Stay on this page").click()
    assert page.locator("[data-countdown]").is_hidden()
    stopped_at = page.text_content("[data-seconds-left]")
    page.wait_for_timeout(1500)
    assert page.text_content("[data-seconds-left]") == stopped_at
    assert page.get_by_test_id("redirect").get_attribute("href").endswith("cc=TEST")
    participant.refresh_from_db()
    assert participant.stage == "done" and participant.prolific_pid == "prolific-9"
    assert (participant.prolific_study_id, participant.prolific_session_id) == (
        "study-1",
        "session-1",
    )
    responses = Response.objects.filter(trial__participant=participant)
    assert responses.count() == total == Trial.objects.count()
    assert all(r.plays == [1] and r.listening_seconds > 1.0 for r in responses)
    # The server saw every clip go out and each answer come after it could play: none flagged.
    assert not any(r.too_fast for r in responses)
    assert all(r.trial.first_served_at and r.trial.shown_at for r in responses)
    assert "answered before the clips could be heard" not in participant.exclusion_reasons
    assert all(
        r.response_seconds is not None and r.trial_seconds >= r.response_seconds for r in responses
    )
    assert responses.get(trial__kind="instructed").passed_check is True
    repeat = participant.trials.get(kind="repeat")
    assert (
        repeat.first == repeat.repeat_of.first and repeat.position >= repeat.repeat_of.position + 2
    )
    # Back in the same browser: still the completion page, no second take.
    page.goto(take_path() + "?PROLIFIC_PID=prolific-9&STUDY_ID=study-1")
    assert page.get_by_test_id("completion-code").inner_text() == study.completion_code
    assert Participant.objects.count() == 1
    context.close()


def test_turing_block_with_the_keyboard_only(page, live_server, material):
    study = open_study([{"kind": "turing", "ask_confidence": True, "trials": 3}])
    start(page)
    participant = begin_trials(page)
    for answered in range(3):
        trial_ready(page)
        page.keyboard.press("Tab")  # the first control on the page is the Play button
        assert page.evaluate("document.activeElement.dataset.testid") == "play-0"
        page.keyboard.press("Enter")
        page.wait_for_selector("fieldset.answers:not([disabled])")
        # Unlocking moves the focus to the first answer: Space picks it, Tab moves on.
        assert page.evaluate("document.activeElement.value") == "human"
        page.keyboard.press("ArrowRight")  # Machine
        page.keyboard.press("Tab")
        page.keyboard.press("ArrowRight")  # from "Guessing" to "Unsure"
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.dataset.testid") == "next"
        page.keyboard.press("Enter")
        wait_for_js(
            page,
            f"Array.from(document.querySelectorAll('[data-testid=progress], [data-testid=completion-code]'))"
            f".some(e => !e.textContent.includes('Question {answered + 1} '))",
        )
    assert page.get_by_test_id("completion-code").inner_text() == study.completion_code
    responses = Response.objects.filter(trial__participant=participant)
    assert [(r.judged_human, r.confidence) for r in responses] == [(False, 2)] * 3


def test_pairwise_block_needs_both_clips_heard(page, live_server, material):
    study = open_study([{"kind": "pairwise", "pairs": [["model-a", "human"]], "trials": 2}])
    start(page)
    participant = begin_trials(page)
    for answered in range(2):
        trial = current_trial(participant)
        assert {trial.first.system.name, trial.second.system.name} == {"model-a", "human"}
        trial_ready(page)
        page.get_by_test_id("play-0").click()
        wait_for_js(page, "document.querySelector('input[name=ended_0]').value === '1'")
        assert answers_locked(page)  # clip B not heard yet
        page.get_by_test_id("play-1").click()
        page.wait_for_selector("fieldset.answers:not([disabled])")
        page.get_by_label("Clip B").check()
        if answered == 0:
            assert_accessible(page, "a pairwise trial, answered")
        submit_and_wait(page, participant, answered)
    assert page.get_by_test_id("completion-code").inner_text() == study.completion_code
    responses = Response.objects.filter(trial__participant=participant).select_related("trial")
    assert [r.choice for r in responses] == ["second", "second"] and all(
        r.plays == [1, 1] and not r.too_fast and r.trial.second_served_at for r in responses
    )
    # The two trials heard the pair in opposite orders (counterbalanced for this participant).
    orders = {(r.trial.first.system.name, r.trial.second.system.name) for r in responses}
    assert orders == {("model-a", "human"), ("human", "model-a")}


def test_style_block_after_the_headphone_screen(page, live_server, material):
    study = open_study(
        [{"kind": "style", "systems": ["model-a", "model-b"]}], headphone_screen=True
    )
    start(page)
    participant = Participant.objects.get()
    for index, variant in enumerate(participant.screen_order):
        page.get_by_text(f"Sound check {index + 1} of 6").wait_for()
        trial_ready(page)
        if index == 0:
            assert_accessible(page, "the headphone screen")
        page.get_by_test_id("play-0").click()
        page.wait_for_selector("fieldset.answers:not([disabled])")
        assert page.get_by_test_id("play-0").is_disabled()  # the tones play once
        page.get_by_label(f"Tone {correct_answer(variant)}").check()
        page.get_by_test_id("next").click()
    page.get_by_role("button", name="Start").wait_for()
    participant.refresh_from_db()
    assert participant.screen_passed is True and participant.exclusion_reasons == []
    begin_trials(page)
    for answered in range(4):
        trial = current_trial(participant)
        listen(page)
        page.get_by_label(trial.first.style.capitalize()).check()
        if answered == 0:
            assert_accessible(page, "a style trial, answered")
        submit_and_wait(page, participant, answered)
    assert page.get_by_test_id("completion-code").inner_text() == study.completion_code
    answers = Response.objects.filter(trial__participant=participant).select_related("trial__first")
    assert all(r.style == r.trial.first.style for r in answers)
    assert {r.trial.first.style for r in answers} == {"bach", "palestrina"}


def test_an_answer_whose_connection_drops_is_sent_again_and_stored_once(
    page, live_server, material
):
    open_study([{"kind": "rating", "trials": 2}])
    start(page)
    participant = begin_trials(page)
    posts = []

    def flaky_network(route):
        posts.append(route.request.method)
        if len(posts) <= 2:
            route.abort("connectionreset")  # the first two tries never reach the server
        else:
            route.continue_()

    page.route(
        lambda url: url.startswith(live_server.url + take_path()) and "/clip/" not in url,
        lambda route: flaky_network(route) if route.request.method == "POST" else route.continue_(),
    )
    trial = current_trial(participant)
    listen(page)
    page.get_by_label("8", exact=True).check()
    page.get_by_test_id("next").click()
    page.wait_for_selector("text=Connection lost")  # the participant is told, not dropped
    assert not Response.objects.exists()
    wait_for_js(
        page, "document.querySelector('[data-testid=progress]').textContent.includes('Question 2 ')"
    )
    assert posts == ["POST", "POST", "POST"]
    assert Response.objects.get().trial == trial and Response.objects.get().rating == 8


def test_declining_and_a_closed_study_leave_accessible_pages(page, live_server, material):
    study = open_study([{"kind": "rating", "trials": 1}])
    page.goto(take_path())
    page.get_by_role("button", name="I do not agree").click()
    page.get_by_text("Thank you").first.wait_for()
    assert Participant.objects.get().stage == "declined"
    assert_accessible(page, "the page after declining")
    Study.objects.filter(pk=study.pk).update(state="closed")
    page.context.clear_cookies()
    page.goto(take_path())
    assert Participant.objects.count() == 1  # a closed study takes nobody new
    assert_accessible(page, "a closed study's page")


def test_two_blocks_on_a_phone_each_introduced_with_a_tidy_scale(browser, live_server, material):
    study = open_study([{"kind": "rating", "trials": 2}, {"kind": "turing", "trials": 1}])
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(15_000)
    not_found = []
    page.on("response", lambda r: not_found.append(r.url) if r.status == 404 else None)
    start(page)
    page.get_by_role("button", name="Start").click()
    page.get_by_text("Part 1 of 2").wait_for()
    assert_accessible(page, "a block's introduction")
    page.get_by_role("button", name="Start part 1").click()
    participant = Participant.objects.get()
    trial_ready(page)

    def rows_of_the_scale() -> list[list[str]]:
        cells = page.eval_on_selector_all(
            ".scale-10 label",
            "ls => ls.map(l => [Math.round(l.getBoundingClientRect().top), l.innerText])",
        )
        rows: dict[int, list[str]] = {}
        for top, text in cells:
            rows.setdefault(top, []).append(text.split()[0])
        return list(rows.values())

    # A phone: two even rows, 1-5 over 6-10, and nothing scrolls sideways.
    assert rows_of_the_scale() == [["1", "2", "3", "4", "5"], ["6", "7", "8", "9", "10"]]
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.set_viewport_size({"width": 1280, "height": 800})
    assert rows_of_the_scale() == [[str(n) for n in range(1, 11)]]
    page.set_viewport_size({"width": 390, "height": 844})
    for answered in range(2):
        listen(page)
        page.get_by_label("7", exact=True).check()
        submit_and_wait(page, participant, answered)
    page.get_by_text("Part 2 of 2").wait_for()
    page.get_by_role("button", name="Start part 2").click()
    listen(page)
    page.get_by_label("Human").check()
    submit_and_wait(page, participant, 2)
    assert page.get_by_test_id("completion-code").inner_text() == study.completion_code
    participant.refresh_from_db()
    assert participant.stage == "done" and len(participant.introduced_blocks) == 2
    # Every page had what it asked for: no favicon or other 404 in the console.
    assert not_found == []
    page.goto(take_path()[:-4] + "zz/")
    page.get_by_text("Study link not found").first.wait_for()
    assert_accessible(page, "a mistyped link's page")
    context.close()
