from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from generation.management.commands._progress import ProgressBar
from studies.design import SpecError, StudySpec
from studies.models import Study
from studies.preflight import WARN, public_title_finding
from studies.selectors import experimenter_named
from studies.services import build_study, create_study, delete_unheard_study, set_state


class Command(BaseCommand):
    help = (
        "Create a listening study from a study.toml file, draw and render its clips, and print "
        "its participant link. Run again with the same file: nothing changes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="path", required=True, help="a study.toml file")
        parser.add_argument("--open", action="store_true", help="open it to participants")
        parser.add_argument(
            "--replace-if-unheard",
            action="store_true",
            help="replace a study of this slug with another design if no real participant has "
            "taken it (its previews and simulated listeners are deleted with it)",
        )
        parser.add_argument(
            "--base-url", default="http://127.0.0.1:8000", help="printed before /s/<key>/"
        )
        parser.add_argument(
            "--owner",
            help="the experimenter account that owns it (default: nobody, so every "
            "experimenter may see it)",
        )

    def handle(
        self, *args, path, open: bool, base_url: str, replace_if_unheard: bool, owner, **options
    ):
        user = None
        if owner:
            user = experimenter_named(owner)
            if user is None:
                raise CommandError(f"--owner {owner}: no experimenter account of that name")
        try:
            spec = StudySpec.from_toml(Path(path).read_text())
        except OSError as error:
            raise CommandError(f"cannot read {path}: {error}") from None
        except SpecError as error:
            raise CommandError(f"{path}: {error}") from None
        study = Study.objects.filter(slug=spec.slug, created_by=user).first()
        if study is not None and study.design != spec:
            if not replace_if_unheard:
                raise CommandError(
                    f"a study {spec.slug!r} exists with another design; change the slug to make "
                    "a new one"
                )
            try:
                delete_unheard_study(study)
                self.stdout.write(f"replaced study {spec.slug} (its design changed)")
                study = None
            except SpecError as error:
                # Answers are never deleted to follow a file: keep the study as it is.
                self.stderr.write(f"{error} Kept it with its earlier design.")
        try:
            if study is None:
                study = create_study(spec, user=user)
                self.stdout.write(f"created study {study.slug} (draft)")
                title = public_title_finding(study)
                if title.level == WARN:
                    self.stderr.write(self.style.WARNING(f"warning: {title.message}"))
            if not study.is_built:
                study = build_study(study, progress=ProgressBar(self.stderr._out))
            if open and study.state != Study.State.OPEN:
                study = set_state(study, Study.State.OPEN)
        except SpecError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"{study.title}: {study.stimuli.count()} clips, {study.blocks.count()} blocks, "
                f"{study.state}. Participant link: {study.participant_url(base_url)}"
            )
        )
