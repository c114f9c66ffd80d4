"""Pages as a visitor and an experimenter see them; the database is checked after each request."""

import pytest
from django.test import Client
from django.urls import reverse

from generation.models import Dataset, Job, Piece
from generation.services import corpora as services


@pytest.fixture
def chorales(db):
    """Marked public, so a visitor who is not logged in sees it too."""
    services.import_corpus("bach-chorales", limit=3)
    Dataset.objects.filter(name="bach-chorales").update(is_public=True)
    return Dataset.objects.get(name="bach-chorales")


@pytest.mark.slow
def test_home_lists_datasets_with_piece_counts(client, chorales):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "J.S. Bach four-part chorales" in html
    assert '<span class="count" data-testid="piece-count">3</span>' in html


def test_home_without_datasets_says_how_to_import(staff_client, db):
    assert "import_corpus bach-chorales" in staff_client.get("/").content.decode()


def test_a_dataset_is_for_experimenters_until_marked_public(staff_client, js_fakes):
    client = Client()  # a visitor (staff_client is pytest-django's client, logged in)
    services.import_midi_folder(js_fakes, name="hidden-refs", limit=2, workers=1)
    piece = Piece.objects.first()
    urls = ["/datasets/hidden-refs/", piece.get_absolute_url()]
    assert all(client.get(url).status_code == 404 for url in urls)
    home = client.get("/").content.decode()
    assert "hidden-refs" not in home and "log in" in home
    assert all(staff_client.get(url).status_code == 200 for url in urls)
    assert client.post("/datasets/hidden-refs/visibility/", {"public": "yes"}).status_code == 302
    assert not Dataset.objects.get().is_public  # a visitor cannot publish it
    imported_at = Dataset.objects.get().imported_at
    response = staff_client.post("/datasets/hidden-refs/visibility/", {"public": "yes"})
    assert response.status_code == 302 and Dataset.objects.get().is_public
    assert Dataset.objects.get().imported_at == imported_at
    assert all(client.get(url).status_code == 200 for url in urls)
    assert "hidden-refs" in client.get("/").content.decode()
    assert (
        staff_client.post("/datasets/hidden-refs/visibility/", {"public": "x"}).status_code == 400
    )
    staff_client.post("/datasets/hidden-refs/visibility/", {"public": "no"})
    assert client.get(urls[1]).status_code == 404


@pytest.mark.slow
def test_dataset_page_lists_pieces_and_filters_by_split(client, chorales):
    response = client.get(reverse("generation:dataset", args=["bach-chorales"]))
    assert response.status_code == 200
    assert len(response.context["page"].object_list) == 3
    html = response.content.decode()
    # The description claims no count of its own (it said 371 where 350 were imported): the
    # page counts what was imported.
    assert "The Riemenschneider chorales bundled with music21" in html and "371" not in html
    assert '<dd data-testid="piece-count">3</dd>' in html
    split = chorales.pieces.first().split
    filtered = client.get(reverse("generation:dataset", args=["bach-chorales"]), {"split": split})
    assert all(p.split == split for p in filtered.context["page"].object_list)
    tampered = client.get(reverse("generation:dataset", args=["bach-chorales"]), {"split": "<x>"})
    assert len(tampered.context["page"].object_list) == 3


@pytest.mark.slow
def test_dataset_page_lists_pieces_in_natural_order_across_pages(staff_client, js_fakes, tmp_path):
    import re
    import shutil

    folder = tmp_path / "numbered"
    folder.mkdir()
    sources = sorted(js_fakes.rglob("*.mid"))
    numbers = ["101", "10", "2", "11", "1"]
    for number, source in zip(numbers, sources, strict=False):
        shutil.copy(source, folder / f"bwv{number}.mid")
    services.import_midi_folder(folder, name="numbered", workers=1)

    def titles(page):
        html = staff_client.get(f"/datasets/numbered/?page={page}").content.decode()
        return re.findall(r'<td><a href="/datasets/numbered/pieces/\d+/">([^<]+)</a>', html)

    with pytest.MonkeyPatch.context() as patch:
        from generation import selectors

        original = selectors.dataset_pieces_page
        patch.setattr(
            selectors,
            "dataset_pieces_page",
            lambda *a, **k: original(*a, **{**k, "per_page": 3}),
        )
        assert titles(1) + titles(2) == ["bwv1", "bwv2", "bwv10", "bwv11", "bwv101"]
        assert titles(1) == ["bwv1", "bwv2", "bwv10"]


def test_piece_page_draws_every_note(client, chorales):
    piece = chorales.pieces.get(identifier="bach/bwv269.mxl")
    response = client.get(piece.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 200
    assert "G major" in html and "3/4" in html
    roll = html[
        html.index('<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="piano roll') :
    ]
    roll = roll[: roll.index("</svg>")]
    assert roll.count("<rect ") == piece.n_notes  # the chorale fits in the drawn window
    # A pitch axis (octaves named, C4 = middle C), bar numbers, and a legend naming the parts.
    assert '<text x="-4"' in roll and ">C4</text>" in roll and 'class="bar-number">1</text>' in roll
    legend = html[html.index('data-testid="part-legend"') :].split("</ul>")[0]
    names = piece.load().part_names
    assert len(names) == 4 and all(f"</svg> {name}</li>" in legend for name in names)


@pytest.mark.slow
def test_unknown_dataset_or_piece_is_404(client, chorales):
    assert client.get("/datasets/nonesuch/").status_code == 404
    piece = chorales.pieces.first()
    assert client.get(f"/datasets/js-fakes/pieces/{piece.pk}/").status_code == 404


def test_import_page_needs_an_experimenter_login(client, db):
    response = client.post(reverse("generation:import-corpus"), {"corpus": "bach-chorales"})
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")
    assert not Job.objects.exists() and not Dataset.objects.exists()


def test_experimenter_imports_a_corpus_as_a_job(staff_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("generation:import-corpus"), {"corpus": "bach-chorales", "limit": "2"}
        )
    job = Job.objects.get()
    assert response["Location"] == f"{job.get_absolute_url()}?then=result"
    assert job.status == Job.Status.SUCCEEDED and job.finished_at is not None
    # The job had finished: its page goes straight on to the imported dataset.
    assert staff_client.get(response["Location"])["Location"] == "/datasets/bach-chorales/"
    assert Dataset.objects.get(name="bach-chorales").pieces.count() == 2
    status = staff_client.get(reverse("generation:job-status", args=[job.pk])).json()
    assert status["finished"] is True and status["percent"] == 100
    assert status["result_url"] == "/datasets/bach-chorales/"
    page = staff_client.get(job.get_absolute_url()).content.decode()
    assert "2 pieces imported from 2 files (0 from the parse cache)" in page


def test_tampered_import_form_is_refused_without_a_job(staff_client):
    response = staff_client.post(
        reverse("generation:import-corpus"), {"corpus": "../../etc", "limit": "-3"}
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Job.objects.exists()


def test_a_failed_job_shows_its_error(
    staff_client, monkeypatch, django_capture_on_commit_callbacks
):
    def explode(*args, **kwargs):
        raise RuntimeError("the corpus went missing")

    monkeypatch.setattr(services, "import_corpus", explode)
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(reverse("generation:import-corpus"), {"corpus": "essen"})
    job = Job.objects.get()
    assert job.status == Job.Status.FAILED
    page = staff_client.get(job.get_absolute_url()).content.decode()
    assert "RuntimeError: the corpus went missing" in page
    assert staff_client.get(reverse("generation:job-status", args=[job.pk])).json()["error"] == (
        "RuntimeError: the corpus went missing"
    )


def test_job_pages_are_for_experimenters_only(client, db):
    job = Job.objects.create(kind="import", title="Import x")
    assert client.get(job.get_absolute_url()).status_code == 302
    assert client.get(reverse("generation:job-status", args=[job.pk])).status_code == 302


def test_admin_lists_every_model(staff_client, django_user_model):
    django_user_model.objects.filter(username="experimenter").update(is_superuser=True)
    html = staff_client.get("/admin/").content.decode()
    for model in ("Datasets", "Pieces", "Jobs"):
        assert model in html
