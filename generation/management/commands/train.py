from django.core.management.base import BaseCommand, CommandError

from generation.management.commands._model_arguments import (
    add_device_argument,
    add_model_arguments,
    datasets_named,
    model_configuration,
)
from generation.management.commands._progress import ProgressBar
from generation.models import TRANSFER_KINDS, Checkpoint, TrainingRun
from generation.services.training import (
    create_run,
    device_for,
    families,
    read_resume_point,
    train,
)


class Command(BaseCommand):
    help = (
        "Train a model family on a dataset's train split, evaluating on its valid split and "
        "keeping checkpoints. Example: train --model melody-rnn --config attention "
        "--dataset bach-chorales --steps 2000"
    )

    def add_arguments(self, parser):
        add_model_arguments(parser, required=False)
        parser.add_argument(
            "--list", action="store_true", help="list families, configs and presets"
        )
        parser.add_argument(
            "--from-checkpoint",
            type=int,
            metavar="PK",
            help="transfer learning: continue this checkpoint on the given dataset(s)",
        )
        add_device_argument(parser)
        parser.add_argument(
            "--resume",
            type=int,
            metavar="RUN",
            help="go on with a run whose process was killed, from its last checkpoint "
            "(it ends with the weights it would have had unbroken)",
        )
        parser.add_argument(
            "--transfer",
            choices=TRANSFER_KINDS,
            default="extended",
            help="with --from-checkpoint: keep every layer (extended) or re-initialise the "
            "output layer first (fine-tune); default extended",
        )

    def handle(self, *args, **options):
        if options["list"]:
            for family in families().values():
                self.stdout.write(
                    f"{family.name}: configs {', '.join(family.configs) or '-'}; "
                    f"presets {', '.join(family.presets) or '-'}"
                )
            return
        if options["resume"] is not None:
            run = self.run_to_resume(options["resume"])
            return self.train_and_report(run, options)
        if options["device"]:
            try:  # this process trains it: a device it lacks fails now, not after the data
                device_for(options["device"])
            except ValueError as error:
                raise CommandError(str(error)) from None
        parent = None
        if options["from_checkpoint"] is not None:
            parent = Checkpoint.objects.filter(pk=options["from_checkpoint"]).first()
            if parent is None:
                raise CommandError(f"no checkpoint {options['from_checkpoint']}")
            options["model"] = options["model"] or parent.family
        if not options["model"] or not options["dataset"]:
            raise CommandError("--model and --dataset are required (or --list)")
        first, *more = datasets_named(options["dataset"])
        transfer = options["transfer"] if parent else ""
        try:
            run = create_run(
                dataset=first,
                extra_datasets=more,
                parent=parent,
                transfer=transfer,
                device=options["device"],
                **model_configuration(options),
            )
        except (ValueError, TypeError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"training run {run.pk}: {run.label}, {run.total_steps} steps")
        self.train_and_report(run, options)

    def run_to_resume(self, pk: int) -> TrainingRun:
        run = TrainingRun.objects.filter(pk=pk).select_related("dataset").first()
        if run is None:
            raise CommandError(f"no training run {pk}")
        if run.status == TrainingRun.Status.SUCCEEDED:
            raise CommandError(f"run {pk} has finished; nothing to resume")
        point = read_resume_point(run)
        where = f"step {point['step']}" if point else "the start (it had no checkpoint yet)"
        self.stdout.write(f"training run {run.pk}: {run.label}, going on from {where}")
        return run

    def train_and_report(self, run, options) -> None:
        progress = ProgressBar(self.stderr._out) if options["verbosity"] else None
        try:
            run = train(run, progress=progress)
        except Exception as error:
            raise CommandError(f"training run {run.pk} failed: {error}") from error
        valid = (run.latest_metrics or {}).get("valid", {})
        summary = ", ".join(
            f"{key} {valid[key]:.4f}"
            for key in ("loss", "accuracy", "note_event_accuracy", "play_f1", "frame_accuracy")
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
