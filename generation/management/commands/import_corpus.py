from django.core.management.base import BaseCommand, CommandError

from generation.management.commands._progress import ProgressBar
from generation.management.commands._report import print_import_report
from generation.music.corpora import CORPORA
from generation.services.corpora import import_corpus


class Command(BaseCommand):
    help = "Import one of music21's bundled corpora as a dataset (re-importing replaces it)."

    def add_arguments(self, parser):
        parser.add_argument("name", choices=sorted(CORPORA), help="corpus name")
        parser.add_argument(
            "--limit", type=int, help="import only the first N pieces (quick subsets)"
        )
        parser.add_argument("--workers", type=int, help="parser processes (default: every core)")

    def handle(self, *args, name, limit, workers, verbosity, **options):
        try:
            report = import_corpus(
                name,
                limit=limit,
                workers=workers,
                progress=ProgressBar(self.stderr._out) if verbosity else None,
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        print_import_report(self, report)
