from django.core.management.base import BaseCommand, CommandError

from studies.models import Study
from studies.services import StudyUnavailable, simulate_listeners
from studies.simulation import ListenerModel


def _effect(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    try:
        if not sep or not name:
            raise ValueError
        return name.strip(), float(value)
    except ValueError:
        raise CommandError(f"--effect takes SYSTEM=NUMBER, not {text!r}") from None


class Command(BaseCommand):
    help = (
        "Fill a built study with simulated listeners whose answers come from a stated model. "
        "They take the study like real participants (balanced assignment, checks, repeats) "
        "and so take their share of the assignment: simulate on a clone of a study you will "
        "run for real. Their answers are flagged simulated everywhere and left out of "
        "reports unless asked."
    )

    def add_arguments(self, parser):
        parser.add_argument("study", help="the study's slug")
        parser.add_argument("--listeners", type=int, required=True)
        parser.add_argument(
            "--top-up",
            action="store_true",
            help="add only as many as the study needs to have --listeners simulated ones",
        )
        parser.add_argument(
            "--effect",
            action="append",
            default=[],
            metavar="SYSTEM=NUMBER",
            help="a system's quality in noise-SD units (default 0; human references 1)",
        )
        parser.add_argument("--human-effect", type=float, default=1.0)
        parser.add_argument("--listener-sd", type=float, default=0.5)
        parser.add_argument("--clip-sd", type=float, default=0.3)
        parser.add_argument("--noise-sd", type=float, default=1.0)
        parser.add_argument(
            "--attentive", type=float, default=0.95, help="share who pass attention checks"
        )
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, study: str, listeners: int, effect: list[str], **options):
        found = Study.objects.filter(slug=study).first()
        if found is None:
            raise CommandError(f"no study {study!r}")
        if options["top_up"]:
            listeners -= found.participants.filter(is_simulated=True).count()
            if listeners <= 0:
                self.stdout.write(f"{found.slug} already has its simulated listeners")
                return
        effects = dict(_effect(text) for text in effect)
        unknown = set(effects) - set(found.systems.values_list("name", flat=True))
        if unknown:
            raise CommandError(f"the study has no system {', '.join(sorted(unknown))}")
        try:
            model = ListenerModel(
                system_effects=effects,
                human_effect=options["human_effect"],
                listener_sd=options["listener_sd"],
                clip_sd=options["clip_sd"],
                noise_sd=options["noise_sd"],
                attentive=options["attentive"],
                seed=options["seed"],
            )
            added = simulate_listeners(found, listeners, model)
        except (ValueError, StudyUnavailable) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"{added} simulated listeners added to {found.slug} ({model.describe()})")
