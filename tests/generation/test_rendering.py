"""Rendering with real FluidSynth and the General MIDI SoundFont from Debian's fluid-soundfont-gm."""

import io

import numpy as np
import pretty_midi
import pyloudnorm
import pytest
import soundfile
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from generation.audio import render_pool
from generation.audio.rendering import (
    RenderError,
    RenderProfile,
    Synthesizer,
    integrated_loudness,
    load_midi,
    post_process,
    render_midi_bytes,
    true_peak_dbtp,
)
from generation.models import Rendering
from generation.services.corpora import import_corpus
from generation.services.rendering import (
    RenderItem,
    get_or_create_profile,
    render_items,
    render_pieces,
)
from tests.factories import id3_tag_is_only_padding

SR = 44_100


def midi_bytes(notes, program=0, tempo=120.0) -> bytes:
    midi = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    instrument = pretty_midi.Instrument(program=program)
    instrument.notes.extend(
        pretty_midi.Note(velocity=v, pitch=p, start=s, end=e) for p, s, e, v in notes
    )
    midi.instruments.append(instrument)
    buffer = io.BytesIO()
    midi.write(buffer)
    return buffer.getvalue()


def synth():
    return Synthesizer.shared(settings.SOUNDFONT_PATH)


RAW = RenderProfile(
    target_lufs=None, trim_silence=False, max_seconds=None, reverb=False, formats=("wav",)
)


# ------------------------------------------------------------------ the signal


def test_middle_c_has_its_energy_at_261_6_hz():
    audio = render_midi_bytes(midi_bytes([(60, 0.0, 2.0, 100)]), RAW, settings.SOUNDFONT_PATH, "c4")
    mono = audio.samples.mean(axis=1)[: 2 * SR]
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(len(mono))))
    freqs = np.fft.rfftfreq(len(mono), 1 / SR)
    low = freqs < 400
    strongest = freqs[low][spectrum[low].argmax()]
    assert strongest == pytest.approx(261.63, abs=1.0)
    near = spectrum[(freqs > 259) & (freqs < 264)].max()
    assert 20 * np.log10(near / np.median(spectrum[low])) > 40  # a clear partial, not noise


def test_rests_render_as_digital_silence():
    notes = [(60, 0.0, 0.5, 100), (64, 4.0, 4.5, 100)]
    audio = render_midi_bytes(midi_bytes(notes), RAW, settings.SOUNDFONT_PATH, "gap")
    gap = audio.samples[int(3.0 * SR) : int(3.9 * SR)]
    assert np.abs(gap).max() == 0.0
    assert np.abs(audio.samples[: int(0.4 * SR)]).max() > 0.01


def test_a_file_without_notes_is_an_error_not_a_silent_clip():
    with pytest.raises(RenderError, match=r"empty\.mid: no notes, nothing to render"):
        load_midi(midi_bytes([]), "empty.mid")


def test_loudness_meter_matches_ebu_tech_3341_case_1():
    # EBU Tech 3341 (2016), test case 1: a stereo 1 kHz sine at -23 dBFS measures -23.0 +- 0.1 LUFS.
    t = np.arange(20 * SR) / SR
    sine = (10 ** (-23 / 20)) * np.sin(2 * np.pi * 1000 * t)
    assert integrated_loudness(np.stack([sine, sine], axis=1)) == pytest.approx(-23.0, abs=0.1)
    # The peak of a full-scale/2 sine is -6.02 dBFS; oversampling must not change that much.
    assert true_peak_dbtp(
        np.stack([sine * 0, 0.5 * np.sin(2 * np.pi * 1000 * t)], axis=1)
    ) == pytest.approx(-6.02, abs=0.05)


def test_true_peak_finds_peaks_between_samples():
    # A sine at a quarter of the sample rate, 45 degrees off: every sample is at +-0.707 of the
    # amplitude (-3.01 dBFS) while the waveform between samples reaches it (0 dBTP); the
    # classic inter-sample-peak case of ITU-R BS.1770-4 Annex 2.
    n = np.arange(SR)
    sine = np.sin(2 * np.pi * n / 4 + np.pi / 4)
    stereo = np.stack([sine, sine], axis=1)
    assert 20 * np.log10(np.abs(stereo).max()) == pytest.approx(-3.01, abs=0.01)
    assert true_peak_dbtp(stereo) == pytest.approx(0.0, abs=0.2)


def test_windowed_true_peak_agrees_with_oversampling_everything():
    from scipy.signal import resample_poly

    notes = [(48 + (i * 5) % 30, i * 0.2, i * 0.2 + 0.6, 60 + i % 60) for i in range(60)]
    audio = render_midi_bytes(midi_bytes(notes), RAW, settings.SOUNDFONT_PATH, "dense").samples
    full = 20 * np.log10(np.abs(resample_poly(audio, 4, 1, axis=0)).max())
    assert true_peak_dbtp(audio) == pytest.approx(full, abs=0.01)


@pytest.mark.parametrize("velocity", [20, 64, 127])
def test_clips_are_normalised_to_within_half_a_loudness_unit(velocity):
    notes = [(60 + (i % 12), i * 0.25, i * 0.25 + 0.5, velocity) for i in range(24)]
    profile = RenderProfile(target_lufs=-23.0, formats=("flac", "ogg"))
    audio = render_midi_bytes(midi_bytes(notes), profile, settings.SOUNDFONT_PATH, f"v{velocity}")
    assert audio.loudness_lufs == pytest.approx(-23.0, abs=0.5)
    assert audio.true_peak_dbtp <= -1.0 + 1e-6
    for fmt in ("flac", "ogg"):
        from generation.audio.rendering import encode

        decoded, rate = soundfile.read(io.BytesIO(encode(audio, fmt)))
        measured = pyloudnorm.Meter(rate).integrated_loudness(decoded)
        assert measured == pytest.approx(-23.0, abs=0.5), f"{fmt} file measures {measured:.2f} LUFS"


def test_true_peak_ceiling_holds_a_spiky_clip_below_target_and_says_so():
    t = np.arange(3 * SR) / SR
    clicks = np.zeros((len(t), 2), dtype=np.float32)
    clicks[:: SR // 2] = 0.9  # isolated clicks: loud peaks, little loudness
    audio = post_process(clicks, RenderProfile(target_lufs=-10.0, trim_silence=False))
    assert audio.peak_limited
    assert audio.true_peak_dbtp == pytest.approx(-1.0, abs=0.1)
    assert "true-peak ceiling" in audio.warnings[0]


def test_leading_silence_is_trimmed_and_the_clip_still_fills_its_length():
    notes = [
        (60 + (i % 7), 2.0 + i * 0.5, 2.5 + i * 0.5, 90) for i in range(40)
    ]  # starts after 2 s of rest
    profile = RenderProfile(max_seconds=5.0, fade_out_seconds=1.0)
    audio = render_midi_bytes(midi_bytes(notes), profile, settings.SOUNDFONT_PATH, "late")
    assert audio.duration_seconds == pytest.approx(5.0, abs=0.01)
    assert np.abs(audio.samples[: int(0.1 * SR)]).max() > 0.01  # sound starts at once
    assert np.abs(audio.samples[-200:]).max() < 0.02 * np.abs(audio.samples).max()


def test_excerpt_is_cut_to_length_with_a_fade_out():
    notes = [(60 + (i % 7), i * 0.5, i * 0.5 + 0.5, 90) for i in range(40)]  # 20 s of notes
    profile = RenderProfile(
        start_seconds=2.0, max_seconds=5.0, fade_out_seconds=1.0, trim_silence=False
    )
    audio = render_midi_bytes(midi_bytes(notes), profile, settings.SOUNDFONT_PATH, "long")
    assert audio.duration_seconds == pytest.approx(5.0, abs=0.01)
    tail = np.abs(audio.samples[-200:]).max()
    middle = np.abs(audio.samples[2 * SR : 3 * SR]).max()
    assert tail < 0.02 * middle


def test_program_override_changes_the_instrument():
    notes = midi_bytes([(67, 0.0, 1.0, 100)], program=0)
    piano = render_midi_bytes(notes, RAW, settings.SOUNDFONT_PATH, "x").samples
    violin_profile = RenderProfile(**{**RAW.as_dict(), "program": 40, "formats": ("wav",)})
    violin = render_midi_bytes(notes, violin_profile, settings.SOUNDFONT_PATH, "x").samples
    n = min(len(piano), len(violin))
    assert np.abs(piano[:n] - violin[:n]).max() > 0.05


def test_rendering_the_same_file_again_sounds_the_same():
    a = midi_bytes([(60, 0, 1, 90), (64, 0.5, 1.5, 90)])
    b = midi_bytes([(50, 0, 2, 120), (57, 0, 2, 120)])
    first = render_midi_bytes(a, RAW, settings.SOUNDFONT_PATH, "a").samples
    render_midi_bytes(b, RAW, settings.SOUNDFONT_PATH, "b")
    again = render_midi_bytes(a, RAW, settings.SOUNDFONT_PATH, "a").samples
    assert first.shape == again.shape
    assert np.abs(first - again).max() < 1e-3  # below -60 dBFS


@pytest.mark.parametrize(
    ("notes", "message"),
    [
        ([(60, 0.0, 3 * 3600.0, 90)], "180 minutes long, more than the limit of 30 minutes"),
        (
            [(21 + i % 88, 0.0, 1.0, 90) for i in range(10_000)],
            "10000 notes start at once at 0.00 s",
        ),
    ],
)
def test_absurd_files_are_refused_with_the_limit(notes, message):
    with pytest.raises(RenderError, match=message):
        load_midi(midi_bytes(notes), "absurd.mid")


def test_profiles_refuse_nonsense():
    with pytest.raises(ValueError, match="unknown audio formats"):
        RenderProfile(formats=("aiff",))
    with pytest.raises(ValueError, match="not a General MIDI program"):
        RenderProfile(program=200)


# ------------------------------------------------------------------ batches and the cache


@pytest.fixture
def profile(db):
    return get_or_create_profile("test", {"max_seconds": 4.0, "formats": ("ogg", "mp3")})


def test_cache_hits_on_the_second_call(profile):
    items = [RenderItem(f"clip{i}", midi_bytes([(60 + i, 0, 1, 90)])) for i in range(3)]
    first = render_items(items, profile, workers=1)
    assert (first.rendered, first.cached) == (3, 0)
    row = Rendering.objects.get(source_label="clip0")
    ogg = settings.MEDIA_ROOT / row.files["ogg"]
    stamp = ogg.stat().st_mtime_ns
    second = render_items(items, profile, workers=1)
    assert (second.rendered, second.cached) == (0, 3)
    assert ogg.stat().st_mtime_ns == stamp
    assert Rendering.objects.count() == 3
    assert row.loudness_lufs == pytest.approx(-23.0, abs=0.5)
    assert row.soundfont_sha256 and len(row.cache_key) == 64


def test_a_deleted_audio_file_is_rendered_again(profile):
    items = [RenderItem("clip", midi_bytes([(60, 0, 1, 90)]))]
    render_items(items, profile, workers=1)
    row = Rendering.objects.get()
    (settings.MEDIA_ROOT / row.files["mp3"]).unlink()
    assert render_items(items, profile, workers=1).rendered == 1
    assert (settings.MEDIA_ROOT / row.files["mp3"]).is_file()


def test_audio_files_reveal_nothing_about_their_source(profile):
    render_items(
        [RenderItem("markov-step2000-seed7", midi_bytes([(60, 0, 1, 90)]))], profile, workers=1
    )
    row = Rendering.objects.get()
    for relative in row.files.values():
        assert "markov" not in relative
        data = (settings.MEDIA_ROOT / relative).read_bytes()
        assert b"markov" not in data and id3_tag_is_only_padding(data)


def test_the_pool_survives_a_poisoned_file(profile, monkeypatch):
    from tests.poison_worker import crash_on_poison

    monkeypatch.setattr(render_pool, "render_task", crash_on_poison)
    items = [RenderItem(f"good{i}", midi_bytes([(60 + i, 0, 1, 90)])) for i in range(5)]
    items.insert(2, RenderItem("poison.mid", midi_bytes([(40, 0, 1, 90)])))
    items.insert(4, RenderItem("corrupt.mid", b"MThd this is not MIDI"))
    report = render_items(items, profile, workers=2)
    assert report.rendered == 5
    reasons = sorted(f["reason"] for f in report.failed)
    assert reasons[0].startswith("corrupt.mid: not a readable MIDI file")
    assert reasons[1] == "poison.mid: the renderer crashed on this file"
    assert Rendering.objects.filter(status="ok").count() == 5
    assert Rendering.objects.filter(status="failed").count() == 2


def test_a_profile_can_bring_its_own_soundfont(db, settings, tmp_path):
    own = tmp_path / "study.sf2"
    own.symlink_to(settings.SOUNDFONT_PATH)
    profile = get_or_create_profile("own-sf", {"soundfont": str(own), "formats": ("wav",)})
    settings.SOUNDFONT_PATH = tmp_path / "site-default-is-gone.sf2"
    assert (
        render_items([RenderItem("x", midi_bytes([(60, 0, 1, 90)]))], profile, workers=1).rendered
        == 1
    )
    assert Rendering.objects.get().soundfont_path == str(own)


def test_a_missing_soundfont_is_a_clear_error(profile, settings, tmp_path):
    settings.SOUNDFONT_PATH = tmp_path / "missing.sf2"
    with pytest.raises(ValueError, match=r"SoundFont not found: .*missing\.sf2"):
        render_items([RenderItem("x", midi_bytes([(60, 0, 1, 90)]))], profile)
    with pytest.raises(RenderError, match="SoundFont not found"):
        Synthesizer(tmp_path / "missing.sf2")


@pytest.mark.slow
@pytest.mark.django_db
def test_render_command_for_a_dataset_and_a_folder(js_fakes, tmp_path, capsys):
    import_corpus("bach-chorales", limit=2)
    call_command("render", dataset="bach-chorales", profile="short", max_seconds=3.0, verbosity=0)
    assert "2 rendered, 0 from cache, 0 failed" in capsys.readouterr().out
    assert Rendering.objects.filter(piece__dataset__name="bach-chorales", status="ok").count() == 2
    folder = tmp_path / "midi"
    folder.mkdir()
    (folder / "a.mid").write_bytes((js_fakes / "3.mid").read_bytes())
    (folder / "broken.mid").write_bytes(b"")
    call_command("render", midi_dir=folder, profile="short", verbosity=0)
    out = capsys.readouterr().out
    assert "1 rendered, 0 from cache, 1 failed" in out and "broken.mid: empty file" in out
    with pytest.raises(CommandError, match="exists with other settings \\(max_seconds\\)"):
        call_command(
            "render", dataset="bach-chorales", profile="short", max_seconds=9.0, verbosity=0
        )
    with pytest.raises(CommandError, match="no dataset named 'nope'"):
        call_command("render", dataset="nope", verbosity=0)


@pytest.mark.slow
@pytest.mark.django_db
def test_piece_page_plays_its_rendering(client, staff_client, django_capture_on_commit_callbacks):
    import_corpus("bach-chorales", limit=1)
    from generation.models import Dataset, Piece

    Dataset.objects.update(is_public=True)  # what a visitor sees, not only an experimenter
    piece = Piece.objects.get()
    html = client.get(piece.get_absolute_url()).content.decode()
    assert "Not rendered yet" in html and "<audio" not in html
    assert client.post(f"{piece.get_absolute_url()}render/").status_code == 302
    assert not Rendering.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(f"{piece.get_absolute_url()}render/")
    rendering = Rendering.objects.get(piece=piece)
    html = Client().get(piece.get_absolute_url()).content.decode()
    assert "<audio" not in html and "log in" in html  # media is for experimenters
    html = staff_client.get(piece.get_absolute_url()).content.decode()
    mp3 = f'<source src="/media/{rendering.files["mp3"]}" type="audio/mpeg">'
    ogg = f'<source src="/media/{rendering.files["ogg"]}" type="audio/ogg">'
    assert mp3 in html and ogg in html and html.index(mp3) < html.index(ogg)


@pytest.mark.slow
def test_batch_render_of_pieces_uses_the_quantized_notes(db):
    import_corpus("bach-chorales", limit=1)
    from generation.models import Dataset, Piece

    Dataset.objects.update(is_public=True)  # what a visitor sees, not only an experimenter
    piece = Piece.objects.get()
    report = render_pieces([piece], get_or_create_profile("default"), workers=1)
    assert report.rendered == 1
    rendering = piece.renderings.get()
    midi = pretty_midi.PrettyMIDI(str(settings.MEDIA_ROOT / rendering.midi_file))
    assert sum(len(i.notes) for i in midi.instruments) == piece.n_notes


def test_every_format_has_one_file_size_per_clip_length_whatever_the_music():
    """A sparse melody, a dense chord texture and a shorter clip: three very different
    natural sizes in each format, one size once padded, and the same audio decoded."""
    from generation.audio.rendering import encode, encode_blinded

    sparse = midi_bytes([(60, 0.0, 4.0, 60)])
    dense = midi_bytes(
        [
            (pitch, t * 0.125, t * 0.125 + 0.1, 100)
            for t in range(40)
            for pitch in (48, 55, 64, 71, 79)
        ]
    )
    short = midi_bytes([(67, 0.0, 0.5, 80), (72, 0.5, 1.0, 80)])
    profile = RenderProfile(max_seconds=4.0, formats=("ogg", "mp3", "wav", "flac"))
    clips = [
        render_midi_bytes(m, profile, settings.SOUNDFONT_PATH, "t") for m in (sparse, dense, short)
    ]
    assert clips[2].duration_seconds < 3.0 < clips[0].duration_seconds
    for fmt in profile.formats:
        natural = [len(encode(clip, fmt)) for clip in clips]
        blinded = [encode_blinded(clip, fmt, profile.max_seconds) for clip in clips]
        assert len(set(natural)) > 1, fmt  # the sizes that gave clips away
        assert len({len(data) for data, _ in blinded}) == 1, fmt
        assert all(warning is None for _, warning in blinded)
        for clip, (data, _) in zip(clips, blinded, strict=True):
            with soundfile.SoundFile(io.BytesIO(data)) as padded:
                heard = padded.read(dtype="float32")
            with soundfile.SoundFile(io.BytesIO(encode(clip, fmt))) as plain:
                assert np.array_equal(heard, plain.read(dtype="float32")), fmt
            assert len(heard) == len(clip.samples)
