import sys

from django.core.management.base import BaseCommand, CommandError

from studies import exchange, selectors
from studies.models import Study


class Command(BaseCommand):
    help = "Write a study's answers, one row per answer, as CSV or JSON (to a file or stdout)."

    def add_arguments(self, parser):
        parser.add_argument("study", help="the study's slug")
        parser.add_argument("--format", choices=["csv", "json"], default="csv")
        parser.add_argument("--output", help="file to write; default standard output")
        parser.add_argument(
            "--previews", action="store_true", help="include experimenters' previews"
        )

    def handle(self, *args, study: str, format: str, output: str | None, previews: bool, **options):
        found = Study.objects.filter(slug=study).first()
        if found is None:
            raise CommandError(f"no study {study!r}")
        rows = selectors.answer_rows(found, include_previews=previews)
        if format == "csv":
            text = exchange.to_csv(rows, selectors.EXPORT_COLUMNS)
        else:
            text = exchange.to_json(rows, study=found.slug, columns=selectors.EXPORT_COLUMNS)
        if output:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(text)
            self.stderr.write(f"{len(rows)} answers written to {output}")
        else:
            sys.stdout.write(text)
