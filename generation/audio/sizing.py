"""One file size per format and clip length, whatever the music: blinding by bytes.

A participant's browser sees how many bytes each clip has. With variable-bitrate encoding a
sparse system's clips are smaller than a dense one's (a threshold once separated a Markov
baseline from the rest), and a repeated clip has the size of its first hearing. So every
clip of a format is padded to one size, fixed by its length bucket (`size_bucket_seconds`:
the profile's clip length when it has one, so every clip of a study shares one size).

The padding lives where each format's decoders expect and skip it, so the audio is
unchanged: a JUNK chunk before WAV's data, a PADDING block in FLAC, an ID3v2 tag holding
only padding before MP3's frames (encoded at a constant bitrate), and zeros after the
framing bit of the Ogg Vorbis comment packet (as tag editors do). Plain Python: no Django.
"""

from __future__ import annotations

import io
import math
import struct

# MP3 is encoded at a constant bitrate: libsndfile's compression level 0.5 gives 160 kbit/s.
MP3_COMPRESSION_LEVEL = 0.5
MP3_BITRATE = 160_000
# Ogg Vorbis stays variable (libsndfile has no constant mode for it); its clips are padded to
# this rate, half as much again as white noise needs at libsndfile's default quality.
OGG_CEILING_BITRATE = 192_000
UNBUCKETED_SECONDS = 10.0  # bucket width when the profile keeps whole pieces
GROWTH = 1.5  # the next size up for a clip that outgrows its bucket (and is reported)


class PaddingError(ValueError):
    """The encoded file cannot be brought to the size asked for."""


def size_bucket_seconds(duration: float, max_seconds: float | None) -> float:
    """The length every clip of this bucket is padded as if it had."""
    if max_seconds is not None and duration <= max_seconds + 1e-9:
        return max_seconds
    return max(UNBUCKETED_SECONDS, math.ceil(duration / UNBUCKETED_SECONDS) * UNBUCKETED_SECONDS)


def target_size(fmt: str, seconds: float, sample_rate: int, channels: int) -> int:
    """Bytes every `fmt` clip of up to `seconds` is padded to: above any clip's own size."""
    frames = math.ceil(seconds * sample_rate)
    pcm = frames * channels * 2  # 16-bit
    if fmt == "wav":
        return pcm + 256
    if fmt == "flac":
        # FLAC falls back to verbatim frames, so no clip outgrows its PCM plus frame headers.
        return pcm + (frames // 1152 + 1) * 32 + 16_384
    if fmt == "mp3":
        mp3_frames = math.ceil((frames + 3 * 1152) / 1152) + 1
        return mp3_frames * (144 * MP3_BITRATE // sample_rate + 1) + 2048
    if fmt == "ogg":
        return math.ceil(seconds * OGG_CEILING_BITRATE / 8) + 16_384
    raise ValueError(f"no size rule for {fmt}")


def pad_to_size(data: bytes, fmt: str, target: int) -> bytes:
    """`data` made exactly `target` bytes long by padding its decoders skip."""
    if len(data) > target:
        raise PaddingError(f"a {fmt} clip of {len(data)} bytes is larger than {target}")
    padded = {"wav": _pad_wav, "flac": _pad_flac, "mp3": _pad_mp3, "ogg": _pad_ogg}[fmt](
        data, target
    )
    if len(padded) != target:
        raise PaddingError(f"padding gave {len(padded)} bytes instead of {target} ({fmt})")
    return padded


def _pad_wav(data: bytes, target: int) -> bytes:
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise PaddingError("not a RIFF WAVE file")
    extra = target - len(data)
    if extra < 8 or extra % 2:
        raise PaddingError(f"a WAV file cannot grow by {extra} bytes")
    chunks, offset = [], 12
    while offset + 8 <= len(data):
        name, size = (
            data[offset : offset + 4],
            struct.unpack("<I", data[offset + 4 : offset + 8])[0],
        )
        chunks.append((name, data[offset : offset + 8 + size + size % 2]))
        offset += 8 + size + size % 2
    junk = b"JUNK" + struct.pack("<I", extra - 8) + bytes(extra - 8)
    body = b"".join((junk if name == b"data" else b"") + chunk for name, chunk in chunks)
    return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WAVE" + body


def _pad_flac(data: bytes, target: int) -> bytes:
    from mutagen.flac import FLAC

    def with_padding(amount: int) -> bytes:
        buffer = io.BytesIO(data)
        tags = FLAC(buffer)
        buffer.seek(0)
        tags.save(buffer, padding=lambda info: max(0, amount))
        return buffer.getvalue()

    return _solve(with_padding, target, target - len(data))


def _pad_mp3(data: bytes, target: int) -> bytes:
    if data[:3] == b"ID3":
        raise PaddingError("the MP3 already has an ID3 tag")
    size = target - len(data) - 10
    if size < 1:
        raise PaddingError(f"an MP3 file cannot grow by {target - len(data)} bytes")
    syncsafe = bytes((size >> shift) & 0x7F for shift in (21, 14, 7, 0))
    # ID3v2.4 with no frames: all padding, which every decoder skips by the tag's length.
    return b"ID3\x04\x00\x00" + syncsafe + bytes(size) + data


def _pad_ogg(data: bytes, target: int) -> bytes:
    """Zeros after the comment packet's framing bit; the header pages are laid out again.

    A packet's lacing grows by a byte at every 255 bytes, so one page layout cannot reach
    every size: a few page sizes are tried, and one of them does."""
    from mutagen.ogg import OggPage

    def header_pages(buffer):
        buffer.seek(0)
        page = OggPage(buffer)
        while not page.packets[0].startswith(b"\x03vorbis"):
            page = OggPage(buffer)
        pages = [page]
        while not (pages[-1].complete or len(pages[-1].packets) > 1):
            page = OggPage(buffer)
            if page.serial == pages[0].serial:
                pages.append(page)
        return pages

    for page_size in (4096, 3825, 2040, 8160, 1020):

        def with_padding(amount: int, page_size=page_size) -> bytes:
            buffer = io.BytesIO(data)
            old = header_pages(buffer)
            packets = OggPage.to_packets(old, strict=False)
            packets[0] += bytes(max(0, amount))
            new = OggPage.from_packets(packets, old[0].sequence, page_size, 0)
            OggPage.replace(buffer, old, new)
            return buffer.getvalue()

        try:
            return _solve(with_padding, target, target - len(data))
        except PaddingError:
            continue
    raise PaddingError(f"no Ogg page layout reaches {target} bytes")


def _solve(build, target: int, first_guess: int) -> bytes:
    """The output of `build(amount)` that is exactly `target` bytes: sizes grow with the
    amount, one byte at a time but for a few overhead steps, so a few corrections find it."""
    amount = first_guess
    for _ in range(8):
        out = build(amount)
        if len(out) == target:
            return out
        amount += target - len(out)
        if amount < 0:
            break
    # Overhead steps can skip the size; walk down from an amount just above it.
    for step in range(1, 64):
        out = build(amount - step)
        if len(out) == target:
            return out
        if len(out) < target:
            break
    raise PaddingError(f"padding cannot reach {target} bytes")
