"""Audio-seconds rendered per wall-second: earshot versus the fluidsynth command line.

Both render the JS Fake Chorales (generation/data/js-fakes/midi) in full to
44.1 kHz WAV with the same SoundFont, in the same run. The command line is
run as the issue states it, one process per file, one file after another
(`fluidsynth -ni -F out.wav -r 44100 SF2 file.mid`), with chorus off as in
earshot so both do the same synthesis work. earshot also measures and
normalises loudness (BS.1770) and stores every result in the database.

    make bench            (installs Debian's fluidsynth command line)
    .venv/bin/python benchmarks/render_throughput.py [--limit N] [--workers N]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from generation.music.corpora import JS_FAKES_MIDI  # noqa: E402

JS_FAKES = JS_FAKES_MIDI


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--midi-dir", type=Path, default=JS_FAKES)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    if shutil.which("fluidsynth") is None:
        sys.exit(
            "the fluidsynth command line is missing: run `make bench` (apt package fluidsynth)"
        )

    data_dir = Path(tempfile.mkdtemp(prefix="earshot-bench-"))
    os.environ["EARSHOT_DATA_DIR"] = str(data_dir)
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    import soundfile
    from django.conf import settings
    from django.core.management import call_command

    from generation.models import Rendering
    from generation.services.rendering import get_or_create_profile, midi_folder_items, render_items

    call_command("migrate", verbosity=0)
    soundfont = settings.SOUNDFONT_PATH
    items = midi_folder_items(args.midi_dir, args.limit)
    files = sorted(p for p in args.midi_dir.iterdir() if p.suffix == ".mid")
    by_name = {p.name: p for p in files}
    paths = [by_name[item.label] for item in items]
    workers = args.workers or os.cpu_count() or 1
    print(f"{len(items)} MIDI files from {args.midi_dir}, SoundFont {soundfont}, {workers} workers")

    profile = get_or_create_profile(
        "bench",
        {"max_seconds": None, "trim_silence": False, "formats": ("wav",), "release_seconds": 1.0},
    )
    started = time.perf_counter()
    report = render_items(items, profile, workers=workers)
    earshot_wall = time.perf_counter() - started
    earshot_audio = sum(r.duration_seconds or 0 for r in Rendering.objects.filter(status="ok"))
    print(f"earshot: {report.rendered} rendered, {len(report.failed)} failed")

    out_dir = data_dir / "cli"
    out_dir.mkdir()
    started = time.perf_counter()
    cli_audio = 0.0
    for path in paths:
        target = out_dir / f"{path.stem}.wav"
        subprocess.run(
            ["fluidsynth", "-ni", "-o", "synth.chorus.active=0", "-F", str(target), "-r", "44100",
             str(soundfont), str(path)],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        cli_audio += soundfile.info(str(target)).duration
    cli_wall = time.perf_counter() - started

    earshot_rate = earshot_audio / earshot_wall
    cli_rate = cli_audio / cli_wall
    print(
        f"earshot          {earshot_audio:9.0f} audio-s in {earshot_wall:7.1f} s = {earshot_rate:7.1f} audio-s/s"
    )
    print(
        f"fluidsynth CLI   {cli_audio:9.0f} audio-s in {cli_wall:7.1f} s = {cli_rate:7.1f} audio-s/s (baseline)"
    )
    print(f"ratio earshot / command line: {earshot_rate / cli_rate:.2f}x")
    shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
