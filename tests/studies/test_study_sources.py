"""Where a study's clips come from: music generated elsewhere as a dataset, and a clip count
per system (500 generated pieces beside 30 human references)."""

import json
from collections import Counter

import pytest

from generation.services.corpora import import_midi_folder
from studies.design import SpecError, StudySpec
from studies.models import Study
from studies.services import build_study, create_study
from tests.conftest import run_command
from tests.factories import spec

pytestmark = pytest.mark.django_db


def _elsewhere(tmp_path):
    """model-a's MIDI files imported as a dataset, as music made by another lab arrives."""
    import_midi_folder(tmp_path / "model-a", name="elsewhere", workers=1)


def test_a_dataset_of_machine_made_pieces_is_a_generated_system(material, tmp_path, capsys):
    _elsewhere(tmp_path)
    design = StudySpec.from_dict(
        {
            **spec([{"kind": "rating"}]).to_dict(),
            "systems": [
                {"name": "their-model", "dataset": "elsewhere", "style": "bach"},
                {"name": "human", "human": "fakes", "split": "all"},
            ],
        }
    )
    study = build_study(create_study(design))
    their = study.systems.get(name="their-model")
    assert their.kind == "generated" and their.dataset.name == "elsewhere"
    # Every piece of the dataset may be drawn (split "all" for a generated dataset).
    assert study.stimuli.filter(system=their, piece__dataset__name="elsewhere").count() == 2
    capsys.readouterr()
    run_command("report", study.slug, "--format", "json")
    systems = {s["name"]: s for s in json.loads(capsys.readouterr().out)["systems"]}
    assert systems["their-model"]["kind"] == "generated"
    assert systems["their-model"]["source"] == "elsewhere"


def test_each_system_can_have_its_own_clip_count(material, tmp_path):
    design = spec(
        [{"kind": "rating", "trials": 2}],
        systems=[
            {"name": "model-a", "sample_set": "model-a", "clips": 3},
            {"name": "model-b", "sample_set": "model-b"},
            {"name": "human", "human": "fakes", "split": "all", "clips": 1},
        ],
    )
    assert StudySpec.from_toml(design.to_toml()) == design
    study = build_study(create_study(design))
    counts = Counter(study.stimuli.values_list("system__name", flat=True))
    assert counts == {"model-a": 3, "model-b": 2, "human": 1}


def test_a_system_asking_more_clips_than_its_source_has_names_the_count(material):
    design = spec(
        [{"kind": "rating"}],
        clips_per_system=3,
        systems=[
            {"name": "model-a", "sample_set": "model-a"},
            {"name": "human", "human": "fakes", "split": "test"},
        ],
    )
    with pytest.raises(SpecError) as raised:
        create_study(design)
    message = str(raised.value)
    assert "human: dataset 'fakes' has" in message and "fewer than 3 clips" in message
    assert "clips = " in message and "model-a" not in message
    assert not Study.objects.exists()


@pytest.mark.parametrize(
    ("system", "message"),
    [
        ({"name": "x", "human": "fakes", "dataset": "fakes"}, "exactly one of"),
        ({"name": "x", "sample_set": "model-a", "split": "all"}, "only a dataset's pieces"),
        ({"name": "x", "sample_set": "model-a", "clips": 0}, "clips must be a whole number"),
        ({"name": "x", "sample_set": "model-a", "clips": "3"}, "clips must be a whole number"),
    ],
)
def test_a_bad_system_fails_naming_what_is_wrong(system, message):
    with pytest.raises(SpecError, match=message):
        spec([{"kind": "rating"}], systems=[system])
