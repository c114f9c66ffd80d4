from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from generation.models import Dataset
from generation.services.training import import_checkpoint


class Command(BaseCommand):
    help = "Register a checkpoint file trained elsewhere, for any family earshot knows."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--family", required=True)
        parser.add_argument("--dataset", help="dataset it was trained on (validation metrics)")
        parser.add_argument("--label", default="")
        parser.add_argument("--step", type=int, default=0)

    def handle(self, *args, **options):
        if not options["file"].is_file():
            raise CommandError(f"{options['file']} is not a file")
        dataset = None
        if options["dataset"]:
            dataset = Dataset.objects.filter(name=options["dataset"]).first()
            if dataset is None:
                raise CommandError(f"no dataset {options['dataset']!r}")
        try:
            checkpoint = import_checkpoint(
                options["file"],
                family=options["family"],
                dataset=dataset,
                label=options["label"],
                step=options["step"],
            )
        except Exception as error:  # a family's load() may raise anything on a foreign file
            raise CommandError(f"cannot import {options['file']}: {error}") from None
        self.stdout.write(self.style.SUCCESS(f"checkpoint {checkpoint.pk}: {checkpoint}"))
