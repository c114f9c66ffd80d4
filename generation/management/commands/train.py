from django.core.management.base import BaseCommand, CommandError

from generation.management.commands._progress import ProgressBar
from generation.models import Dataset
from generation.training_services import create_run, families, parse_overrides, train


class Command(BaseCommand):
    help = (
        "Train a model family on a dataset's train split, evaluating on its valid split and "
        "keeping checkpoints. Example: train --model melody-rnn --config attention "
        "--dataset bach-chorales --steps 2000"
    )

    def add_arguments(self, parser):
        parser.add_argument("--model", help="model family, e.g. melody-rnn (see --list)")
        parser.add_argument("--config", help="variant, e.g. basic or attention")
        parser.add_argument(
            "--preset", help="size: tiny, small or paper (default: the family's own defaults)"
        )
        parser.add_argument("--dataset")
        parser.add_argument("--steps", type=int, help="training steps (overrides the preset)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="any model or training option, e.g. --set dropout=0.5 --set state_refeed=true",
        )
        parser.add_argument(
            "--list", action="store_true", help="list families, configs and presets"
        )

    def handle(self, *args, **options):
        if options["list"]:
            for family in families().values():
                self.stdout.write(
                    f"{family.name}: configs {', '.join(family.configs) or '-'}; "
                    f"presets {', '.join(family.presets) or '-'}"
                )
            return
        if not options["model"] or not options["dataset"]:
            raise CommandError("--model and --dataset are required (or --list)")
        try:
            dataset = Dataset.objects.get(name=options["dataset"])
        except Dataset.DoesNotExist:
            raise CommandError(f"no dataset {options['dataset']!r}; import it first") from None
        try:
            overrides = parse_overrides(options["set"])
            if options["steps"] is not None:
                overrides["steps"] = options["steps"]
            run = create_run(
                family=options["model"],
                dataset=dataset,
                config=options["config"],
                preset=options["preset"],
                overrides=overrides,
                seed=options["seed"],
            )
        except (ValueError, TypeError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"training run {run.pk}: {run.label}, {run.total_steps} steps")
        progress = ProgressBar(self.stderr._out) if options["verbosity"] else None
        try:
            run = train(run, progress=progress)
        except Exception as error:
            raise CommandError(f"training run {run.pk} failed: {error}") from error
        valid = (run.latest_metrics or {}).get("valid", {})
        summary = ", ".join(
            f"{key} {valid[key]:.4f}"
            for key in ("loss", "accuracy", "note_event_accuracy")
            if isinstance(valid.get(key), float)
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"run {run.pk} finished at step {run.step}"
                + (" (stopped early)" if run.stopped_early else "")
                + f"; validation {summary or 'n/a'}; {run.checkpoints.count()} checkpoints"
            )
        )
        for checkpoint in run.checkpoints.all():
            self.stdout.write(f"  checkpoint {checkpoint.pk}: step {checkpoint.step}")
