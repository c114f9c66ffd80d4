"""The study's name stays with the experimenters; participants see a public title, and a
title that gives away what they compare is warned about."""

import io

import pytest
from django.core.management import call_command

from studies.design import names_in_title
from studies.models import Study
from tests.factories import builder_form, open_study, spec, take_path, take_to_trials

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("title", "named"),
    [
        ("Attention RNN: step 500 vs step 2000", ["attention-rnn-500", "attention-rnn-2000"]),
        ("Markov or machine learning?", ["markov"]),
        ("Which music was composed by a machine?", []),
        ("A listening study", []),
        ("Step 500 vs step 2000", []),  # numbers and generic words name nothing
        ("Model A against model B", []),
        ("Attention-RNN-500 against Markov", ["attention-rnn-500", "attention-rnn-2000", "markov"]),
    ],
)
def test_a_title_names_the_systems_it_gives_away(title, named):
    names = ["attention-rnn-500", "attention-rnn-2000", "markov", "human"]
    assert names_in_title(title, names) == named


def test_participants_see_the_public_title_and_never_the_name(material, client):
    study = open_study(
        [{"kind": "rating"}], title="model-a step 500 vs model-b", public_title="Short music"
    )
    consent = client.get(take_path(), follow=True).content.decode()
    participant = take_to_trials(client, study)
    trial = client.get(take_path(), follow=True).content.decode()
    assert participant.trials.exists() and 'data-testid="answers"' in trial
    for page in (consent, trial):
        assert "<h1>Short music</h1>" in page and "<title>Short music</title>" in page
        assert "step 500" not in page


def test_a_public_title_naming_a_system_is_warned_about_where_it_is_made(
    material, tmp_path, staff_client, django_capture_on_commit_callbacks
):
    path = tmp_path / "study.toml"
    path.write_text(spec([{"kind": "rating"}], title="model-a against model-b").to_toml())
    err = io.StringIO()
    call_command("create_study", "--from", str(path), stdout=io.StringIO(), stderr=err)
    warning = err.getvalue()
    assert "warning: The title participants see, “model-a against model-b”" in warning
    assert "names model-a, model-b" in warning
    study = Study.objects.get(slug="test-study")
    page = staff_client.get(study.get_absolute_url()).content.decode()
    assert 'data-topic="title"' in page and "names model-a, model-b" in page

    form = builder_form(title="model-a v model-b", public_title="Listening to model-a")
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post("/studies/new/", form, follow=True)
    page = response.content.decode()
    assert "“Listening to model-a”, names model-a" in page
    built = Study.objects.get(slug="built")
    assert (built.title, built.public_title) == ("model-a v model-b", "Listening to model-a")
    assert built.design.public_title == "Listening to model-a"
