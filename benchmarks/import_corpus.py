"""Cold and warm import time of the Bach chorales.

Baseline, measured in the same run: a cold import on one process (music21
parsing every file in turn). Cold uses every core; warm reads earshot's
parse cache and should be near instant.

    .venv/bin/python benchmarks/import_corpus.py [--corpus bach-chorales]
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="bach-chorales")
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="earshot-bench-")
    os.environ["EARSHOT_DATA_DIR"] = data_dir
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from generation.services.corpora import import_corpus

    call_command("migrate", verbosity=0)

    def timed(label: str, workers: int | None, cache: Path) -> float:
        settings.PARSE_CACHE_DIR = cache
        started = time.perf_counter()
        report = import_corpus(args.corpus, workers=workers)
        seconds = time.perf_counter() - started
        print(
            f"{label:<28} {seconds:7.2f} s  {report.pieces} pieces, "
            f"{report.cache_hits}/{report.sources} files from cache"
        )
        return seconds

    cores = os.cpu_count() or 1
    print(f"import of {args.corpus} on {cores} cores")
    baseline = None
    if not args.skip_baseline:
        baseline = timed("cold, 1 process (baseline)", 1, Path(data_dir) / "cache-baseline")
    cold = timed(f"cold, {cores} processes", None, Path(data_dir) / "cache")
    warm = timed("warm (parse cache)", None, Path(data_dir) / "cache")
    if baseline:
        print(f"cold speed-up over baseline: {baseline / cold:.2f}x")
        print(f"warm speed-up over baseline: {baseline / warm:.1f}x")
    print(f"warm speed-up over cold: {cold / warm:.1f}x")


if __name__ == "__main__":
    main()
