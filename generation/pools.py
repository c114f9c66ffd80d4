"""Process pools that never inherit the parent's state.

Workers start from a clean forkserver, not by forking the caller: a forked
child would share the caller's open database connections (and any
transaction on them). The worker modules, which import no Django, are
preloaded into the server so each new worker starts warm.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

WORKER_MODULES = [
    "generation.parsing",
    "generation.render_pool",
    # Heavy libraries the workers import lazily: loaded once into the server instead.
    "pretty_midi",
    "fluidsynth",
    "scipy.signal",
    "pyloudnorm",
    "soundfile",
]

_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(WORKER_MODULES)


def process_pool(workers: int, initializer=None, initargs: tuple = ()) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=_context, initializer=initializer, initargs=initargs
    )
