"""Real material for study tests: js-fake chorales as human references and as two systems'
samples, rendered to short clips by FluidSynth."""

from pathlib import Path

from generation.services.corpora import import_midi_folder
from generation.services.sampling import import_samples
from studies.design import StudySpec
from studies.services import build_study, create_study, set_state
from tests.conftest import copy_midi

CLIP_SECONDS = 1.5


def import_material(js_fakes: Path, tmp_path: Path) -> None:
    import_midi_folder(js_fakes, name="fakes", style="bach", limit=6, workers=1)
    for system, first in (("model-a", 100), ("model-b", 200)):
        folder = tmp_path / system
        for number in range(first, first + 3):
            copy_midi(js_fakes / f"{number}.mid", folder, f"{number}.mid")
        import_samples(folder, system=system)


def spec(blocks: list[dict], **study) -> StudySpec:
    return StudySpec.from_dict(
        {
            "slug": "test-study",
            "title": "Test study",
            "clips_per_system": 2,
            "clip_seconds": CLIP_SECONDS,
            "systems": [
                {"name": "model-a", "sample_set": "model-a", "style": "bach"},
                {"name": "model-b", "sample_set": "model-b", "style": "palestrina"},
                {"name": "human", "human": "fakes", "split": "all", "style": "bach"},
            ],
            "blocks": blocks,
            **study,
        }
    )


def open_study(blocks: list[dict], **study):
    built = build_study(create_study(spec(blocks, **study)))
    return set_state(built, "open")


def take_path(slug: str = "test-study") -> str:
    """The participants' address of a study (its random key, not its slug)."""
    from studies.models import Study

    return Study.objects.get(slug=slug).participant_path()
