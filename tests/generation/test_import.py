"""Importing corpora and MIDI folders: rows in the database, the parse cache, and bad files."""

import pretty_midi
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from generation.models import Dataset, Piece
from generation.music.parsing import parse_music21_file
from generation.services import corpora as services
from tests.conftest import copy_midi


def write_midi(path, notes, tempo=120.0):
    midi = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    piano = pretty_midi.Instrument(program=0)
    piano.notes.extend(pretty_midi.Note(velocity=80, pitch=p, start=s, end=e) for p, s, e in notes)
    midi.instruments.append(piano)
    midi.write(str(path))
    return path


@pytest.fixture
def broken_folder(tmp_path, js_fakes):
    folder = tmp_path / "incoming"
    folder.mkdir()
    copy_midi(js_fakes / "0.mid", folder, "good.mid")
    (folder / "empty.mid").write_bytes(b"")
    (folder / "garbage.mid").write_bytes(b"this is not a MIDI file at all" * 10)
    (folder / "truncated.mid").write_bytes((js_fakes / "1.mid").read_bytes()[:60])
    write_midi(folder / "silent.mid", [])
    write_midi(folder / "out-of-range.mid", [(5, 0, 1), (120, 1, 2)])
    write_midi(folder / "absurd-tempo.mid", [(60, 0, 0.01)], tempo=3000)
    write_midi(folder / "three-hours.mid", [(60, 0, 3 * 3600)])
    (folder / "notes.txt").write_text("not a MIDI suffix: ignored")
    return folder


@pytest.mark.slow
@pytest.mark.django_db
def test_bach_chorales_import_into_pieces_with_metadata():
    report = services.import_corpus("bach-chorales", limit=3)
    assert report.pieces == 3
    dataset = Dataset.objects.get(name="bach-chorales")
    assert dataset.style == "bach" and dataset.pieces.count() == 3
    piece = dataset.pieces.get(identifier="bach/bwv269.mxl")
    assert piece.part_names == ["Soprano", "Alto", "Tenor", "Bass"]
    assert piece.time_signature == "3/4"
    assert piece.estimated_key == "G major" and piece.notated_key == "G major"
    assert piece.composer == "J.S. Bach"
    assert piece.load().n_notes == piece.n_notes > 100
    assert piece.split in {"train", "valid", "test"}


@pytest.mark.slow
@pytest.mark.django_db
def test_a_limited_import_parses_only_a_few_files_beyond_the_limit(settings):
    report = services.import_corpus("bach-chorales", limit=3, workers=2)
    assert report.pieces == 3
    parsed = list(settings.PARSE_CACHE_DIR.rglob("*.npz"))
    assert 3 <= len(parsed) <= 3 + 2 * 4  # the pool's look-ahead window, not the 350 chorales


@pytest.mark.slow
@pytest.mark.django_db
def test_second_import_reads_the_parse_cache_and_replaces_pieces():
    first = services.import_corpus("bach-chorales", limit=4)
    assert first.cache_hits == 0
    second = services.import_corpus("bach-chorales", limit=4)
    assert second.cache_hits == second.sources == 4
    assert Piece.objects.filter(dataset__name="bach-chorales").count() == 4


@pytest.mark.django_db
def test_byte_identical_midi_files_keep_their_own_titles(tmp_path, js_fakes):
    folder = tmp_path / "twins"
    folder.mkdir()
    copy_midi(js_fakes / "0.mid", folder, "first-twin.mid")
    copy_midi(js_fakes / "0.mid", folder, "second-twin.mid")
    report = services.import_midi_folder(folder, name="twins", workers=1)
    assert report.cache_hits == 1  # the second file's parse came from the cache ...
    titles = dict(Piece.objects.values_list("identifier", "title"))
    # ... but not its title, which is its file name.
    assert titles == {"first-twin.mid": "first-twin", "second-twin.mid": "second-twin"}


ABC_COLLECTION = """X:1
T:First Reel
M:4/4
L:1/8
K:D
DFAF dFAF|GBdB gBdB|]

X:2
T:Second Jig
M:6/8
L:1/8
K:G
GAB d2B|c2A B2G|]

X:7
T:Broken Tune
M:4/4
K:C
"""


def test_abc_collections_yield_one_piece_per_tune(tmp_path):
    collection = tmp_path / "tunes.abc"
    collection.write_text(ABC_COLLECTION)
    entries = parse_music21_file(collection, "tunes.abc")
    by_id = {entry.identifier: entry for entry in entries}
    assert list(by_id) == ["tunes.abc#1", "tunes.abc#2", "tunes.abc#7"]
    assert by_id["tunes.abc#1"].piece.title == "First Reel"
    assert by_id["tunes.abc#1"].piece.n_notes == 16
    assert by_id["tunes.abc#2"].piece.time_signature == (6, 8)
    assert by_id["tunes.abc#7"].rejection == "no notes"


@pytest.mark.slow
@pytest.mark.django_db
def test_fiddle_tunes_import_from_ryans_mammoth():
    report = services.import_corpus("ryans-mammoth", limit=3)
    assert report.pieces == 3
    pieces = Piece.objects.filter(dataset__name="ryans-mammoth")
    assert set(pieces.values_list("n_parts", flat=True)) == {1}
    assert all(piece.title and piece.n_notes > 20 for piece in pieces)


@pytest.mark.django_db
def test_import_midi_command_on_js_fakes(js_fakes, capsys):
    call_command(
        "import_midi", str(js_fakes), name="js-fakes", style="bach-fake", limit=12, verbosity=0
    )
    dataset = Dataset.objects.get(name="js-fakes")
    assert dataset.kind == "midi" and dataset.pieces.count() == 12
    assert set(dataset.pieces.values_list("style", flat=True)) == {"bach-fake"}
    assert dataset.pieces.get(identifier="0.mid").n_parts == 4
    assert "js-fakes: 12 pieces" in capsys.readouterr().out


@pytest.mark.django_db
def test_broken_files_are_skipped_with_a_reason_each(broken_folder):
    report = services.import_midi_folder(broken_folder, name="incoming")
    assert report.pieces == 1
    assert list(Piece.objects.values_list("identifier", flat=True)) == ["good.mid"]
    reasons = {item["source"]: item["reason"] for item in report.skipped}
    assert reasons["empty.mid"] == "empty file"
    assert reasons["garbage.mid"].startswith("not a readable MIDI file")
    assert reasons["truncated.mid"].startswith("not a readable MIDI file")
    assert reasons["silent.mid"] == "no notes"
    assert reasons["out-of-range.mid"] == "no notes in the piano range MIDI 21..108"
    assert "tempo 3000.0" in reasons["absurd-tempo.mid"]
    assert "180 minutes long" in reasons["three-hours.mid"]
    assert "notes.txt" not in reasons
    stored = Dataset.objects.get(name="incoming").import_report
    assert len(stored["skipped"]) == 7


@pytest.mark.django_db
def test_a_failing_import_leaves_the_previous_import_untouched(js_fakes, monkeypatch):
    services.import_midi_folder(js_fakes, name="js-fakes", limit=5)

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Piece.objects, "bulk_create", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        services.import_midi_folder(js_fakes, name="js-fakes", limit=8)
    assert Piece.objects.filter(dataset__name="js-fakes").count() == 5


@pytest.mark.django_db
def test_command_errors_are_clear(tmp_path):
    with pytest.raises(CommandError, match="is not a directory"):
        call_command("import_midi", str(tmp_path / "nope"), name="x", verbosity=0)
    with pytest.raises(CommandError, match="must be a slug"):
        call_command("import_midi", str(tmp_path), name="Not A Slug", verbosity=0)
    with pytest.raises(CommandError, match="--limit must be at least 1"):
        call_command("import_corpus", "bach-chorales", limit=0, verbosity=0)
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("import_corpus", "nonesuch")


@pytest.mark.django_db
def test_parallel_import_matches_sequential(js_fakes):
    sequential = services.import_midi_folder(js_fakes, name="seq", limit=20, workers=1)
    parallel = services.import_midi_folder(js_fakes, name="par", workers=2, limit=20)
    assert sequential.pieces == parallel.pieces == 20

    def summary(name):
        return list(
            Piece.objects.filter(dataset__name=name).values_list("identifier", "n_notes", "split")
        )

    assert summary("seq") == summary("par")
