from django.core.management.base import BaseCommand, CommandError

from generation.management.commands._progress import ProgressBar
from generation.models import Dataset
from generation.training_services import cross_validate, parse_overrides


class Command(BaseCommand):
    help = (
        "k-fold cross-validation loss of a configuration over a dataset's train and valid pieces "
        "(the test split stays unseen), as in the 6.867 note-tuple paper's table."
    )

    def add_arguments(self, parser):
        parser.add_argument("--model", required=True)
        parser.add_argument("--config")
        parser.add_argument(
            "--preset", help="tiny, small or paper (default: the family's defaults)"
        )
        parser.add_argument("--dataset", required=True)
        parser.add_argument("--k", type=int, default=5)
        parser.add_argument("--steps", type=int)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")

    def handle(self, *args, **options):
        if options["k"] < 2:
            raise CommandError("--k must be at least 2")
        dataset = Dataset.objects.filter(name=options["dataset"]).first()
        if dataset is None:
            raise CommandError(f"no dataset {options['dataset']!r}; import it first")
        try:
            overrides = parse_overrides(options["set"])
            if options["steps"] is not None:
                overrides["steps"] = options["steps"]
            result = cross_validate(
                family=options["model"],
                dataset=dataset,
                k=options["k"],
                config=options["config"],
                preset=options["preset"],
                overrides=overrides,
                seed=options["seed"],
                progress=ProgressBar(self.stderr._out) if options["verbosity"] else None,
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
