"""The experimenter's report page and power planning in a real browser (headless Chromium)."""

import pytest
from playwright.sync_api import expect

from metrics.reports import build_report
from tests.conftest import run_command
from tests.factories import ALL_BLOCKS, import_material, open_study

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def log_in(page, django_user_model, address: str) -> None:
    django_user_model.objects.create_user("ada", password="a long test password", is_staff=True)
    page.goto(address)
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("a long test password")
    page.get_by_role("button", name="Log in").click()


def test_report_page_shows_the_analysis_numbers(page, js_fakes, tmp_path, django_user_model):
    import_material(js_fakes, tmp_path)
    study = open_study(ALL_BLOCKS)
    run_command("simulate_answers", study.slug, "--listeners", "10", "--effect", "model-a=1")
    log_in(page, django_user_model, f"/studies/{study.slug}/")
    page.get_by_test_id("report").click()
    expect(page.get_by_test_id("only-simulated")).to_be_visible()
    page.get_by_label("include simulated listeners").check()
    page.get_by_role("button", name="Update").click()
    expect(page.get_by_test_id("simulated-banner")).to_be_visible()

    report = build_report(study, include_simulated=True)
    pairwise = next(b for b in report.blocks if b.kind == "pairwise")
    expect(page.get_by_test_id("preference-sentence").first).to_have_text(
        pairwise.pairs[0].sentence
    )
    rating = next(b for b in report.blocks if b.kind == "rating")
    first = rating.systems_table[0]
    row = page.get_by_test_id(f"ratings-{rating.number}").locator("tbody tr").first
    expect(row).to_contain_text(f"{first.model_mean:.2f} [{first.model_low:.2f}")
    expect(page.locator("svg.chart").first).to_be_visible()
    # The one-screen summary comes first: per block the headline estimate per system with
    # its interval, as the analysis computed it, and the method in words.
    summary = page.get_by_test_id("summary")
    expect(summary).to_be_visible()
    for block in report.blocks:
        headline = block.headline
        cells = page.get_by_test_id(f"headline-{block.number}").get_by_test_id("headline-estimate")
        expect(cells).to_have_count(len(headline.rows))
        first_row = headline.rows[0]
        if first_row.percent:
            expected = f"{first_row.estimate * 100:.1f}% [{first_row.low * 100:.1f}%"
        else:
            expected = f"{first_row.estimate:.2f} [{first_row.low:.2f}"
        expect(cells.first).to_contain_text(expected)
    turing = next(b for b in report.blocks if b.kind == "turing")
    expect(page.get_by_test_id(f"headline-{turing.number}")).to_contain_text("logit mixed model")
    expect(summary).to_contain_text("Satterthwaite")
    # Everything else sits below, collapsed until asked for.
    expect(page.locator("details.details")).not_to_have_attribute("open", "")
    # The PDF link downloads a real PDF of the same report.
    with page.expect_download() as download:
        page.get_by_test_id("report-pdf").click()
    with open(download.value.path(), "rb") as handle:
        assert handle.read(5) == b"%PDF-"


def test_designer_shows_listeners_needed(page, django_user_model):
    log_in(page, django_user_model, "/studies/new/")
    panel = page.get_by_test_id("power")
    # The defaults: 1 point with an SD of 2 is d = 0.5, paired: 34 listeners (pwr: 33.37).
    expect(page.get_by_test_id("power-rating")).to_have_text("34 listeners (d = 0.5)")
    panel.get_by_label("every listener rates both systems").uncheck()
    expect(page.get_by_test_id("power-rating")).to_have_text("64 listeners per system (d = 0.5)")
    panel.get_by_label("Preference share to detect").fill("0.6")
    panel.get_by_label("Intraclass correlation").fill("0")
    panel.get_by_label("Comparisons of the pair per listener").fill("10")
    expect(page.get_by_test_id("power-preference")).to_contain_text("20 listeners")
