"""Writes for rendering: profiles, and batches of pieces or MIDI files into Rendering rows."""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction

from generation.audio.render_pool import RenderTask, render_all
from generation.audio.rendering import (
    RenderProfile,
    cache_key,
    require_soundfont,
    soundfont_sha256,
    write_atomically,
)
from generation.jobs.running import ProgressCallback
from generation.models import Piece, Rendering
from generation.models import RenderProfile as RenderProfileRow
from generation.music.corpora import midi_folder_sources
from generation.music.midi import piece_to_pretty_midi

logger = logging.getLogger("earshot.render")

DEFAULT_PROFILE = "default"


@dataclass
class RenderItem:
    label: str
    midi_bytes: bytes
    piece_id: int | None = None


@dataclass
class RenderReport:
    profile: str
    rendered: int = 0
    cached: int = 0
    failed: list[dict] = field(default_factory=list)
    renderings: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "profile": self.profile,
            "rendered": self.rendered,
            "cached": self.cached,
            "failed": self.failed,
        }


def get_or_create_profile(
    name: str = DEFAULT_PROFILE, overrides: dict | None = None
) -> RenderProfileRow:
    """The named profile; `overrides` create it, and must agree with it when it exists."""
    row = RenderProfileRow.objects.filter(name=name).first()
    if row is None:
        profile = RenderProfile(**(overrides or {}))  # validates before anything is stored
        return RenderProfileRow.objects.create(name=name, settings=profile.as_dict())
    if overrides:
        wanted = RenderProfile.from_dict({**row.settings, **overrides}).as_dict()
        if wanted != row.settings:
            changed = sorted(k for k in wanted if wanted[k] != row.settings.get(k))
            raise ValueError(
                f"profile {name!r} exists with other settings ({', '.join(changed)}); "
                "choose a new profile name to render differently"
            )
    return row


def piece_midi_bytes(piece: Piece) -> bytes:
    """Human references are rendered from the same quantized notes the models learn from."""
    buffer = io.BytesIO()
    piece_to_pretty_midi(piece.load()).write(buffer)
    return buffer.getvalue()


def render_pieces(pieces, profile: RenderProfileRow, **options) -> RenderReport:
    items = [
        RenderItem(f"{p.dataset.name}/{p.identifier}", piece_midi_bytes(p), p.pk) for p in pieces
    ]
    return render_items(items, profile, **options)


def render_sample_set(sample_set, profile: RenderProfileRow, **options) -> RenderReport:
    """Audio for every sample of a set; found again by the MIDI's checksum (see selectors)."""
    items = [
        RenderItem(f"{sample_set.name}/{sample.index:04d}", sample.path.read_bytes())
        for sample in sample_set.samples.all()
    ]
    return render_items(items, profile, **options)


def midi_folder_items(directory: Path, limit: int | None = None) -> list[RenderItem]:
    items = []
    for source in midi_folder_sources(directory)[:limit]:
        try:
            data = source.path.read_bytes()
        except OSError as error:
            data = b""  # rendered as a failure with the reason "empty file"
            logger.warning("cannot read %s: %s", source.path, error)
        items.append(RenderItem(source.identifier, data))
    return items


def render_items(
    items: list[RenderItem],
    profile: RenderProfileRow,
    *,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    retry_failed: bool = False,
) -> RenderReport:
    """Render what is not cached yet; each result is stored as soon as it arrives."""
    profile_settings = profile.as_profile()
    soundfont = require_soundfont(Path(profile_settings.soundfont or settings.SOUNDFONT_PATH))
    report = RenderReport(profile=profile.name)
    soundfont_digest = soundfont_sha256(soundfont)
    by_key: dict[str, RenderItem] = {}
    for item in items:
        by_key.setdefault(cache_key(item.midi_bytes, profile_settings, soundfont_digest), item)

    existing = {r.cache_key: r for r in Rendering.objects.filter(cache_key__in=by_key)}
    tasks = []
    for key, item in by_key.items():
        row = existing.get(key)
        if row and row.status == Rendering.Status.OK and row.missing_files():
            row = None  # audio deleted from disk: render it again
        if row and (row.status == Rendering.Status.OK or not retry_failed):
            report.cached += 1
            report.renderings.append(row.pk)
            if row.status == Rendering.Status.FAILED:
                report.failed.append({"source": item.label, "reason": row.error})
            continue
        tasks.append(
            RenderTask(
                key,
                item.label,
                item.midi_bytes,
                profile.settings,
                str(soundfont),
                str(settings.MEDIA_ROOT),
            )
        )

    done = 0
    total = len(tasks)

    def store(result: dict) -> None:
        nonlocal done
        item = by_key[result["key"]]
        row = _store_result(result, item, profile, soundfont, soundfont_digest)
        report.renderings.append(row.pk)
        if row.status == Rendering.Status.OK:
            report.rendered += 1
        else:
            report.failed.append({"source": item.label, "reason": row.error})
        done += 1
        if progress:
            progress(done, total, f"rendered {done} of {total}")

    render_all(tasks, workers=workers, on_result=store)
    logger.info(
        "rendered %d, %d from cache, %d failed (profile %s)",
        report.rendered,
        report.cached,
        len(report.failed),
        profile.name,
    )
    return report


def _store_result(
    result: dict, item: RenderItem, profile, soundfont: Path, soundfont_digest: str
) -> Rendering:
    midi_digest = hashlib.sha256(item.midi_bytes).hexdigest()
    midi_relative = f"midi/{midi_digest[:2]}/{midi_digest}.mid"
    target = Path(settings.MEDIA_ROOT) / midi_relative
    if item.midi_bytes and not target.exists():
        write_atomically(target, item.midi_bytes)
    fields = {
        "source_label": item.label[:500],
        "piece_id": item.piece_id,
        "profile": profile,
        "midi_sha256": midi_digest,
        "midi_file": midi_relative if item.midi_bytes else "",
        "soundfont_path": str(soundfont),
        "soundfont_sha256": soundfont_digest,
    }
    if "error" in result:
        fields.update(status=Rendering.Status.FAILED, error=result["error"], files={})
    else:
        fields.update(
            status=Rendering.Status.OK,
            error="",
            files=result["files"],
            duration_seconds=result["duration_seconds"],
            loudness_lufs=result["loudness_lufs"],
            true_peak_dbtp=result["true_peak_dbtp"],
            gain_db=result["gain_db"],
            peak_limited=result["peak_limited"],
            warnings=result["warnings"],
        )
    with transaction.atomic():
        row, _ = Rendering.objects.update_or_create(cache_key=result["key"], defaults=fields)
    return row
