from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from generation.services.sampling import import_samples


class Command(BaseCommand):
    help = (
        "Make a folder of MIDI files (any model's output) a system with samples, usable in "
        "studies and comparisons without a checkpoint."
    )

    def add_arguments(self, parser):
        parser.add_argument("folder", type=Path)
        parser.add_argument(
            "--system", required=True, help="name of the system, e.g. my-transformer"
        )
        parser.add_argument("--description", default="")
        parser.add_argument("--replace", action="store_true", help="replace a set of that name")

    def handle(self, *args, **options):
        if not options["folder"].is_dir():
            raise CommandError(f"{options['folder']} is not a folder")
        try:
            sample_set, report = import_samples(
                options["folder"],
                system=options["system"],
                description=options["description"],
                replace=options["replace"],
            )
        except ValueError as error:
            raise CommandError(str(error)) from None
        for skipped in report.skipped:
            self.stderr.write(f"skipped {skipped['file']}: {skipped['reason']}")
        if report.imported == 0:
            self.stdout.write(f"{sample_set.name} already holds these files; nothing changed")
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"{sample_set.name}: {report.imported} samples imported, {len(report.skipped)} skipped"
                )
            )
