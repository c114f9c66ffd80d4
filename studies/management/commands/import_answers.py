from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from studies import exchange
from studies.models import Study
from studies.services import import_answers


class Command(BaseCommand):
    help = (
        "Import answers gathered elsewhere, in the export's CSV or JSON format. All or nothing; "
        "rows already stored are left alone."
    )

    def add_arguments(self, parser):
        parser.add_argument("study", help="the study's slug")
        parser.add_argument("file", help="a CSV or JSON file of answers")

    def handle(self, *args, study: str, file: str, **options):
        found = Study.objects.filter(slug=study).first()
        if found is None:
            raise CommandError(f"no study {study!r}")
        try:
            rows = exchange.read_rows(Path(file).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, exchange.FormatError) as error:
            raise CommandError(f"{file}: {error}") from None
        report = import_answers(found, rows)
        if report.errors:
            raise CommandError("nothing imported:\n  " + "\n  ".join(report.errors))
        self.stdout.write(self.style.SUCCESS(report.summary))
