"""Writes around samples: drawing them from checkpoints and importing other models' MIDI."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pretty_midi
from django.conf import settings
from django.db import transaction
from django.utils.text import slugify

from generation.encodings.sequences import first_bars
from generation.models import Checkpoint, Piece, Sample, SampleSet
from generation.music.corpora import midi_folder_sources
from generation.music.parsing import PieceRejected, quantize_pretty_midi, read_midi_file
from generation.music.scores import QuantizedPiece
from generation.services.training import code_version, load_generator, use_torch_threads
from generation.zoo.interface import sampling_options
from generation.zoo.sampling import SamplingSettings, set_program

logger = logging.getLogger("earshot.samples")

NO_PRIMER = {"kind": "none"}


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def piece_primer(piece: Piece, bars: float) -> dict:
    return {"kind": "piece", "piece_id": piece.pk, "piece": str(piece), "bars": bars}


def midi_primer(path: Path, bars: float) -> dict:
    """Keep a copy of the primer file, so the samples can be drawn again after it moves."""
    path = Path(path)
    read_midi_file(path)  # PieceRejected says why a broken file cannot prime anything
    data = path.read_bytes()
    digest = _sha256_bytes(data)
    target = settings.SAMPLE_DIR / "primers" / f"{digest}.mid"
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        target.write_bytes(data)
    return {"kind": "midi", "file": f"primers/{digest}.mid", "name": path.name, "bars": bars}


def load_primer(spec: dict) -> QuantizedPiece | None:
    kind = spec.get("kind", "none")
    if kind == "none":
        return None
    if kind == "piece":
        piece = Piece.objects.get(pk=spec["piece_id"]).load()
    elif kind == "midi":
        piece = read_midi_file(settings.SAMPLE_DIR / spec["file"])
    else:
        raise ValueError(f"unknown primer kind {kind!r}")
    return first_bars(piece, spec["bars"])


def _midi_bytes(midi: pretty_midi.PrettyMIDI) -> bytes:
    buffer = io.BytesIO()
    midi.write(buffer)
    return buffer.getvalue()


def _sample_row(
    sample_set: SampleSet, index: int, data: bytes, label: str, piece: QuantizedPiece
) -> Sample:
    relative = f"{sample_set.name}/{index:04d}.mid"
    target = settings.SAMPLE_DIR / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return Sample(
        sample_set=sample_set,
        index=index,
        label=label[:300],
        midi_file=relative,
        midi_sha256=_sha256_bytes(data),
        n_notes=piece.n_notes,
        n_steps=piece.n_steps,
        duration_seconds=round(piece.duration_seconds, 3),
        quantized=piece.to_bytes(),
    )


def _settings_key(checkpoint: Checkpoint, spec: dict) -> str:
    blob = json.dumps({"checkpoint": checkpoint.sha256, **spec}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def _supported_options(generator, checkpoint: Checkpoint, sampling: SamplingSettings) -> dict:
    """The optional settings this generator takes; asking a model without styles for a style
    is an error, not silently ignored."""
    accepted = sampling_options(generator)
    options = sampling.model_options()
    if "style" in options and "style" not in accepted:
        raise ValueError(f"{checkpoint.family} models have no styles to choose from")
    return {key: value for key, value in options.items() if key in accepted}


def generate_samples(
    checkpoint: Checkpoint,
    sampling: SamplingSettings,
    *,
    primer: dict | None = None,
    name: str | None = None,
    device: str = "",
) -> SampleSet:
    """Draw `sampling.n` samples in one batch. The same checkpoint, settings and primer give the
    same set: asking again returns the stored one instead of drawing it twice.
    device: where the model runs (auto, cpu, cuda, mps; empty: EARSHOT_DEVICE). The random
    draws are made on the CPU, so a sample does not depend on the batch around it."""
    spec = {"sampling": sampling.to_dict(), "primer": primer or NO_PRIMER}
    name = slugify(name) if name else f"ckpt{checkpoint.pk}-{_settings_key(checkpoint, spec)}"
    if not name:
        raise ValueError("a sample set needs a name made of letters, digits or dashes")
    existing = SampleSet.objects.filter(name=name).first()
    if existing is not None:
        if existing.checkpoint_id == checkpoint.pk and existing.settings == spec:
            return existing
        raise ValueError(f"a sample set named {name!r} already exists with other settings")
    use_torch_threads()
    generator = load_generator(checkpoint, device=device)
    midis = generator.sample(
        sampling.n,
        sampling.steps,
        temperature=sampling.temperature,
        primer=load_primer(spec["primer"]),
        seed=sampling.seed,
        top_k=sampling.top_k,
        tempo_qpm=sampling.tempo_qpm,
        **_supported_options(generator, checkpoint, sampling),
    )
    if len(midis) != sampling.n:
        raise ValueError(
            f"the {checkpoint.family} generator returned {len(midis)} samples, not {sampling.n}"
        )
    encoded = [_midi_bytes(set_program(midi, sampling.program)) for midi in midis]
    pieces = [quantize_pretty_midi(midi) for midi in midis]
    try:
        with transaction.atomic():
            sample_set = SampleSet.objects.create(
                name=name,
                kind=SampleSet.Kind.GENERATED,
                checkpoint=checkpoint,
                settings=spec,
                code_version=code_version(),
            )
            Sample.objects.bulk_create(
                _sample_row(sample_set, index, data, "", piece)
                for index, (data, piece) in enumerate(zip(encoded, pieces, strict=True))
            )
    except Exception:
        shutil.rmtree(settings.SAMPLE_DIR / name, ignore_errors=True)
        raise
    return sample_set


@dataclass
class ImportSamplesReport:
    sample_set: str
    imported: int = 0
    skipped: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"sample_set": self.sample_set, "imported": self.imported, "skipped": self.skipped}


def import_samples(
    folder: Path,
    *,
    system: str,
    description: str = "",
    replace: bool = False,
    origin: str | None = None,
):
    """A folder of any model's MIDI output becomes a sample set named after the system.

    Unreadable files are skipped with the reason; nothing is written unless at
    least one file is usable. Importing the same files again changes nothing.
    """
    folder = Path(folder).resolve()
    name = slugify(system)
    if not name:
        raise ValueError("--system needs a name made of letters, digits or dashes")
    report = ImportSamplesReport(sample_set=name)
    accepted: list[tuple[str, bytes, QuantizedPiece]] = []
    for source in midi_folder_sources(folder):
        try:
            piece = read_midi_file(source.path)
        except PieceRejected as rejection:
            report.skipped.append({"file": source.identifier, "reason": str(rejection)})
            continue
        accepted.append((source.identifier, source.path.read_bytes(), piece))
    if not accepted:
        raise ValueError(
            f"no usable MIDI file in {folder}"
            + (f"; skipped {len(report.skipped)}" if report.skipped else "")
        )
    existing = SampleSet.objects.filter(name=name).first()
    if existing is not None:
        same = sorted(existing.samples.values_list("midi_sha256", flat=True)) == sorted(
            _sha256_bytes(data) for _, data, _ in accepted
        )
        if same:
            report.imported = 0
            return existing, report
        if not replace or existing.kind != SampleSet.Kind.IMPORTED:
            raise ValueError(
                f"a sample set named {name!r} already exists; pass --replace to replace it"
            )
    staging = settings.SAMPLE_DIR / name
    with transaction.atomic():
        if existing is not None:
            existing.delete()
            shutil.rmtree(staging, ignore_errors=True)
        sample_set = SampleSet.objects.create(
            name=name,
            kind=SampleSet.Kind.IMPORTED,
            source=origin or str(folder),
            description=description,
            code_version=code_version(),
        )
        Sample.objects.bulk_create(
            _sample_row(sample_set, index, data, label, piece)
            for index, (label, data, piece) in enumerate(accepted)
        )
        report.imported = len(accepted)
        sample_set.report = report.as_dict()
        sample_set.save(update_fields=["report"])
    return sample_set, report


def import_uploaded_samples(uploads, *, system: str, description: str = ""):
    """Uploaded MIDI files (Django UploadedFile) become a sample set, as a folder would.

    The files are written under names of our own choosing (an uploaded name could hold
    "../" or be too long) into a scratch folder that is gone afterwards, so the set records
    that it came from a browser upload rather than naming that folder.
    """
    with tempfile.TemporaryDirectory() as scratch:
        for index, upload in enumerate(uploads):
            target = Path(scratch) / f"{index:04d}-{Path(upload.name).stem[:60]}.mid"
            with open(target, "wb") as handle:
                for chunk in upload.chunks():
                    handle.write(chunk)
        try:
            return import_samples(
                Path(scratch),
                system=system,
                description=description,
                origin=f"a browser upload of {len(uploads)} files",
            )
        except ValueError as error:
            folder = str(Path(scratch).resolve())
            raise ValueError(str(error).replace(folder, "the upload")) from None
