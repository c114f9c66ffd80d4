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


def study_without_audio(spec, *, clips_per_system: int = 10, styles: list[str] | None = None):
    """The study ``spec`` describes, open and marked built, with ``clips_per_system`` clips
    per system; clip k of a system has style k mod 3 unless the system names its style."""
    from django.utils import timezone

    from generation.models import Rendering, RenderProfile
    from studies.models import Block, Stimulus, Study, System

    study = Study.objects.create(
        slug=spec.slug, title=spec.title, instructions="", consent_text="",
        spec=spec.to_dict(), state="open", built_at=timezone.now(),
    )  # fmt: skip
    profile = RenderProfile.objects.create(name=f"{spec.slug}-bench", settings={})
    systems = []
    for system_spec in spec.systems:
        system = System.objects.create(
            study=study,
            name=system_spec.name,
            kind="human" if system_spec.human else "generated",
            style=system_spec.style or "x",
        )
        systems.append(system)
        for clip in range(clips_per_system):
            rendering = Rendering.objects.create(
                cache_key=f"{system.name}-{clip}", status="ok", source_label=system.name,
                profile=profile, midi_sha256="0", midi_file="", soundfont_path="",
                soundfont_sha256="", files={},
            )  # fmt: skip
            Stimulus.objects.create(
                study=study,
                system=system,
                rendering=rendering,
                style=system_spec.style or f"style-{clip % 3}",
            )
    for position, item in enumerate(spec.blocks):
        block = Block.objects.create(
            study=study,
            position=position,
            kind=item.kind,
            title=item.display_title,
            trials_per_participant=item.trials,
            ask_human=item.ask_human,
            pairs=[list(p) for p in spec.block_pairs(item)] if item.kind == "pairwise" else [],
            styles=(styles or ["style-0", "style-1", "style-2"]) if item.kind == "style" else [],
            instructed_checks=item.instructed_checks,
            repeats=item.repeats,
        )
        block.systems.set(systems)
    return study
