"""The arguments `train` and `crossval` share: which model, on which data, with which options."""

from django.core.management.base import CommandError

from generation.models import Dataset
from generation.services.training import parse_overrides


def add_model_arguments(parser, *, required: bool = True) -> None:
    parser.add_argument(
        "--model", required=required, help="model family, e.g. melody-rnn (see train --list)"
    )
    parser.add_argument("--config", help="variant, e.g. basic or attention")
    parser.add_argument(
        "--preset", help="size: tiny, small or paper (default: the family's own defaults)"
    )
    parser.add_argument(
        "--dataset",
        required=required,
        action="append",
        help="dataset name; train takes it more than once to learn several styles together",
    )
    parser.add_argument("--steps", type=int, help="training steps (overrides the preset)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any model or training option, e.g. --set dropout=0.5 --set state_refeed=true",
    )


def add_device_argument(parser) -> None:
    parser.add_argument(
        "--device",
        default="",
        help="auto (CUDA, then Apple MPS, then the CPU), cpu, cuda, cuda:N or mps; "
        "default: EARSHOT_DEVICE, else auto",
    )


def datasets_named(names: list[str] | str) -> list[Dataset]:
    return [dataset_named(name) for name in ([names] if isinstance(names, str) else names)]


def dataset_named(name: str) -> Dataset:
    dataset = Dataset.objects.filter(name=name).first()
    if dataset is None:
        raise CommandError(f"no dataset {name!r}; import it first")
    return dataset


def model_configuration(options: dict) -> dict:
    """Keyword arguments for create_run / cross_validate; ValueError on a malformed --set."""
    overrides = parse_overrides(options["set"])
    if options["steps"] is not None:
        overrides["steps"] = options["steps"]
    return {
        "family": options["model"],
        "config": options["config"],
        "preset": options["preset"],
        "overrides": overrides,
        "seed": options["seed"],
    }
