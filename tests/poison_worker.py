"""A render worker that dies on files labelled "poison": importable by pool workers (no Django)."""

import os

from generation.audio.render_pool import render_task


def crash_on_poison(task):
    if "poison" in task.label:
        os._exit(1)  # a hard crash of the worker process, as a segfault in FluidSynth would be
    return render_task(task)
