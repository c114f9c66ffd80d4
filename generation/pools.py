"""Process pools that never inherit the parent's state.

Workers start from a clean forkserver, not by forking the caller: a forked
child would share the caller's open database connections (and any
transaction on them). The worker modules, which import no Django, are
preloaded into the server so each new worker starts warm.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

WORKER_MODULES = [
    "generation.music.parsing",
    "generation.audio.render_pool",
    # Heavy libraries the workers import lazily: loaded once into the server instead.
    "pretty_midi",
    "fluidsynth",
    "scipy.signal",
    "pyloudnorm",
    "soundfile",
]

OWNER_POLL_SECONDS = 1.0

_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(WORKER_MODULES)


def process_pool(workers: int, initializer=None, initargs: tuple = ()) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=_context,
        initializer=_start_worker,
        initargs=(os.getpid(), initializer, initargs),
    )


def _start_worker(owner: int, initializer, initargs: tuple) -> None:
    threading.Thread(target=_exit_with, args=(owner,), daemon=True, name="owner-watch").start()
    if initializer is not None:
        initializer(*initargs)


def _exit_with(owner: int) -> None:
    """End this worker once the process that owns its pool is gone.

    A worker waits on its pool's queue, whose write end it holds itself, so an owner that
    dies without shutting the pool down (a job worker killed mid-render, a process that
    calls os._exit) would leave it, and the forkserver above it, waiting for ever."""
    while _alive(owner):
        time.sleep(OWNER_POLL_SECONDS)
    os._exit(0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A dead owner its parent has not reaped yet still answers signals: read its state.
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True
