"""Shared factories for the objects many tests need.

- A study with rendered clips, from real MIDI: ``import_material`` (js-fake chorales as
  human references and as two systems' samples), ``spec``, ``open_study``, ``take_path``;
  the ``material`` fixture (tests/conftest.py) imports it.
- A participant at the trials: ``take_to_trials`` (consent, questionnaire, instructions),
  ``right_answer`` (what a careful participant sends), ``answer_all``.
- A trained tiny checkpoint: ``tiny_checkpoint``.
- A row of the checkpoint comparison, no database: ``comparison_entry``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from generation.models import Checkpoint
from generation.services.corpora import import_midi_folder
from generation.services.sampling import import_samples
from metrics.comparison.results import (
    CheckpointFacts,
    Entry,
    FeatureSummary,
    MusicFigures,
    TrainingFigures,
)
from studies import services, throttle
from studies.design import StudySpec
from studies.models import Participant, Study, Trial, TrialClip
from studies.services import build_study, create_study, set_state
from tests.conftest import copy_midi, run_command


def comparison_entry(key, *, run=1, step=100, valid_loss=1.0, unit="nats per melody-events token",
                     rating=None, entropy=2.5) -> Entry:  # fmt: skip
    """A row of the checkpoint comparison: a checkpoint of ``run`` at ``step``, its loss,
    one music feature, and (when ``rating`` is given) what listeners said of it."""
    return Entry(
        key=key,
        label=key,
        sample_set=key,
        sample_set_label=key,
        checkpoint=CheckpointFacts(
            id=sum(map(ord, key)),
            family="melody-rnn",
            config="small",
            preset="",
            step=step,
            run=run,
            run_label=f"run {run}",
            run_best_step=300,
            dataset="fakes",
        ),
        loss_unit=unit,
        training=TrainingFigures(
            train_loss=None,
            valid_loss=valid_loss,
            test_loss=None,
            perplexity=None,
            accuracy=0.7,
            note_event_accuracy=None,
            cv_loss=None,
            cv_sd=None,
            cv_k=None,
        ),
        music=MusicFigures(
            pieces=4,
            features={"pitch_class_entropy": FeatureSummary(mean=entropy, sd=None, n=4)},
            histograms={},
            distances={},
        ),
        listeners=None if rating is None else {"system": key, "rating": rating},
    )


# --- a study with rendered clips ----------------------------------------------------------

CLIP_SECONDS = 1.5


def import_material(js_fakes: Path, tmp_path: Path) -> None:
    import_midi_folder(js_fakes, name="fakes", style="bach", limit=6, workers=1)
    for system, first in (("model-a", 100), ("model-b", 200)):
        folder = tmp_path / system
        for number in range(first, first + 3):
            copy_midi(js_fakes / f"{number}.mid", folder, f"{number}.mid")
        import_samples(folder, system=system)


def spec(blocks: list[dict], **study) -> StudySpec:
    return StudySpec.from_dict(
        {
            "slug": "test-study",
            "title": "Test study",
            "clips_per_system": 2,
            "clip_seconds": CLIP_SECONDS,
            "systems": [
                {"name": "model-a", "sample_set": "model-a", "style": "bach"},
                {"name": "model-b", "sample_set": "model-b", "style": "palestrina"},
                {"name": "human", "human": "fakes", "split": "all", "style": "bach"},
            ],
            "blocks": blocks,
            **study,
        }
    )


def builder_form(**fields) -> dict:
    """The study designer's POST for a rating study of model-a and model-b (fields override)."""
    return {
        "build": "1", "title": "Built in the browser", "slug": "built", "instructions": "Listen.",
        "consent": "Agree?", "sample_sets": ["model-a", "model-b"], "temperature": "1.0",
        "bars": "8", "human_split": "all", "clips_per_system": "2", "clip_seconds": "1.5",
        "seed": "0", "rating": "on", "scale": "mos", "instructed_checks": "0", "repeats": "0",
        "assignment_expiry_minutes": "30", **fields,
    }  # fmt: skip


def open_study(blocks: list[dict], **study):
    built = build_study(create_study(spec(blocks, **study)))
    return set_state(built, "open")


def take_path(slug: str = "test-study") -> str:
    """The participants' address of a study (its random key, not its slug)."""
    from studies.models import Study

    return Study.objects.get(slug=slug).participant_path()


# --- a participant at the trials ---------------------------------------------------------

ALL_BLOCKS = [
    {"kind": "rating", "ask_human": True, "instructed_checks": 1, "repeats": 1},
    {"kind": "turing", "ask_confidence": True, "trials": 2},
    {"kind": "pairwise", "pairs": [["model-a", "model-b"]], "trials": 2},
    {"kind": "style", "trials": 2},
]


def right_answer(trial: Trial) -> dict:
    """What a careful participant sends for this trial (the instructed answer on checks)."""
    expected = trial.expected or {}
    block = trial.block
    form = {"step": "trials", "trial": trial.token, "listening_seconds": "3.0"}
    stimuli = trial.stimuli
    for index in range(len(stimuli)):
        form[f"plays_{index}"] = "1"
        form[f"ended_{index}"] = "1"
    if block.kind == "mushra":
        # The hidden reference at the top, the rest spread as a listener's would be.
        for slot in range(1, len(stimuli)):
            hidden = stimuli[slot].pk == trial.first_id
            form[f"rating_{slot}"] = "100" if hidden else str(20 + 11 * slot + trial.position)
    elif block.kind == "abx":
        form["choice"] = expected.get("choice", "first")
    elif block.kind == "rating":
        # Ratings vary as a listener's would: one rating throughout is flagged (straight-lining).
        form["rating"] = str(expected.get("rating", 4 + trial.position % 5))
        if block.ask_human:
            form["could_be_human"] = "yes"
    elif block.kind == "turing":
        form["judged"] = "machine" if expected.get("judged_human") is False else "human"
        if block.ask_confidence:
            form["confidence"] = "4"
    elif block.kind == "pairwise":
        form["choice"] = expected.get("choice", "first")
    else:
        form["style"] = expected.get("style", block.styles[trial.position % len(block.styles)])
    return form


def take_to_trials(client: Client, study: Study, query: str = "") -> Participant:
    assert client.get(f"{study.participant_path()}{query}").status_code == 200
    client.post(study.participant_path(), {"step": "consent", "consent": "yes"})
    client.post(
        study.participant_path(),
        {
            "step": "questionnaire",
            "age_band": "25-34",
            "musical_training": "2",
            "listening_device": "headphones",
        },
    )
    client.post(study.participant_path(), {"step": "instructions"})
    return participant_of(client, study)


def trial_page(client: Client, study: Study, *, seen: list | None = None):
    """The participant's current page, past a block's introduction screen when one comes
    first (each screen passed is added to ``seen``)."""
    page = client.get(study.participant_path())
    block = re.search(r'name="block" value="(\d+)"', page.content.decode())
    if block:
        if seen is not None:
            seen.append(page)
        client.post(study.participant_path(), {"step": "block", "block": block.group(1)})
        page = client.get(study.participant_path())
    return page


def participant_of(client: Client, study: Study) -> Participant:
    """The participant this test browser is, read from its signed identity cookie."""
    name = throttle.IDENTITY_COOKIE.format(key=study.access_key)
    request = RequestFactory().get("/")
    request.COOKIES[name] = client.cookies[name].value
    return Participant.objects.get(
        public_id=throttle.participant_identity(request, study.access_key).public_id
    )


def heard(client: Client, trial: Trial) -> None:
    """The browser fetches the trial's clips (the server records it), and then as much time
    passes as playing them takes: the page and the clips are dated back by their length."""
    study = trial.participant.study
    for index, stimulus in enumerate(trial.stimuli):
        fmt = stimulus.rendering.browser_formats()[0]
        url = reverse("studies:clip", args=[study.access_key, trial.token, index, fmt])
        response = client.get(url)
        assert response.status_code in (200, 206), url
        if response.streaming:
            b"".join(response.streaming_content)
    listened(trial)


def listened(trial: Trial) -> None:
    """As much time passes as playing the trial's clips takes, after its page and clips went
    out: their server-side times are dated back (for answers stored through the services)."""
    seconds = sum(s.rendering.duration_seconds for s in trial.stimuli)
    earlier = timezone.now() - timedelta(seconds=seconds + 2)
    Trial.objects.filter(pk=trial.pk).update(
        shown_at=earlier,
        first_served_at=earlier,
        second_served_at=earlier if trial.second_id else None,
    )
    TrialClip.objects.filter(trial=trial).update(served_at=earlier)


def answer_all(client: Client, participant: Participant) -> None:
    while (trial := services.next_trial(participant)) is not None:
        heard(client, trial)
        response = client.post(participant.study.participant_path(), right_answer(trial))
        assert response.status_code == 302, response.content.decode()[:500]


# --- a trained tiny checkpoint ------------------------------------------------------------


def tiny_checkpoint(*, model: str = "markov", config: str = "events", dataset: str = "fakes",
                    preset: str = "tiny") -> Checkpoint:  # fmt: skip
    """Trains ``model`` on ``dataset`` with the tiny preset (seconds on a CPU) through the
    ``train`` command, and returns its last checkpoint."""
    run_command(
        "train", "--model", model, "--config", config, "--dataset", dataset, "--preset", preset
    )
    return Checkpoint.objects.order_by("-pk").first()


def id3_tag_is_only_padding(data: bytes) -> bool:
    """True when an MP3 starts with no ID3v2 tag or with one that holds nothing but the
    zeros that size the file (generation.audio.sizing)."""
    if not data.startswith(b"ID3"):
        return True
    size = sum((byte & 0x7F) << (7 * (3 - i)) for i, byte in enumerate(data[6:10]))
    return data[10 : 10 + size] == bytes(size)
