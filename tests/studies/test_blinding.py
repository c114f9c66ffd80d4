"""Blinding audit: nothing a participant's browser receives tells which system made a clip.

One participant takes a study with every block kind; every page, clip address, HTTP header,
audio file (its bytes and metadata tags) and clip length they are sent is checked for what
could give a system away.
"""

import io
import re
from collections import defaultdict

import pytest
import soundfile
from django.test import Client

from generation.models import Rendering
from studies import services
from studies.models import Stimulus
from studies.services import build_study, create_study, set_state
from tests.factories import (
    ALL_BLOCKS,
    CLIP_SECONDS,
    heard,
    id3_tag_is_only_padding,
    import_material,
    right_answer,
    spec,
    take_to_trials,
    trial_page,
)

pytestmark = pytest.mark.django_db

SYSTEM_NAMES = {"model-a": "sys-alpha", "model-b": "sys-beta", "human": "sys-gamma"}
# Headers that may differ between two clips of one format: their lengths and the time.
PER_RESPONSE = {"Content-Length", "Content-Range", "Date", "X-Request-ID"}


@pytest.fixture
def audited(js_fakes, tmp_path):
    import_material(js_fakes, tmp_path)
    design = spec(ALL_BLOCKS).to_dict()
    for system in design["systems"]:
        system["name"] = SYSTEM_NAMES[system["name"]]
    for block in design["blocks"]:
        if block.get("pairs"):
            block["pairs"] = [[SYSTEM_NAMES[a], SYSTEM_NAMES[b]] for a, b in block["pairs"]]
    from studies.design import StudySpec

    return set_state(build_study(create_study(StudySpec.from_dict(design))), "open")


def giveaways(study) -> set[str]:
    """Every name or file identity a participant must never see."""
    words = set(SYSTEM_NAMES.values()) | {"model-a", "model-b", "fakes"}
    for stimulus in Stimulus.objects.filter(study=study).select_related("rendering"):
        rendering = stimulus.rendering
        words |= {rendering.cache_key, rendering.midi_sha256, rendering.source_label}
        for path in [*rendering.files.values(), rendering.midi_file]:
            words |= {path, path.rsplit("/", 1)[-1].rsplit(".", 1)[0]}
    return {word for word in words if word}


def test_nothing_a_participant_receives_reveals_the_system(audited, admin_client):
    study = audited
    secrets = giveaways(study)
    # The experimenter's page names the systems: the audit looks for words that do exist.
    dashboard = admin_client.get(study.get_absolute_url()).content.decode()
    assert all(name in dashboard for name in SYSTEM_NAMES.values())
    client = Client()
    participant = take_to_trials(client, study)
    pages, clips = [], defaultdict(list)  # system -> [(fmt, response)]
    seen_urls = set()
    while (trial := services.next_trial(participant)) is not None:
        page = trial_page(client, study, seen=pages)  # introduction screens are audited too
        pages.append(page)
        urls = re.findall(r'<source src="([^"]+)"', page.content.decode())
        assert urls
        for url in urls:
            assert re.fullmatch(
                re.escape(study.participant_path()) + r"clip/[A-Za-z0-9_-]{22}/[01]\.(mp3|ogg)", url
            ), url
            assert url not in seen_urls  # a repeated clip comes under a new address
            seen_urls.add(url)
            index, fmt = int(url.rsplit("/", 1)[1][0]), url.rsplit(".", 1)[1]
            system = trial.stimuli[index].system.name
            clips[system].append((fmt, client.get(url)))
        heard(client, trial)
        assert client.post(study.participant_path(), right_answer(trial)).status_code == 302
    pages.append(client.get(study.participant_path()))  # the completion page
    assert set(clips) == set(SYSTEM_NAMES.values())

    for response in pages + [r for responses in clips.values() for _, r in responses]:
        text = response.content.decode(errors="replace") if response in pages else ""
        headers = " ".join(f"{k}: {v}" for k, v in response.items())
        for secret in secrets:
            assert secret not in text, f"page shows {secret!r}"
            assert secret not in headers, f"header shows {secret!r}"

    header_names, formats, sizes = set(), defaultdict(set), defaultdict(set)
    for system, responses in clips.items():
        for fmt, response in responses:
            body = b"".join(response.streaming_content) if response.streaming else response.content
            sizes[fmt].add(len(body))
            for secret in secrets:
                assert secret.encode() not in body, f"{system} clip bytes contain {secret!r}"
            header_names.add((fmt, tuple(sorted(set(response.headers) - PER_RESPONSE))))
            formats[fmt].add(tuple(v for k, v in sorted(response.items()) if k not in PER_RESPONSE))
            if fmt == "ogg":
                with soundfile.SoundFile(io.BytesIO(body)) as audio:
                    tags = {
                        key: getattr(audio, key)
                        for key in ("title", "artist", "album", "comment", "copyright", "date")
                    }
                    formats["ogg-audio"].add(
                        (audio.samplerate, audio.channels, audio.format, audio.subtype)
                    )
                    formats["ogg-tags"].add(tuple(sorted(tags.items())))
            else:
                assert body[-128:-125] != b"TAG", "an ID3v1 tag"
                # An ID3v2 tag may only hold the padding that sizes the file.
                assert id3_tag_is_only_padding(body), "an ID3 tag with frames"
    # One size per format for every system's clips, repeats and reused clips included: a
    # file's size cannot tell its system, nor that it was heard before.
    assert {fmt: len(found) for fmt, found in sizes.items()} == {"mp3": 1, "ogg": 1}
    # Same headers (names and values) for every clip of a format, whatever its system.
    assert len(header_names) == 2
    for fmt in ("mp3", "ogg", "ogg-audio", "ogg-tags"):
        assert len(formats[fmt]) == 1, (fmt, formats[fmt])
    assert all(value == "" for _, value in next(iter(formats["ogg-tags"])))


def test_every_clip_of_a_study_has_one_length_format_rate_and_loudness(audited):
    renderings = Rendering.objects.filter(
        pk__in=Stimulus.objects.filter(study=audited).values("rendering")
    )
    assert renderings.count() == 6
    assert len({tuple(sorted(r.files)) for r in renderings}) == 1
    durations = sorted(r.duration_seconds for r in renderings)
    # Every clip is cut to the study's length: no system's clips can be told by their length,
    # nor by how it is rounded.
    assert durations[-1] - durations[0] < 0.001 and abs(durations[0] - CLIP_SECONDS) < 0.05
    target = audited.render_profile.settings["target_lufs"]
    assert all(abs(r.loudness_lufs - target) <= 0.5 for r in renderings)
    assert len({r.profile_id for r in renderings}) == 1
