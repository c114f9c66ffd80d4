"""Participants in their own language: a study in German from link to completion code, with
no English string on any page, and complete catalogues for every language earshot offers."""

import gettext
import re

import pytest

from studies.design import LANGUAGES, SpecError, StudySpec
from studies.headphone_screen import correct_answer
from studies.models import Participant, Response, Study
from tests.accessibility import assert_accessible
from tests.conftest import REPO, wait_for_js
from tests.factories import builder_form, open_study, spec, take_path

LOCALE = REPO / "studies" / "locale"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def catalogue(language: str) -> dict:
    path = LOCALE / language / "LC_MESSAGES" / "django.mo"
    assert path.exists(), f"{path} is missing: `make messages` compiles it"
    with path.open("rb") as compiled:
        return gettext.GNUTranslations(compiled)._catalog


@pytest.mark.parametrize("language", sorted(set(LANGUAGES) - {"en"}))
def test_every_participant_text_is_translated_with_its_placeholders(language):
    entries = {k: v for k, v in catalogue(language).items() if k}
    for other in set(LANGUAGES) - {"en", language}:  # the same texts in every language
        assert set(entries) == {k for k in catalogue(other) if k}
    for msgid, msgstr in entries.items():
        source = msgid[0] if isinstance(msgid, tuple) else msgid
        assert msgstr.strip(), f"{language}: {source!r} has no translation"
        assert sorted(PLACEHOLDER.findall(source)) == sorted(PLACEHOLDER.findall(msgstr)), source
        assert re.findall(r"</?\w+", source) == re.findall(r"</?\w+", msgstr), source


def english_leaks(text: str, language: str) -> list[str]:
    """The English source texts (those translated into something else) found in ``text``."""
    leaks = []
    for msgid, msgstr in catalogue(language).items():
        source = msgid[0] if isinstance(msgid, tuple) else msgid
        if not source or source == msgstr:
            continue
        visible = re.sub(r"<[^>]+>", "", source)
        fragments = [re.escape(part) for part in PLACEHOLDER.split(visible)[::2]]
        if re.search(r"\b" + ".+?".join(fragments) + r"(?!\w)", text):
            leaks.append(source)
    return leaks


def test_the_leak_check_finds_english():
    assert english_leaks("Frage 1 von 3. Question 2 of 3", "de") == [
        "%(done)s of %(total)s",
        "Question %(current)s of %(total)s",
    ]
    assert english_leaks("Bitte <b>wählen</b>. Please choose a rating.", "de") == [
        "Please choose a rating."
    ]
    assert english_leaks("Frage 1 von 3", "de") == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
def test_a_german_study_from_link_to_completion_code(page, live_server, material):
    study = open_study(
        [
            {"kind": "rating", "ask_human": True, "instructed_checks": 1, "trials": 1},
            {"kind": "turing", "ask_confidence": True, "trials": 1},
        ],
        language="de",
        title="Interne Studie",
        public_title="Eine Hörstudie",
        instructions="Hören Sie jeden Ausschnitt bis zum Ende\nund antworten Sie dann.",
        headphone_screen=True,
        redirect_url="https://app.prolific.com/submissions/complete?cc=DE",
    )
    pages: list[str] = []

    def seen(what: str) -> None:
        text = page.evaluate(
            "() => document.body.innerText + ' ' + Array.from(document.querySelectorAll("
            "'[aria-label], [title], [placeholder]')).map(e => e.getAttribute('aria-label') "
            "|| e.getAttribute('title') || e.getAttribute('placeholder')).join(' ')"
        )
        assert page.evaluate("document.documentElement.lang") == "de", what
        assert english_leaks(text + " " + page.title(), "de") == [], what
        pages.append(what)

    page.goto(take_path())
    seen("consent")
    assert "Sie hören kurze Musikstücke" in page.inner_text(
        "body"
    )  # the default consent, in German
    page.get_by_role("button", name="Ich bin einverstanden").click()
    seen("questionnaire")
    page.get_by_label("25-34").check()
    page.get_by_label("1-3 Jahre").check()
    page.get_by_label("Kopfhörer", exact=True).check()
    page.get_by_role("button", name="Weiter").click()
    participant = Participant.objects.get()
    for index, variant in enumerate(participant.screen_order):
        page.get_by_text(f"Hörtest {index + 1} von 6").wait_for()
        page.wait_for_selector("form[data-trial][data-ready]")
        page.get_by_test_id("play-0").click()
        page.wait_for_selector("fieldset.answers:not([disabled])")
        if index == 0:
            seen("headphone screen, heard")
        page.get_by_label(f"Ton {correct_answer(variant)}").check()
        page.get_by_test_id("next").click()
    page.get_by_role("button", name="Beginnen").wait_for()
    seen("instructions")
    page.get_by_role("button", name="Beginnen").click()
    for part in (1, 2):
        page.get_by_text(f"Teil {part} von 2").wait_for()
        seen(f"introduction of part {part}")
        assert_accessible(page, f"a German block introduction ({part})")
        page.get_by_role("button", name=f"Teil {part} beginnen").click()
        while True:
            page.wait_for_selector(
                "form[data-trial][data-ready], [data-testid=block-intro], "
                "[data-testid=completion-code]"
            )
            if not page.locator("form[data-trial]").count():
                break
            trial = participant.trials.filter(response__isnull=True).order_by("position").first()
            if trial.block.position != part - 1:
                break
            seen(f"a trial of part {part}, locked")
            page.get_by_test_id("play-0").click()
            wait_for_js(page, "document.querySelector('input[name=ended_0]').value === '1'")
            page.wait_for_selector("fieldset.answers:not([disabled])")
            seen(f"a trial of part {part}, heard")
            if part == 1:
                rating = (trial.expected or {}).get("rating", 7)
                page.locator(f"input[name=rating][value='{rating}']").check()
                page.get_by_label("Ja").check()
            else:
                page.get_by_label("Mensch", exact=True).check()
                page.get_by_label("Ziemlich sicher").check()
            done = Response.objects.filter(trial__participant=participant).count()
            page.get_by_test_id("next").click()
            wait_for_js(page, "!document.querySelector('form[data-trial][data-sent]')")
            assert Response.objects.filter(trial__participant=participant).count() == done + 1
    code = page.get_by_test_id("completion-code")
    assert code.inner_text() == study.completion_code
    page.wait_for_selector("[data-countdown]:not([hidden])")
    seen("completion page")
    assert "Sekunden dorthin weitergeleitet" in page.inner_text("body")
    participant.refresh_from_db()
    assert participant.stage == "done" and participant.screen_passed
    assert Response.objects.filter(trial__participant=participant).count() == 3
    assert len(pages) >= 10


@pytest.mark.django_db
def test_a_study_made_in_the_designer_speaks_its_language(
    material, staff_client, django_capture_on_commit_callbacks
):
    form = builder_form(
        title="Intern", public_title="Eine Hörstudie", language="de", slug="deutsch",
        instructions=StudySpec.instructions, consent="Einverstanden?",
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        assert staff_client.post("/studies/new/", form).status_code == 302
    study = Study.objects.get(slug="deutsch")
    assert study.language == "de" and study.design.language == "de"
    # earshot's defaults arrive in German; the experimenter's own text is kept as written.
    assert study.instructions == "Hören Sie jeden Clip bis zum Ende und antworten Sie dann."
    assert study.consent_text == "Einverstanden?"
    assert study.blocks.get().title == "Bewertung"
    page = staff_client.get(study.get_absolute_url()).content.decode()
    assert 'Eine Hörstudie <span class="muted">(Deutsch)</span>' in page


def test_a_language_earshot_has_no_catalogue_for_is_refused():
    with pytest.raises(SpecError, match="language 'fr': choose one of de, en, es"):
        spec([{"kind": "rating"}], language="fr")
