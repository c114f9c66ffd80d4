"""Corpora, encodings, the model zoo, training, sampling and rendering."""

import contextlib
import io


def _import_fluidsynth_quietly() -> None:
    # pyfluidsynth prints where it found libfluidsynth on standard output at import time
    # whenever CI is set in the environment, and pretty_midi imports it. That stray line
    # would corrupt anything a command writes to standard output (`dumpdata > study.json`,
    # a CSV export piped to a file), so the first import happens here, with the line dropped.
    # A missing FluidSynth is not an error yet: rendering reports it when asked to render.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(ImportError, OSError):
        import fluidsynth  # noqa: F401


_import_fluidsynth_quietly()
