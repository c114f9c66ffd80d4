from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from generation.audio.rendering import FORMATS
from generation.management.commands._progress import ProgressBar
from generation.models import Dataset, SampleSet
from generation.music.splits import SPLITS
from generation.services.rendering import (
    DEFAULT_PROFILE,
    get_or_create_profile,
    midi_folder_items,
    render_items,
    render_pieces,
    render_sample_set,
)


class Command(BaseCommand):
    help = (
        "Render a dataset's pieces (the human references of studies) or a folder of MIDI files "
        "to loudness-matched audio, on every core. Renderings are cached: nothing renders twice."
    )

    def add_arguments(self, parser):
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--dataset", help="dataset name")
        source.add_argument("--midi-dir", type=Path, help="folder of MIDI files")
        source.add_argument("--sample-set", help="a sample set (generated or imported)")
        parser.add_argument("--split", choices=SPLITS, help="only this split of the dataset")
        parser.add_argument("--limit", type=int, help="only the first N pieces or files")
        parser.add_argument("--profile", default=DEFAULT_PROFILE, help="render profile name")
        parser.add_argument(
            "--program", type=int, help="General MIDI program for every part (new profile)"
        )
        parser.add_argument("--max-seconds", type=float, help="clip length limit (new profile)")
        parser.add_argument("--target-lufs", type=float, help="loudness target (new profile)")
        parser.add_argument("--soundfont", help="a .sf2 file for this profile (new profile)")
        parser.add_argument(
            "--formats", help=f"comma-separated, of {', '.join(FORMATS)} (new profile)"
        )
        parser.add_argument("--workers", type=int, help="processes (default: every core)")
        parser.add_argument("--retry-failed", action="store_true", help="try failed files again")

    def handle(self, *args, **options):
        overrides = {
            key: options[key]
            for key in ("program", "max_seconds", "target_lufs", "soundfont")
            if options[key] is not None
        }
        if options["formats"]:
            overrides["formats"] = tuple(f.strip() for f in options["formats"].split(","))
        if options["limit"] is not None and options["limit"] < 1:
            raise CommandError("--limit must be at least 1")
        try:
            profile = get_or_create_profile(options["profile"], overrides or None)
            progress = ProgressBar(self.stderr._out) if options["verbosity"] else None
            common = {
                "workers": options["workers"],
                "progress": progress,
                "retry_failed": options["retry_failed"],
            }
            if options["dataset"]:
                dataset = Dataset.objects.filter(name=options["dataset"]).first()
                if dataset is None:
                    raise CommandError(f"no dataset named {options['dataset']!r}; import it first")
                pieces = dataset.pieces.select_related("dataset")
                if options["split"]:
                    pieces = pieces.filter(split=options["split"])
                report = render_pieces(list(pieces[: options["limit"]]), profile, **common)
            elif options["sample_set"]:
                sample_set = SampleSet.objects.filter(name=options["sample_set"]).first()
                if sample_set is None:
                    raise CommandError(f"no sample set named {options['sample_set']!r}")
                report = render_sample_set(sample_set, profile, **common)
            else:
                report = render_items(
                    midi_folder_items(options["midi_dir"], options["limit"]), profile, **common
                )
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            self.style.SUCCESS(
                f"profile {report.profile}: {report.rendered} rendered, {report.cached} from cache, "
                f"{len(report.failed)} failed"
            )
        )
        for failure in report.failed:
            self.stdout.write(self.style.WARNING(f"  {failure['reason']}"))
