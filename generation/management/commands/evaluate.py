from django.core.management.base import BaseCommand, CommandError

from generation.management.commands._model_arguments import add_device_argument
from generation.models import Checkpoint
from generation.music.splits import SPLITS
from generation.services.training import BENCHMARKS, benchmark_checkpoint, evaluate_checkpoint


class Command(BaseCommand):
    help = "Loss, perplexity and accuracy of checkpoints on a split of their dataset (test by default)."

    def add_arguments(self, parser):
        parser.add_argument("checkpoints", nargs="+", type=int, help="checkpoint ids")
        parser.add_argument("--split", choices=SPLITS, default="test")
        parser.add_argument(
            "--benchmark",
            choices=BENCHMARKS,
            help="jsb: the JSB Chorales test negative log-likelihood per quarter-note frame "
            "(88 keys; piano-roll models), instead of the checkpoint's own dataset",
        )
        add_device_argument(parser)

    def handle(self, *args, **options):
        for checkpoint_id in options["checkpoints"]:
            checkpoint = Checkpoint.objects.filter(pk=checkpoint_id).first()
            if checkpoint is None:
                raise CommandError(f"no checkpoint {checkpoint_id}")
            if options["benchmark"]:
                self.benchmark(checkpoint, options)
                continue
            try:
                metrics = evaluate_checkpoint(
                    checkpoint, options["split"], device=options["device"]
                )
            except (ValueError, FileNotFoundError) as error:
                raise CommandError(str(error)) from None
            shown = ", ".join(
                f"{key} {value:.4f}" if isinstance(value, float) else f"{key} {value}"
                for key, value in metrics.items()
            )
            self.stdout.write(f"checkpoint {checkpoint.pk} ({options['split']}): {shown}")

    def benchmark(self, checkpoint, options) -> None:
        try:
            score = benchmark_checkpoint(checkpoint, options["benchmark"], device=options["device"])
        except (ValueError, FileNotFoundError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"checkpoint {checkpoint.pk} on the JSB Chorales test split: "
            f"{score.nats_per_frame:.3f} nats per frame ({score.frames} frames, "
            f"{score.chorales} chorales){'; ' + score.note if score.note else ''}"
        )
