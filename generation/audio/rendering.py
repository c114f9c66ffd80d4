"""MIDI to loudness-matched audio with FluidSynth. Plain Python: no Django.

Listening tests are only fair when every clip is rendered the same way, so a
RenderProfile fixes instrument, excerpt, loudness and formats, and every clip
of a study goes through one profile. The SoundFont is loaded once per
process (`Synthesizer.shared`), which is most of the speed-up over running
the fluidsynth command line once per file.

Loudness is ITU-R BS.1770-4 integrated loudness (pyloudnorm's meter), with a
true-peak ceiling measured on a 4x oversampled signal.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import io
import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from generation.audio import sizing
from generation.music.parsing import MAX_NOTES, MAX_SECONDS

SAMPLE_RATE = 44_100
# Bump when rendering changes in a way that changes the audio: old cache entries then miss.
RENDERER_VERSION = "2"  # 2: constant-bitrate MP3, every file padded to its size bucket

MAX_SIMULTANEOUS_ONSETS = 256  # FluidSynth's default polyphony
SILENCE_DBFS = -70.0
FLUIDSYNTH_BLOCK = 64
EXCERPT_SLACK_SECONDS = 3.0
# Samples either side of a candidate peak fed to the 4x oversampler: the filter reaches 10
# input samples, so the outputs within one sample of the candidate are exact.
TRUE_PEAK_CONTEXT = 12
FORMATS = {
    # name: (soundfile format, subtype, file suffix, MIME type)
    "ogg": ("OGG", "VORBIS", ".ogg", "audio/ogg"),
    "mp3": ("MP3", "MPEG_LAYER_III", ".mp3", "audio/mpeg"),
    "wav": ("WAV", "PCM_16", ".wav", "audio/wav"),
    "flac": ("FLAC", "PCM_16", ".flac", "audio/flac"),
}


class RenderError(ValueError):
    """A MIDI file that cannot become a fair clip; the message names the file's problem and the limit."""


@dataclass(frozen=True)
class RenderProfile:
    # General MIDI program for every part; None keeps the file's programs.
    program: int | None = None
    start_seconds: float = 0.0
    max_seconds: float | None = 30.0
    fade_out_seconds: float = 2.0
    release_seconds: float = 1.5  # tail rendered after the last note-off
    trim_silence: bool = True
    target_lufs: float | None = -23.0
    true_peak_ceiling_dbtp: float = -1.0
    formats: tuple[str, ...] = ("ogg", "mp3")
    reverb: bool = True
    soundfont: str | None = None  # any .sf2; None uses the site's EARSHOT_SOUNDFONT

    def __post_init__(self) -> None:
        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown or not self.formats:
            raise ValueError(f"unknown audio formats {unknown}; choose from {sorted(FORMATS)}")
        if self.program is not None and not 0 <= self.program <= 127:
            raise ValueError(f"program {self.program} is not a General MIDI program (0..127)")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise ValueError("max_seconds must be positive")
        if self.start_seconds < 0 or self.fade_out_seconds < 0 or self.release_seconds < 0:
            raise ValueError("start, fade-out and release must not be negative")

    def as_dict(self) -> dict:
        data = asdict(self)
        data["formats"] = list(self.formats)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> RenderProfile:
        data = dict(data)
        data["formats"] = tuple(data.get("formats", ("ogg", "mp3")))
        return cls(**data)


@dataclass
class RenderedAudio:
    samples: np.ndarray  # (n, 2) float32 in [-1, 1]
    sample_rate: int
    loudness_lufs: float | None  # after normalisation; None for silence
    true_peak_dbtp: float | None
    gain_db: float = 0.0
    peak_limited: bool = False  # the ceiling kept the clip below the loudness target
    warnings: list[str] = field(default_factory=list)

    @property
    def duration_seconds(self) -> float:
        return len(self.samples) / self.sample_rate


# ------------------------------------------------------------------ hashing


_soundfont_digests: dict[tuple[str, int, int], str] = {}


def soundfont_sha256(path: Path) -> str:
    """Cached per (path, size, mtime): a 140 MB SoundFont is hashed once per process."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _soundfont_digests:
        with open(path, "rb") as handle:
            _soundfont_digests[key] = hashlib.file_digest(handle, "sha256").hexdigest()
    return _soundfont_digests[key]


def cache_key(midi_bytes: bytes, profile: RenderProfile, soundfont_digest: str) -> str:
    """Same MIDI + profile + SoundFont -> same key -> never rendered twice."""
    digest = hashlib.sha256()
    digest.update(RENDERER_VERSION.encode())
    digest.update(hashlib.sha256(midi_bytes).digest())
    digest.update(json.dumps(profile.as_dict(), sort_keys=True).encode())
    digest.update(soundfont_digest.encode())
    return digest.hexdigest()


# ------------------------------------------------------------------ MIDI checks


def load_midi(midi_bytes: bytes, label: str):
    """A PrettyMIDI from bytes, or RenderError naming the problem and the limit."""
    import pretty_midi

    if not midi_bytes:
        raise RenderError(f"{label}: empty file")
    try:
        midi = pretty_midi.PrettyMIDI(io.BytesIO(midi_bytes))
    except Exception as error:  # mido and pretty_midi raise many types on bad bytes
        raise RenderError(
            f"{label}: not a readable MIDI file ({type(error).__name__}: {error})"
        ) from error
    notes = [note for instrument in midi.instruments for note in instrument.notes]
    if not notes:
        raise RenderError(f"{label}: no notes, nothing to render")
    if len(notes) > MAX_NOTES:
        raise RenderError(f"{label}: {len(notes)} notes, more than the limit of {MAX_NOTES}")
    end = max(note.end for note in notes)
    if end > MAX_SECONDS:
        raise RenderError(
            f"{label}: {end / 60:.0f} minutes long, more than the limit of {MAX_SECONDS // 60} minutes"
        )
    onsets = np.round(np.array([note.start for note in notes]) * 1000).astype(np.int64)
    values, counts = np.unique(onsets, return_counts=True)
    if counts.max() > MAX_SIMULTANEOUS_ONSETS:
        at = values[counts.argmax()] / 1000
        raise RenderError(
            f"{label}: {counts.max()} notes start at once at {at:.2f} s, more than the limit of "
            f"{MAX_SIMULTANEOUS_ONSETS}"
        )
    return midi


# ------------------------------------------------------------------ synthesis


def require_soundfont(path: Path) -> Path:
    if not path.is_file():
        raise RenderError(
            f"SoundFont not found: {path} (set EARSHOT_SOUNDFONT or run `make install`)"
        )
    return path


class Synthesizer:
    """One FluidSynth instance with one SoundFont, rendering offline (no audio device)."""

    _shared: dict[str, Synthesizer] = {}

    def __init__(self, soundfont: Path, sample_rate: int = SAMPLE_RATE) -> None:
        import fluidsynth

        require_soundfont(Path(soundfont))
        self.sample_rate = sample_rate
        self.soundfont = Path(soundfont)
        # Gain 0.5 in float: headroom for dense chords; loudness is normalised afterwards anyway.
        self._synth = fluidsynth.Synth(gain=0.5, samplerate=float(sample_rate))
        self._synth.setting("synth.chorus.active", 0)
        self._sfid = self._synth.sfload(str(soundfont))
        if self._sfid < 0:
            raise RenderError(f"FluidSynth cannot load the SoundFont {soundfont}")
        self._write_float = fluidsynth._fl.fluid_synth_write_float
        self._write_float.argtypes = [
            ctypes.c_void_p, ctypes.c_int,
            ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
            ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
        ]  # fmt: skip
        self._write_float.restype = ctypes.c_int
        self._rendered = 0  # samples written since creation, to keep renders block-aligned

    @classmethod
    def shared(cls, soundfont: Path) -> Synthesizer:
        """The process's synthesizer for this SoundFont: loaded on first use, then kept."""
        key = str(soundfont)
        if key not in cls._shared:
            cls._shared[key] = cls(soundfont)
        return cls._shared[key]

    def _samples(self, count: int) -> np.ndarray:
        buffer = np.zeros((count, 2), dtype=np.float32)
        if count:
            address = buffer.ctypes.data
            # Interleaved stereo: left at offset 0, right at offset 1, stride 2.
            self._write_float(self._synth.synth, count, address, 0, 2, address, 1, 2)
            self._rendered += count
        return buffer

    def _reset(self, reverb: bool) -> None:
        self._synth.system_reset()
        self._synth.setting("synth.reverb.active", 1 if reverb else 0)
        # Flush the reverb line so a render never hears the previous one, and end on a
        # block boundary: FluidSynth applies events per 64-sample block, so a render must
        # start at the same block phase to be identical to the last render of the same input.
        flush = self.sample_rate
        flush += -(self._rendered + flush) % FLUIDSYNTH_BLOCK
        self._samples(flush)

    def render(self, midi, profile: RenderProfile) -> np.ndarray:
        """(n, 2) float32 audio of `midi` from 0 to the excerpt's end plus the release tail."""
        self._reset(profile.reverb)
        events = _events(midi, profile.program)
        stop = math.inf
        if profile.max_seconds is not None:
            # Past the excerpt's end, so that trimming leading silence still leaves a full clip
            # and post_process can tell a clip that was cut (and fades it) from one that ended.
            stop = profile.start_seconds + profile.max_seconds + EXCERPT_SLACK_SECONDS
        last_note_end = max((e[0] for e in events if e[2] == "off"), default=0.0)
        end = min(stop, last_note_end + profile.release_seconds)
        chunks = []
        cursor = 0
        for time, _, kind, channel, a, b in events:
            if time >= end:
                break
            target = round(time * self.sample_rate)
            if target > cursor:
                chunks.append(self._samples(target - cursor))
                cursor = target
            self._apply(kind, channel, a, b)
        final = round(end * self.sample_rate)
        chunks.append(self._samples(max(0, final - cursor)))
        return np.concatenate(chunks)

    def _apply(self, kind: str, channel: int, a: int, b: int) -> None:
        synth = self._synth
        if kind == "on":
            synth.noteon(channel, a, b)
        elif kind == "off":
            synth.noteoff(channel, a)
        elif kind == "program":
            synth.program_select(channel, self._sfid, 128 if channel == 9 else 0, a)
        elif kind == "cc":
            synth.cc(channel, a, b)
        elif kind == "bend":
            synth.pitch_bend(channel, a)


def _events(midi, program_override: int | None) -> list[tuple]:
    """(time, order, kind, channel, a, b) sorted so that note-offs precede note-ons at one instant."""
    events = []
    melodic_channels = [c for c in range(16) if c != 9]
    next_channel = 0
    channel_of_program: dict[int, int] = {}
    for instrument in midi.instruments:
        program = instrument.program if program_override is None else program_override
        if instrument.is_drum:
            channel = 9
        elif next_channel < len(melodic_channels):
            channel = melodic_channels[next_channel]
            next_channel += 1
        else:  # more than 15 melodic parts: share a channel with a part of the same program
            channel = channel_of_program.get(program, melodic_channels[-1])
        channel_of_program.setdefault(program, channel)
        events.append((0.0, 0, "program", channel, program, 0))
        for change in instrument.control_changes:
            events.append((change.time, 1, "cc", channel, change.number, change.value))
        for bend in instrument.pitch_bends:
            events.append((bend.time, 1, "bend", channel, bend.pitch, 0))
        for note in instrument.notes:
            events.append((note.start, 3, "on", channel, note.pitch, note.velocity))
            events.append((note.end, 2, "off", channel, note.pitch, 0))
    events.sort(key=lambda e: (e[0], e[1]))
    return events


# ------------------------------------------------------------------ post-processing


def _dbfs(value: float) -> float:
    return 20 * math.log10(value) if value > 0 else -math.inf


def true_peak_dbtp(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    """Peak of the 4x oversampled signal (ITU-R BS.1770-4 Annex 2), in dBTP.

    Only the neighbourhoods of samples within 6 dB of the sample peak are
    oversampled: an inter-sample peak of band-limited audio lies next to large
    samples.
    """
    from scipy.signal import resample_poly

    if len(samples) == 0:
        return -math.inf
    level = _level(samples)
    sample_peak = float(level.max())
    if sample_peak == 0:
        return -math.inf
    candidates = np.flatnonzero(level >= sample_peak * 0.5)
    if len(candidates) * 2 * TRUE_PEAK_CONTEXT > len(samples):
        return _dbfs(float(np.abs(resample_poly(samples, 4, 1, axis=0)).max()))
    # Merge overlapping windows of +-TRUE_PEAK_CONTEXT samples around each candidate.
    starts = np.maximum(candidates - TRUE_PEAK_CONTEXT, 0)
    stops = np.minimum(candidates + TRUE_PEAK_CONTEXT, len(samples))
    breaks = np.flatnonzero(starts[1:] > stops[:-1])
    window_starts = np.concatenate([[starts[0]], starts[breaks + 1]])
    window_stops = np.concatenate([stops[breaks], [stops[-1]]])
    # The windows go through the filter in one pass, end to end with zeros between them (a
    # dense clip has thousands); only the outputs within one sample of a candidate count.
    gap = _OVERSAMPLING_HALF_LENGTH // 4 + 1
    lengths = window_stops - window_starts
    offsets = np.concatenate([[0], np.cumsum(lengths + gap)[:-1]])
    joined = np.zeros((int(offsets[-1] + lengths[-1]), samples.shape[1]), dtype=samples.dtype)
    for start, stop, offset in zip(window_starts, window_stops, offsets, strict=True):
        joined[offset : offset + stop - start] = samples[start:stop]
    window_of = np.searchsorted(window_starts, candidates, side="right") - 1
    in_joined = candidates + (offsets - window_starts)[window_of]
    oversampled = resample_poly(joined, 4, 1, axis=0, window=_oversampling_filter(samples.dtype))
    near = (in_joined[:, None] * 4 + np.arange(-3, 4)).clip(0, len(oversampled) - 1)
    peak = max(sample_peak, float(np.abs(oversampled[near.ravel()]).max()))
    return _dbfs(peak)


def _level(samples: np.ndarray) -> np.ndarray:
    """Each frame's largest absolute sample (much faster than abs().max(axis=1) on 2 columns)."""
    level = np.abs(samples[:, 0])
    for channel in range(1, samples.shape[1]):
        np.maximum(level, np.abs(samples[:, channel]), out=level)
    return level


_OVERSAMPLING_HALF_LENGTH = 40  # scipy's resample_poly design for 4x: 10 taps per phase a side


@functools.cache
def _oversampling_filter(dtype) -> np.ndarray:
    """The low-pass filter resample_poly designs for 4x (Kaiser, beta 5), designed once."""
    from scipy.signal import firwin

    taps = firwin(2 * _OVERSAMPLING_HALF_LENGTH + 1, 1 / 4, window=("kaiser", 5.0))
    return taps.astype(dtype)


def integrated_loudness(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float | None:
    """BS.1770-4 integrated loudness in LUFS; None when the clip is silent or shorter than one block."""
    import pyloudnorm

    if (
        len(samples) < int(0.4 * sample_rate)
        or _dbfs(float(np.abs(samples).max(initial=0))) < SILENCE_DBFS
    ):
        return None
    loudness = pyloudnorm.Meter(sample_rate).integrated_loudness(samples.astype(np.float64))
    return None if not math.isfinite(loudness) else float(loudness)


def _trim(samples: np.ndarray, sample_rate: int, leading: bool, trailing: bool) -> np.ndarray:
    level = _level(samples)
    audible = np.flatnonzero(level > 10 ** (SILENCE_DBFS / 20))
    if len(audible) == 0:
        return samples
    pad = int(0.05 * sample_rate)  # keep 50 ms so attacks and tails are not clipped
    start = max(0, audible[0] - pad) if leading else 0
    stop = min(len(samples), audible[-1] + pad) if trailing else len(samples)
    return samples[start:stop]


def post_process(
    raw: np.ndarray, profile: RenderProfile, sample_rate: int = SAMPLE_RATE
) -> RenderedAudio:
    """Excerpt, trim, fade and normalise a raw synthesizer render."""
    start = round(profile.start_seconds * sample_rate)
    audio = raw[start:]
    if profile.trim_silence:
        audio = _trim(audio, sample_rate, leading=True, trailing=True)
    limit = None if profile.max_seconds is None else round(profile.max_seconds * sample_rate)
    truncated = limit is not None and len(audio) > limit
    if truncated:
        audio = audio[:limit]
    audio = audio.copy()
    if truncated and profile.fade_out_seconds > 0:
        fade = min(len(audio), round(profile.fade_out_seconds * sample_rate))
        audio[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)[:, None]

    warnings: list[str] = []
    # Loudness and true peak are measured once: a linear gain moves both by exactly gain_db.
    loudness = integrated_loudness(audio, sample_rate)
    peak = true_peak_dbtp(audio, sample_rate)
    gain_db = 0.0
    limited = False
    if loudness is None:
        warnings.append("silent clip: loudness not measurable, no gain applied")
    elif profile.target_lufs is not None:
        gain_db = profile.target_lufs - loudness
        if peak + gain_db > profile.true_peak_ceiling_dbtp:
            # A plain gain cut rather than a limiter: the clip keeps its dynamics and is reported.
            excess = peak + gain_db - profile.true_peak_ceiling_dbtp
            gain_db -= excess
            limited = True
            warnings.append(
                f"true-peak ceiling {profile.true_peak_ceiling_dbtp} dBTP held the clip "
                f"{excess:.1f} dB below the loudness target"
            )
        audio *= np.float32(10 ** (gain_db / 20))
        loudness += gain_db
        peak += gain_db
    return RenderedAudio(
        samples=np.clip(audio, -1.0, 1.0),
        sample_rate=sample_rate,
        loudness_lufs=loudness,
        true_peak_dbtp=peak if math.isfinite(peak) else None,
        gain_db=gain_db,
        peak_limited=limited,
        warnings=warnings,
    )


def encode(audio: RenderedAudio, fmt: str) -> bytes:
    """Audio file bytes with no metadata tags (nothing in the file may reveal its system)."""
    import soundfile

    container, subtype, _, _ = FORMATS[fmt]
    buffer = io.BytesIO()
    buffer.name = f"clip{FORMATS[fmt][2]}"
    options = {}
    if fmt == "mp3":
        options = {"bitrate_mode": "CONSTANT", "compression_level": sizing.MP3_COMPRESSION_LEVEL}
    soundfile.write(
        buffer, audio.samples, audio.sample_rate, format=container, subtype=subtype, **options
    )
    return buffer.getvalue()


def encode_blinded(
    audio: RenderedAudio, fmt: str, max_seconds: float | None
) -> tuple[bytes, str | None]:
    """The clip's file padded to its format's one size for its length bucket (see sizing);
    a warning when the clip outgrew the bucket and had to take the next size up."""
    data = encode(audio, fmt)
    seconds = sizing.size_bucket_seconds(audio.duration_seconds, max_seconds)
    target = sizing.target_size(fmt, seconds, audio.sample_rate, audio.samples.shape[1])
    warning = None
    while len(data) > target:
        target = math.ceil(target * sizing.GROWTH)
        warning = (
            f"the {fmt} file outgrew its size bucket and was padded to {target} bytes: "
            "its size may set it apart from the other clips"
        )
    return sizing.pad_to_size(data, fmt, target), warning


def render_midi_bytes(
    midi_bytes: bytes, profile: RenderProfile, soundfont: Path, label: str
) -> RenderedAudio:
    return render_pretty_midi(load_midi(midi_bytes, label), profile, soundfont)


def render_pretty_midi(midi, profile: RenderProfile, soundfont: Path) -> RenderedAudio:
    """A pretty_midi.PrettyMIDI to a finished clip (checks of `load_midi` are the caller's)."""
    raw = Synthesizer.shared(Path(profile.soundfont or soundfont)).render(midi, profile)
    return post_process(raw, profile)


def write_atomically(target: Path, data: bytes) -> None:
    """Write to a temporary name, then rename: a crash never leaves half a file under the real name."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, target)
