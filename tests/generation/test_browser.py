"""What a person sees in a real browser (Debian's Chromium driven by Playwright)."""

import pytest
from playwright.sync_api import expect

from generation.models import Dataset, Job
from generation.services import corpora as services
from tests.conftest import wait_for_js

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.slow
def test_visitor_browses_from_datasets_to_a_piano_roll(page, live_server):
    services.import_corpus("bach-chorales", limit=2)
    Dataset.objects.update(is_public=True)
    page.goto("/")
    expect(page).to_have_title("Datasets · earshot")
    card = page.get_by_role("region", name="J.S. Bach four-part chorales")
    expect(card.get_by_test_id("piece-count")).to_have_text("2")
    card.get_by_role("link", name="J.S. Bach four-part chorales").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("J.S. Bach four-part chorales")
    page.get_by_role("link", name="bwv269").click()
    roll = page.get_by_role("img", name="piano roll")
    expect(roll).to_be_visible()
    assert roll.locator("rect").count() == int(
        page.get_by_test_id("note-count").inner_text().split()[0]
    )


@pytest.mark.slow
def test_phone_sized_screen_keeps_the_page_usable(browser, live_server):
    services.import_corpus("bach-chorales", limit=1)
    context = browser.new_context(base_url=live_server.url, viewport={"width": 375, "height": 700})
    page = context.new_page()
    page.goto("/")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the home page scrolls sideways on a phone ({width}px wide)"
    context.close()


def test_experimenter_watches_a_job_finish(page, live_server, django_user_model):
    django_user_model.objects.create_user("ada", password="a long test password", is_staff=True)
    job = Job.objects.create(kind="import", title="Import essen")
    page.goto(job.get_absolute_url())
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("a long test password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import essen")
    expect(page.locator("[data-field=status]")).to_have_text("queued")

    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.SUCCEEDED,
        progress_done=5,
        progress_total=5,
        result_url="/datasets/essen/",
    )
    expect(page.locator("[data-field=status]")).to_have_text("succeeded")
    expect(page.get_by_role("link", name="See the result")).to_have_attribute(
        "href", "/datasets/essen/"
    )
    assert page.locator("progress").evaluate("p => p.value") == 100


@pytest.mark.slow
def test_listener_can_play_a_rendered_piece(page, live_server, django_user_model):
    from generation.services.rendering import get_or_create_profile, render_pieces

    django_user_model.objects.create_user("ada", password="a long test password", is_staff=True)
    services.import_corpus("bach-chorales", limit=1)
    Dataset.objects.update(is_public=True)
    from generation.models import Piece

    piece = Piece.objects.get()
    render_pieces([piece], get_or_create_profile("default"), workers=1)
    rendering = piece.renderings.get()
    page.goto(piece.get_absolute_url())
    page.get_by_role("link", name="log in", exact=True).click()  # audio is for experimenters
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("a long test password")
    page.get_by_role("button", name="Log in").click()
    player = page.get_by_test_id("player")
    expect(player).to_be_visible()
    wait_for_js(page, "document.querySelector('audio').readyState >= 1")
    duration = player.evaluate("a => a.duration")
    assert duration == pytest.approx(rendering.duration_seconds, abs=0.1)
    assert player.evaluate("a => a.currentSrc").endswith(rendering.files["mp3"])
