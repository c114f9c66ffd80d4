"""What participants read around the trials: texts reflowed, one introduction screen per
block, a page for a mistyped link."""

import pytest
from django.utils import timezone

from studies.models import Participant
from studies.text import paragraphs
from tests.factories import heard, open_study, right_answer, take_path, take_to_trials

pytestmark = pytest.mark.django_db


def test_wrapped_lines_are_reflowed_and_blank_lines_part_paragraphs():
    text = """
You will hear short clips of music, some composed by people
and some by computer programs.

Listen to each clip to the end.
  - then answer
  - honestly
"""
    assert paragraphs(text) == [
        "You will hear short clips of music, some composed by people and some by computer "
        "programs.",
        "Listen to each clip to the end.\n- then answer\n- honestly",
    ]
    assert paragraphs("\r\n\r\n") == []


def test_instructions_from_toml_read_as_paragraphs_and_stay_escaped(material, client):
    open_study(
        [{"kind": "rating"}],
        instructions="Listen to each clip\nto the end. <b>Then</b> answer.\n\nThank you.",
    )
    client.get(take_path())
    client.post(take_path(), {"step": "consent", "consent": "yes"})
    client.post(
        take_path(),
        {
            "step": "questionnaire",
            "age_band": "25-34",
            "musical_training": "2",
            "listening_device": "headphones",
        },
    )
    page = client.get(take_path()).content.decode()
    assert 'value="instructions"' in page
    assert "<p>Listen to each clip to the end. &lt;b&gt;Then&lt;/b&gt; answer.</p>" in page
    assert "<p>Thank you.</p>" in page and "<br>" not in page


def _answer_block(client, participant, block):
    for trial in participant.trials.filter(block=block).order_by("position"):
        heard(client, trial)
        assert client.post(take_path(), right_answer(trial)).status_code == 302


def test_each_block_opens_with_its_own_introduction(material, client):
    study = open_study(
        [
            {"kind": "rating", "trials": 2, "introduction": "First, rate\nsome clips."},
            {"kind": "turing", "trials": 2},
        ]
    )
    participant = take_to_trials(client, study)
    rating, turing = study.blocks.order_by("position")
    page = client.get(take_path()).content.decode()
    assert 'data-testid="block-intro"' in page and "Part 1 of 2" in page
    assert "<p>First, rate some clips.</p>" in page and "2 questions in this part." in page
    # A tampered block id is refused and passes nothing.
    response = client.post(take_path(), {"step": "block", "block": "999999"})
    assert response.status_code == 400
    participant.refresh_from_db()
    assert participant.introduced_blocks == []
    passed_at = timezone.now()
    for _ in range(2):  # a double click passes the screen once
        response = client.post(take_path(), {"step": "block", "block": str(rating.pk)})
        assert response.status_code == 302
    participant.refresh_from_db()
    assert participant.introduced_blocks == [rating.pk]
    # The first trial's response time counts from its own page, not from the introduction.
    first = participant.trials.order_by("position").first()
    assert first.shown_at >= passed_at
    page = client.get(take_path()).content.decode()
    assert 'data-testid="answers"' in page and "block-intro" not in page
    _answer_block(client, participant, rating)
    page = client.get(take_path()).content.decode()
    assert "Part 2 of 2" in page and "person or a computer program composed it" in page
    client.post(take_path(), {"step": "block", "block": str(turing.pk)})
    _answer_block(client, participant, turing)
    participant.refresh_from_db()
    assert participant.stage == "done"
    assert participant.introduced_blocks == [rating.pk, turing.pk]


def test_a_single_block_study_has_no_extra_screen(material, client):
    study = open_study([{"kind": "rating", "trials": 2}])
    take_to_trials(client, study)
    page = client.get(take_path()).content.decode()
    assert 'data-testid="answers"' in page and "block-intro" not in page


def test_a_mistyped_link_gets_the_participants_page_even_with_debug_on(material, client, settings):
    settings.DEBUG = True
    open_study([{"kind": "rating"}])
    response = client.get(take_path()[:-3] + "xy/")
    page = response.content.decode()
    assert response.status_code == 404
    assert "<h1>Study link not found</h1>" in page and "Open the link exactly" in page
    assert "Django" not in page and "URLconf" not in page
    assert not Participant.objects.exists()
