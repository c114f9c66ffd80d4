"""Shared set-up for the study benchmarks: a throwaway database, and a study whose clips
are rows only (neither assignment nor reports read audio, so nothing is rendered)."""

import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def setup_django() -> None:
    os.environ["EARSHOT_DATA_DIR"] = tempfile.mkdtemp(prefix="earshot-bench-")
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def large_study_spec():
    """The reports' benchmark study: four blocks (rating with "could a human have composed
    this?" 20 trials, Turing 10, pairwise 5, style 5: 40 answers per listener) over six
    systems, two of them human references, in two styles."""
    from studies.design import StudySpec

    names = ["model-a", "model-b", "model-c", "markov", "human-1", "human-2"]
    return StudySpec.from_dict(
        {
            "slug": "bench",
            "title": "Bench",
            "systems": [
                {"name": n, "human": "unused", "style": f"style-{k % 2}"}
                if n.startswith("human")
                else {"name": n, "sample_set": "unused", "style": f"style-{k % 2}"}
                for k, n in enumerate(names)
            ],
            "blocks": [
                {"kind": "rating", "trials": 20, "ask_human": True},
                {"kind": "turing", "trials": 10},
                {"kind": "pairwise", "trials": 5},
                {"kind": "style", "trials": 5},
            ],
        }
    )


def study_without_audio(spec, *, clips_per_system: int = 10, clips: int | None = None):
    """The study ``spec`` describes (made by services.create_study_rows), open and marked
    built, with ``clips_per_system`` clips per system (or ``clips`` in all, spread as evenly
    as the systems allow) whose rows stand in for audio; a clip has its system's style, or
    style k mod 3 for clip k of a system without one."""
    from django.utils import timezone

    from generation.models import Rendering, RenderProfile
    from studies.models import Stimulus
    from studies.services import create_study_rows

    study = create_study_rows(spec)
    study.state, study.built_at = "open", timezone.now()
    study.save(update_fields=["state", "built_at"])
    profile = RenderProfile.objects.create(name=f"{spec.slug}-bench", settings={})
    systems = list(study.systems.order_by("pk"))
    for i, system in enumerate(systems):
        count = clips_per_system
        if clips is not None:
            count = clips // len(systems) + (i < clips % len(systems))
        for clip in range(count):
            rendering = Rendering.objects.create(
                cache_key=f"{system.name}-{clip}", status="ok", source_label=system.name,
                profile=profile, midi_sha256="0", midi_file="", soundfont_path="",
                soundfont_sha256="", files={},
            )  # fmt: skip
            Stimulus.objects.create(
                study=study,
                system=system,
                rendering=rendering,
                style=system.style or f"style-{clip % 3}",
            )
    return study
