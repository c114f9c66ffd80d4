"""Writes that span models: importing corpora and MIDI folders into Dataset and Piece rows."""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction

from generation.evaluation.jsb_chorales import SPLITS as JSB_SPLITS
from generation.evaluation.jsb_chorales import chorale_piece, load_jsb
from generation.jobs.running import ProgressCallback
from generation.models import Dataset, Piece
from generation.music.corpora import (
    CORPORA,
    JSB_CHORALES,
    Source,
    corpus_sources,
    midi_folder_sources,
)
from generation.music.keys import estimate_key
from generation.music.parsing import ParsedEntry, parse_source
from generation.music.scores import PITCH
from generation.music.splits import DEFAULT_FRACTIONS, split_of, validate_fractions
from generation.pools import process_pool

logger = logging.getLogger("earshot.import")

# Below this many uncached files a process pool costs more than it saves.
POOL_THRESHOLD = 8


@dataclass
class ImportReport:
    dataset: str
    sources: int = 0
    pieces: int = 0
    cache_hits: int = 0
    seconds: float = 0.0
    limit: int | None = None
    skipped: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "sources": self.sources,
            "pieces": self.pieces,
            "cache_hits": self.cache_hits,
            "seconds": round(self.seconds, 2),
            "limit": self.limit,
            "skipped": self.skipped,
        }


def import_corpus(
    name: str,
    *,
    limit: int | None = None,
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
) -> ImportReport:
    """Import one of music21's bundled corpora (see generation.music.corpora.CORPORA)."""
    if name == JSB_CHORALES:
        return import_jsb_chorales(limit=limit, progress=progress)
    sources = corpus_sources(name)
    spec = CORPORA[name]
    return _import(
        dataset_fields={
            "title": spec.title,
            "kind": Dataset.Kind.MUSIC21,
            "source": name,
            "style": spec.style,
            "description": spec.description,
        },
        name=name,
        sources=sources,
        limit=limit,
        fractions=fractions,
        progress=progress,
        workers=workers,
    )


def import_midi_folder(
    directory: Path,
    *,
    name: str,
    style: str = "",
    title: str = "",
    description: str = "",
    limit: int | None = None,
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
) -> ImportReport:
    directory = Path(directory).resolve()
    sources = midi_folder_sources(directory)
    return _import(
        dataset_fields={
            "title": title or name,
            "kind": Dataset.Kind.MIDI,
            "source": str(directory),
            "style": style,
            "description": description,
        },
        name=name,
        sources=sources,
        limit=limit,
        fractions=fractions,
        progress=progress,
        workers=workers,
    )


def _import(
    *,
    dataset_fields: dict,
    name: str,
    sources: list[Source],
    limit: int | None,
    fractions: tuple[float, float, float],
    progress: ProgressCallback | None,
    workers: int | None,
) -> ImportReport:
    fractions = validate_fractions(fractions)
    if limit is not None and limit < 1:
        raise ValueError(f"--limit must be at least 1, got {limit}")
    started = time.perf_counter()
    report = ImportReport(dataset=name, limit=limit)
    accepted: list[ParsedEntry] = []
    for entries, hit in _parse_all(sources, workers=workers):
        report.sources += 1
        report.cache_hits += int(hit)
        for entry in entries:
            if entry.piece is None:
                report.skipped.append({"source": entry.identifier, "reason": entry.rejection})
            elif limit is None or len(accepted) < limit:
                accepted.append(entry)
        if progress:
            progress(
                report.sources, len(sources), f"parsed {report.sources} of {len(sources)} files"
            )
        if limit is not None and len(accepted) >= limit:
            break

    pieces = [_parsed_row(entry, dataset_fields["style"], fractions) for entry in accepted]
    # All or nothing: a failure here leaves the previous import of this dataset untouched.
    with transaction.atomic():
        dataset, _ = Dataset.objects.update_or_create(
            name=name,
            defaults={
                **dataset_fields,
                "train_fraction": fractions[0],
                "valid_fraction": fractions[1],
                "test_fraction": fractions[2],
            },
        )
        dataset.pieces.all().delete()
        for piece in pieces:
            piece.dataset = dataset
        Piece.objects.bulk_create(pieces, batch_size=500)
        report.pieces = len(pieces)
        report.seconds = time.perf_counter() - started
        dataset.import_report = report.as_dict()
        dataset.save(update_fields=["import_report"])
    logger.info(
        "imported %s: %d pieces from %d files, %d skipped, %.1fs",
        name,
        report.pieces,
        report.sources,
        len(report.skipped),
        report.seconds,
    )
    return report


def import_jsb_chorales(
    *, limit: int | None = None, progress: ProgressCallback | None = None
) -> ImportReport:
    """The JSB Chorales benchmark split as a dataset: every chorale keeps its split (so a
    model trained here is scored on the test chorales it never saw), held frames merged into
    notes on the sixteenth-note grid. limit: the first N chorales of each split."""
    if limit is not None and limit < 1:
        raise ValueError(f"--limit must be at least 1, got {limit}")
    started = time.perf_counter()
    spec = CORPORA[JSB_CHORALES]
    report = ImportReport(dataset=JSB_CHORALES, limit=limit)
    rows = []
    splits = load_jsb()
    for split in JSB_SPLITS:
        for index, frames in enumerate(splits[split][:limit]):
            identifier = f"{split}/{index:03d}"
            piece = chorale_piece(frames, title=f"JSB {split} chorale {index + 1}")
            rows.append(
                _piece_row(
                    piece, identifier=identifier, title=piece.title, style=spec.style, split=split
                )
            )
    report.sources = report.pieces = len(rows)
    with transaction.atomic():
        dataset, _ = Dataset.objects.update_or_create(
            name=JSB_CHORALES,
            defaults={
                "title": spec.title,
                "kind": Dataset.Kind.MUSIC21,
                "source": JSB_CHORALES,
                "style": spec.style,
                "description": spec.description,
                "train_fraction": len(splits["train"]) / sum(map(len, splits.values())),
                "valid_fraction": len(splits["valid"]) / sum(map(len, splits.values())),
                "test_fraction": len(splits["test"]) / sum(map(len, splits.values())),
            },
        )
        dataset.pieces.all().delete()
        for row in rows:
            row.dataset = dataset
        Piece.objects.bulk_create(rows, batch_size=500)
        report.seconds = time.perf_counter() - started
        dataset.import_report = report.as_dict()
        dataset.save(update_fields=["import_report"])
    if progress:
        progress(len(rows), len(rows), f"imported {len(rows)} chorales")
    return report


def _parse_all(
    sources: list[Source], *, workers: int | None
) -> Iterator[tuple[list[ParsedEntry], bool]]:
    """Parse results in source order. Only a small window is in flight, so a caller
    that stops early (an import with --limit) does not wait for the whole corpus."""
    cache_dir = settings.PARSE_CACHE_DIR
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(sources) < POOL_THRESHOLD:
        for source in sources:
            yield parse_source(source.path, source.kind, source.identifier, cache_dir)
        return
    pool = process_pool(workers)
    window: deque = deque()
    remaining = iter(sources)
    try:
        while True:
            while len(window) < workers * 4 and (source := next(remaining, None)) is not None:
                window.append(
                    pool.submit(
                        parse_source, source.path, source.kind, source.identifier, cache_dir
                    )
                )
            if not window:
                return
            yield window.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _parsed_row(entry: ParsedEntry, style: str, fractions) -> Piece:
    """A parsed file's piece, titled by its file where it has no title of its own, in the
    split its identifier falls in."""
    title = entry.piece.title
    if not title or title == Path(entry.identifier.split("#")[0]).name:
        title = Path(entry.identifier.split("#")[0]).stem
        if "#" in entry.identifier:
            title += f" #{entry.identifier.split('#', 1)[1]}"
    return _piece_row(
        entry.piece,
        identifier=entry.identifier,
        title=title,
        style=style,
        split=split_of(entry.identifier, fractions),
    )


def _piece_row(piece, *, identifier: str, title: str, style: str, split: str) -> Piece:
    key = estimate_key(piece.notes)
    numerator, denominator = piece.time_signature
    return Piece(
        identifier=identifier,
        title=title[:300],
        composer=piece.composer[:200],
        style=style,
        estimated_key=key.name if key else "",
        notated_key=piece.notated_key[:40],
        time_signature=f"{numerator}/{denominator}",
        tempo_qpm=piece.tempo_qpm,
        n_steps=piece.n_steps,
        n_notes=piece.n_notes,
        n_parts=len(piece.part_names),
        part_names=list(piece.part_names),
        lowest_pitch=int(piece.notes[:, PITCH].min()),
        highest_pitch=int(piece.notes[:, PITCH].max()),
        split=split,
        quantized=piece.to_bytes(),
    )


def iter_pieces(queryset: Iterable[Piece]):
    """(Piece row, QuantizedPiece) pairs, decoding lazily."""
    for row in queryset:
        yield row, row.load()
