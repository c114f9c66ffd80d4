import sys

from django.core.management.base import BaseCommand, CommandError

from generation.models import Checkpoint, Dataset
from metrics import comparison
from metrics.analysis import Options
from metrics.forms import SPLIT_CHOICES
from studies.models import Study


class Command(BaseCommand):
    help = (
        "Compare checkpoints: training metrics, music metrics of their samples against a "
        "reference split, and listener results from a study, as a table, CSV (zip), LaTeX or JSON."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "checkpoints", nargs="+", type=int, metavar="CKPT", help="checkpoint ids"
        )
        parser.add_argument("--dataset", required=True, help="the reference dataset")
        parser.add_argument("--split", choices=[s for s, _ in SPLIT_CHOICES], default="test")
        parser.add_argument(
            "--study", help="take listener results from this study (default: the newest that "
            "played any of these checkpoints; 'none' for no listener results)"
        )  # fmt: skip
        parser.add_argument("--simulated", action="store_true", help="include simulated listeners")
        parser.add_argument("--confidence", type=float, default=0.95)
        parser.add_argument("--format", choices=sorted(comparison.FORMATS), default="txt")
        parser.add_argument("--output", help="file to write; default standard output")

    def handle(self, *args, checkpoints, dataset, split, study, simulated, confidence, **options):
        found = list(Checkpoint.objects.filter(pk__in=checkpoints))
        missing = sorted(set(checkpoints) - {c.pk for c in found})
        if missing:
            raise CommandError(f"no checkpoint {', '.join(map(str, missing))}")
        reference = Dataset.objects.filter(name=dataset).first()
        if reference is None:
            raise CommandError(f"no dataset {dataset!r}")
        if study == "none":
            chosen_study = None
        elif study:
            chosen_study = Study.objects.filter(slug=study).first()
            if chosen_study is None:
                raise CommandError(f"no study {study!r}")
        else:
            played = comparison.studies_with(found)
            chosen_study = played[0] if played else None
        try:
            built = comparison.build_comparison(
                found,
                dataset=reference,
                split=split,
                study=chosen_study,
                include_simulated=simulated,
                options=Options(confidence=confidence),
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        body = comparison.FORMATS[options["format"]][1](built)
        output = options["output"]
        if output:
            with open(output, "wb" if isinstance(body, bytes) else "w") as handle:
                handle.write(body)
            self.stderr.write(f"comparison written to {output}")
        elif isinstance(body, bytes):
            sys.stdout.buffer.write(body)
        else:
            self.stdout.write(body, ending="")
