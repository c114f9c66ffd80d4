from django.core.management.base import BaseCommand, CommandError

from generation.management.commands._model_arguments import (
    add_model_arguments,
    dataset_named,
    model_configuration,
)
from generation.management.commands._progress import ProgressBar
from generation.services.training import cross_validate


class Command(BaseCommand):
    help = (
        "k-fold cross-validation loss of a configuration over a dataset's train and valid pieces "
        "(the test split stays unseen), as in the 6.867 note-tuple paper's table."
    )

    def add_arguments(self, parser):
        add_model_arguments(parser)
        parser.add_argument("--k", type=int, default=5, help="number of folds")

    def handle(self, *args, **options):
        if options["k"] < 2:
            raise CommandError("--k must be at least 2")
        if len(options["dataset"]) != 1:
            raise CommandError("crossval takes one --dataset")
        dataset = dataset_named(options["dataset"][0])
        try:
            result = cross_validate(
                dataset=dataset,
                k=options["k"],
                progress=ProgressBar(self.stderr._out) if options["verbosity"] else None,
                **model_configuration(options),
            )
        except (ValueError, TypeError) as error:
            raise CommandError(str(error)) from None
        for fold in result.folds:
            loss = fold.get("loss")
            self.stdout.write(
                f"fold {fold['fold']}: {fold['held_out_pieces']} held-out pieces, loss "
                + (f"{loss:.5f}" if loss is not None else "infinite")
            )
        if result.mean_loss is None:
            self.stdout.write(
                "CV loss: infinite (a held-out event had probability 0; use alpha > 0)"
            )
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"{result.k}-fold CV loss {result.mean_loss:.5f} (SD {result.sd_loss:.5f})"
                )
            )
