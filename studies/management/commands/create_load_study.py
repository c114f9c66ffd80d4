"""A rehearsal study for load tests and fault drills, made from any folder of MIDI files.

    python manage.py create_load_study --midi-dir generation/data/js-fakes/midi --trials 20

Three systems (two "models" and a human reference, all drawn from the folder), one rating
block of `--trials` trials per participant, no screen and no checks, rendered and open.
Run it again: the existing study's link is printed and nothing changes.
"""

import shutil
import tempfile
from math import ceil
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from generation.services.corpora import import_midi_folder
from generation.services.sampling import import_samples
from studies.design import StudySpec
from studies.models import Study
from studies.services import build_study, create_study, set_state


class Command(BaseCommand):
    help = "Create (or find) an open rehearsal study for load tests; prints its participant path."

    def add_arguments(self, parser):
        parser.add_argument("--midi-dir", required=True, type=Path)
        parser.add_argument("--slug", default="load-rehearsal")
        parser.add_argument("--trials", type=int, default=20)
        parser.add_argument("--clip-seconds", type=float, default=8.0)
        parser.add_argument(
            "--answer-timing",
            choices=["refuse", "flag"],
            default="refuse",
            help="flag: answers sent before their clips could play are stored and flagged",
        )

    def handle(
        self, *args, midi_dir: Path, slug: str, trials: int, clip_seconds: float,
        answer_timing: str = "refuse", **_
    ):  # fmt: skip
        study = Study.objects.filter(slug=slug).first()
        if study is None:
            study = self._create(midi_dir, slug, trials, clip_seconds, answer_timing)
        self.stdout.write(study.participant_path())

    def _create(
        self, midi_dir: Path, slug: str, trials: int, clip_seconds: float, answer_timing: str
    ) -> Study:
        files = sorted(midi_dir.glob("*.mid"))
        per_system = ceil(trials / 3)
        if len(files) < 3 * per_system:
            raise CommandError(f"{midi_dir} needs at least {3 * per_system} .mid files")
        with tempfile.TemporaryDirectory() as scratch:
            for position, system in enumerate(("load-a", "load-b", "load-human")):
                folder = Path(scratch) / system
                folder.mkdir()
                for source in files[position * per_system : (position + 1) * per_system]:
                    shutil.copy(source, folder / source.name)
                if system == "load-human":
                    import_midi_folder(folder, name=system, workers=1)
                else:
                    import_samples(folder, system=system)
        spec = StudySpec.from_dict(
            {
                "slug": slug,
                "title": "Load rehearsal",
                "clips_per_system": per_system,
                "clip_seconds": clip_seconds,
                "answer_timing": answer_timing,
                "systems": [
                    {"name": "load-a", "sample_set": "load-a"},
                    {"name": "load-b", "sample_set": "load-b"},
                    {"name": "human", "human": "load-human", "split": "all"},
                ],
                "blocks": [{"kind": "rating", "trials": trials}],
            }
        )
        return set_state(build_study(create_study(spec)), Study.State.OPEN)
