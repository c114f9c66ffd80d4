"""Rendering many MIDI files over every core. Plain Python: no Django.

Each worker process loads the SoundFont once. One bad file never stops the
batch: an ordinary error becomes that item's result, and a worker that dies
outright (a crash inside FluidSynth) is isolated by re-running the items that
were in flight one at a time in fresh processes.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from generation.audio.rendering import (
    FORMATS,
    RenderError,
    RenderProfile,
    Synthesizer,
    encode_blinded,
    render_midi_bytes,
    write_atomically,
)
from generation.pools import process_pool


@dataclass(frozen=True)
class RenderTask:
    key: str  # cache key; also the audio file names, which reveal nothing about the source
    label: str
    midi_bytes: bytes
    profile: dict
    soundfont: str
    media_root: str


def audio_path(key: str, fmt: str) -> str:
    return f"audio/{key[:2]}/{key}{FORMATS[fmt][2]}"


def render_task(task: RenderTask) -> dict:
    """Render one file and write its audio files; returns metadata or {"error": ...}."""
    profile = RenderProfile.from_dict(task.profile)
    try:
        audio = render_midi_bytes(task.midi_bytes, profile, Path(task.soundfont), task.label)
        if audio.duration_seconds == 0:
            raise RenderError(f"{task.label}: the rendered clip is empty")
        files = {}
        for fmt in profile.formats:
            relative = audio_path(task.key, fmt)
            data, warning = encode_blinded(audio, fmt, profile.max_seconds)
            write_atomically(Path(task.media_root) / relative, data)
            files[fmt] = relative
            if warning:
                audio.warnings.append(warning)
    except RenderError as error:
        return {"key": task.key, "error": str(error)}
    except Exception as error:  # an unexpected failure is that item's result, not the batch's
        return {"key": task.key, "error": f"{task.label}: {type(error).__name__}: {error}"}
    return {
        "key": task.key,
        "files": files,
        "duration_seconds": audio.duration_seconds,
        "loudness_lufs": audio.loudness_lufs,
        "true_peak_dbtp": audio.true_peak_dbtp,
        "gain_db": audio.gain_db,
        "peak_limited": audio.peak_limited,
        "warnings": audio.warnings,
    }


def _load_soundfont(soundfont: str) -> None:
    with contextlib.suppress(RenderError):  # reported per item by render_task, with the path
        Synthesizer.shared(Path(soundfont))


def render_all(
    tasks: list[RenderTask],
    *,
    workers: int | None = None,
    on_result: Callable[[dict], None],
) -> None:
    """`on_result` sees each result as it arrives (in completion order), to store it at once."""
    for result in _iterate(tasks, workers or os.cpu_count() or 1):
        on_result(result)


def _iterate(tasks: list[RenderTask], workers: int) -> Iterator[dict]:
    if not tasks:
        return
    if workers == 1:
        for task in tasks:
            yield render_task(task)
        return
    pending = list(tasks)
    suspects: list[RenderTask] = []
    while pending:
        pending, suspects = yield from _run_pool(pending, workers)
        for task in suspects:  # one at a time: a second crash names the culprit
            yield from _run_isolated(task)


def _run_pool(tasks: list[RenderTask], workers: int):
    """Runs tasks until done or until a worker dies; returns (not yet run, in flight at the crash)."""
    soundfont = tasks[0].soundfont
    queue = list(reversed(tasks))
    in_flight: dict = {}
    with process_pool(workers, initializer=_load_soundfont, initargs=(soundfont,)) as pool:
        try:
            while queue or in_flight:
                while queue and len(in_flight) < workers * 2:
                    task = queue.pop()
                    in_flight[pool.submit(render_task, task)] = task
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    task = in_flight.pop(future)
                    yield future.result()
        except BrokenProcessPool:
            return list(reversed(queue)), [*in_flight.values(), task]
    return [], []


def _run_isolated(task: RenderTask) -> Iterator[dict]:
    with process_pool(1) as pool:
        try:
            yield pool.submit(render_task, task).result()
        except BrokenProcessPool:
            yield {"key": task.key, "error": f"{task.label}: the renderer crashed on this file"}
