"""The experimenter's main pages in a real browser (headless Chromium), each checked by
axe-core, and the forms worked by keyboard only."""

import pytest

from generation.models import Piece, SampleSet, TrainingRun
from tests.accessibility import assert_accessible
from tests.conftest import run_command
from tests.factories import ALL_BLOCKS, import_material, open_study, tiny_checkpoint

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_the_main_experimenter_pages_have_no_serious_accessibility_finding(
    page, live_server, js_fakes, tmp_path, django_user_model
):
    import_material(js_fakes, tmp_path)
    # With a sequential design and a frozen plan, so their report sections are checked too.
    # Every block kind, MUSHRA and ABX too, so each kind's report section is checked.
    study = open_study(
        [*ALL_BLOCKS, {"kind": "mushra", "anchor": "model-b"}, {"kind": "abx"}],
        sequential={"looks": [3, 6], "block": 1, "better": "model-a", "than": "model-b"},
        plan={"secondary": [{"block": 3, "better": "model-a", "than": "model-b"}]},
    )
    run_command("simulate_answers", study.slug, "--listeners", "6")
    checkpoint = tiny_checkpoint()
    run_command("generate", "--checkpoint", str(checkpoint.pk), "--n", "2", "--bars", "2")
    drawn = SampleSet.objects.get(checkpoint=checkpoint)
    django_user_model.objects.create_user("ada", password="a long test password", is_staff=True)

    page.goto("/login/")
    assert_accessible(page, "the login page")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("a long test password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")
    piece = Piece.objects.first()
    pages = [
        "/",
        "/datasets/fakes/",
        piece.get_absolute_url(),
        "/datasets/import/",
        "/models/",
        "/models/train/",
        checkpoint.run.get_absolute_url(),
        checkpoint.get_absolute_url(),
        drawn.get_absolute_url(),
        f"{drawn.get_absolute_url()}0/",
        "/samples/upload/",
        "/studies/",
        "/studies/new/",
        study.get_absolute_url(),
        f"/studies/{study.slug}/report/?simulated=yes",
        f"/compare/?checkpoints={checkpoint.pk}&dataset=fakes&split=all&study={study.slug}"
        "&simulated=yes",
        "/password/",
    ]
    for address in pages:
        response = page.goto(address)
        assert response.status == 200, address
        page.wait_for_load_state("networkidle")
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        assert_accessible(page, address)

    # At 320 CSS pixels (WCAG 1.4.10, reflow) no page scrolls sideways: wide tables scroll
    # inside their own box.
    phone = page.context.browser.new_context(
        base_url=live_server.url,
        viewport={"width": 320, "height": 640},
        storage_state=page.context.storage_state(),
    )
    small = phone.new_page()
    for address in pages:
        small.goto(address)
        small.wait_for_load_state("networkidle")
        # Folded sections too (a report's blocks in full, a block's clips).
        small.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        width = small.evaluate("document.documentElement.scrollWidth")
        assert width <= 320, f"{address} is {width}px wide on a 320px screen"
    phone.close()


def test_training_is_started_with_the_keyboard_alone(page, js_fakes, tmp_path, django_user_model):
    import_material(js_fakes, tmp_path)
    django_user_model.objects.create_user("ada", password="a long test password", is_staff=True)
    page.goto("/login/?next=/models/train/")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("a long test password")
    page.keyboard.press("Enter")
    page.wait_for_url("**/models/train/")
    page.get_by_label("Model").focus()
    page.keyboard.press("End")  # the last model in the list
    page.keyboard.press("Tab")  # Preset
    page.keyboard.press("Home")  # tiny
    page.keyboard.press("Tab")  # Dataset
    page.keyboard.press("ArrowDown")  # the first dataset
    page.keyboard.press("Tab")  # the first "more datasets" box, left unticked
    assert page.evaluate("document.activeElement.name") == "more_datasets"
    page.keyboard.press("Tab")  # Steps
    page.keyboard.type("2")
    page.keyboard.press("Tab")  # Seed
    page.keyboard.press("Tab")  # Device, left at the worker's default
    assert page.evaluate("document.activeElement.name") == "device"
    page.keyboard.press("Tab")  # the button
    assert page.evaluate("document.activeElement.textContent").strip() == "Start training"
    page.keyboard.press("Enter")
    page.wait_for_url("**/runs/*/")
    run = TrainingRun.objects.get()
    assert run.family == "music-transformer" and run.config_name == "performance"
    assert run.preset == "tiny" and run.total_steps == 2 and run.device == ""
    assert [d.name for d in run.datasets] == ["fakes"]


def test_flows_that_finish_in_the_browser(page, js_fakes, tmp_path, django_user_model):
    """Draw samples and land on the set with players; the dashboard's counts; the report's
    pairwise heatmap with names that share a long prefix."""
    import_material(js_fakes, tmp_path)
    checkpoint = tiny_checkpoint()
    long_names = ["checkpoint-12", "checkpoint-9"]
    study = open_study(
        [{"kind": "pairwise", "pairs": [long_names], "trials": 2}],
        systems=[
            {"name": long_names[0], "sample_set": "model-a"},
            {"name": long_names[1], "sample_set": "model-b"},
            {"name": "human", "human": "fakes", "split": "all"},
        ],
    )
    run_command("simulate_answers", study.slug, "--listeners", "8")
    django_user_model.objects.create_user("ada", password="a long test password", is_staff=True)
    page.goto(f"/login/?next={checkpoint.get_absolute_url()}")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("a long test password")
    page.get_by_role("button", name="Log in").click()

    # Draw samples: the job renders them and the browser ends on the set, players ready.
    form = page.get_by_test_id("generate-form")
    form.get_by_label("Samples").fill("2")
    form.get_by_label("Bars", exact=True).fill("2")
    form.get_by_role("button", name="Draw samples").click()
    page.wait_for_url("**/samples/*/")
    drawn = SampleSet.objects.get(checkpoint=checkpoint)
    assert page.url.endswith(drawn.get_absolute_url())
    assert page.locator("[data-testid=samples] audio").count() == 2
    assert page.get_by_text("not rendered").count() == 0

    # The dashboard: simulated listeners counted apart, and said to be so.
    page.goto(study.get_absolute_url())
    assert page.get_by_test_id("simulated").inner_text() == "8"
    assert page.get_by_test_id("completed").inner_text() == "0"

    # The report's heatmap writes both names whole, inside the picture.
    page.goto(f"/studies/{study.slug}/report/?simulated=yes")
    heatmap = page.locator("svg.heatmap").first
    heatmap.scroll_into_view_if_needed()
    labels = heatmap.locator("text.column")
    assert labels.all_text_contents() == long_names
    frame = heatmap.bounding_box()
    for index in range(labels.count()):
        box = labels.nth(index).bounding_box()
        assert box["x"] >= frame["x"] and box["x"] + box["width"] <= frame["x"] + frame["width"]
        assert box["y"] >= frame["y"]
