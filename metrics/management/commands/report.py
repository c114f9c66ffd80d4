import sys

from django.core.management.base import BaseCommand, CommandError

from metrics import reports
from metrics.analysis import Options
from metrics.statistics.multiple import METHODS
from studies.models import Study


class Command(BaseCommand):
    help = (
        "Write a study's significance report as HTML, PDF, LaTeX tables, CSV tables (zip) or JSON."
    )

    def add_arguments(self, parser):
        parser.add_argument("study", help="the study's slug")
        parser.add_argument("--format", choices=sorted(reports.FORMATS), default="html")
        parser.add_argument("--output", help="file to write; default standard output")
        parser.add_argument("--simulated", action="store_true", help="include simulated listeners")
        parser.add_argument(
            "--correction",
            choices=sorted(METHODS),
            help="default: the study's frozen analysis plan's, else holm",
        )
        parser.add_argument("--confidence", type=float, default=0.95)
        parser.add_argument(
            "--paper", choices=reports.PAPER_SIZES, default="A4", help="the PDF's paper size"
        )

    def handle(self, *args, study, format, output, simulated, correction, confidence, paper, **_):
        found = Study.objects.filter(slug=study).first()
        if found is None:
            raise CommandError(f"no study {study!r}")
        try:
            options = Options(
                correction=correction or reports.default_correction(found), confidence=confidence
            )
            built = reports.build_report(found, include_simulated=simulated, options=options)
            render_as = reports.FORMATS[format][1]
            body = render_as(built, paper=paper) if format == "pdf" else render_as(built)
        except (ValueError, reports.ReportError) as error:
            raise CommandError(str(error)) from error
        if output:
            mode = "wb" if isinstance(body, bytes) else "w"
            with open(output, mode) as handle:
                handle.write(body)
            self.stderr.write(f"{format} report for {found.slug} written to {output}")
        elif isinstance(body, bytes):
            sys.stdout.buffer.write(body)
        else:
            sys.stdout.write(body)
