from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.text import slugify

from generation.management.commands._progress import ProgressBar
from generation.management.commands._report import print_import_report
from generation.services.corpora import import_midi_folder


class Command(BaseCommand):
    help = "Import every MIDI file below a folder as a dataset (re-importing replaces it)."

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path)
        parser.add_argument("--name", required=True, help="dataset name (a slug)")
        parser.add_argument("--style", default="", help="style/composer label for every piece")
        parser.add_argument("--title", default="", help="human-readable title")
        parser.add_argument("--limit", type=int, help="import only the first N pieces")
        parser.add_argument("--workers", type=int, help="parser processes (default: every core)")

    def handle(self, *args, directory, name, style, title, limit, workers, verbosity, **options):
        if slugify(name) != name:
            raise CommandError(f"--name {name!r} must be a slug, e.g. {slugify(name)!r}")
        try:
            report = import_midi_folder(
                directory,
                name=name,
                style=style,
                title=title,
                limit=limit,
                workers=workers,
                progress=ProgressBar(self.stderr._out) if verbosity else None,
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        print_import_report(self, report)
