from django.core.management.base import BaseCommand, CommandError

from generation.management.commands._model_arguments import add_device_argument
from generation.models import Checkpoint
from generation.music.splits import SPLITS
from generation.services.training import evaluate_checkpoint


class Command(BaseCommand):
    help = "Loss, perplexity and accuracy of checkpoints on a split of their dataset (test by default)."

    def add_arguments(self, parser):
        parser.add_argument("checkpoints", nargs="+", type=int, help="checkpoint ids")
        parser.add_argument("--split", choices=SPLITS, default="test")
        add_device_argument(parser)

    def handle(self, *args, **options):
        for checkpoint_id in options["checkpoints"]:
            checkpoint = Checkpoint.objects.filter(pk=checkpoint_id).first()
            if checkpoint is None:
                raise CommandError(f"no checkpoint {checkpoint_id}")
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
