"""Where pieces come from: music21's bundled corpus by name, or any folder of MIDI files.

A source is one file; an ABC collection file (O'Neill's, Essen) holds many
tunes and so yields many pieces.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MIDI_SUFFIXES = (".mid", ".midi", ".kar")

# The JS Fake Chorales (Omar Peracha, CC BY 4.0; see its README there), kept in the
# repository: 500 four-part MIDI files nobody here wrote, for tests, benchmarks and the demo.
JSB_CHORALES = "jsb-chorales"  # the benchmark split: read from its own file, not parsed
JS_FAKES_MIDI = Path(__file__).resolve().parent.parent / "data" / "js-fakes" / "midi"


@dataclass(frozen=True)
class Source:
    identifier: str  # stable across machines: corpus-relative path, or folder-relative path
    path: Path
    kind: str  # "music21" or "midi"


@dataclass(frozen=True)
class CorpusSpec:
    name: str
    title: str
    style: str
    description: str
    corpus_directory: str  # below music21/corpus/, or "" for a custom lister
    suffixes: tuple[str, ...] = ()  # only files ending so; () takes every file


def _music21_corpus_root() -> Path:
    from music21 import corpus

    return Path(corpus.corpora.CoreCorpus().getPaths()[0]).parents[1]


def _bach_chorale_sources() -> list[Source]:
    from music21 import corpus
    from music21.corpus import chorales

    # The Riemenschneider numbering lists 371 chorales, a few of them twice under
    # one BWV number; each file is imported once so no chorale sits in two splits.
    names = dict.fromkeys(chorales.Iterator(returnType="filename"))
    root = _music21_corpus_root()
    sources = []
    for name in names:
        stem = Path(name).name
        # getWork matches prefixes (bwv245.3 also finds bwv245.37) and several
        # formats; take the exact name, MusicXML before Humdrum.
        candidates = corpus.getWork(name)
        candidates = candidates if isinstance(candidates, list) else [candidates]
        exact = sorted(
            (Path(c) for c in candidates if Path(c).stem == stem),
            key=lambda p: p.suffix != ".mxl",
        )
        if not exact and len(candidates) == 1:
            exact = [Path(candidates[0])]  # e.g. the list says bwv18.5-l, the file is bwv18.5-lz
        if exact:
            sources.append(Source(str(exact[0].relative_to(root)), exact[0], "music21"))
    return sources


def _directory_sources(directory: str, suffixes: tuple[str, ...] = ()) -> list[Source]:
    root = _music21_corpus_root()
    base = root / directory
    files = sorted(
        p
        for p in base.rglob("*")
        if p.is_file()
        and not p.name.startswith(".")
        and (not suffixes or p.suffix.lower() in suffixes)
    )
    return [Source(str(p.relative_to(root)), p, "music21") for p in files]


CORPORA: dict[str, CorpusSpec] = {
    spec.name: spec
    for spec in (
        CorpusSpec(
            "bach-chorales",
            "J.S. Bach four-part chorales",
            "bach",
            "The Riemenschneider chorales bundled with music21 (a chorale listed twice is imported "
            "once), SATB parts.",
            "",
        ),
        CorpusSpec(
            JSB_CHORALES,
            "JSB Chorales (the benchmark split)",
            "bach",
            "The 382 Bach chorales of Boulanger-Lewandowski et al. (2012) with their standard "
            "train / valid / test split (229 / 76 / 77), quarter-note frames, held notes merged; "
            "bundled in generation/data/jsb-chorales.",
            "",
        ),
        CorpusSpec(
            "oneills-1850",
            "O'Neill's Music of Ireland (1903): 1850 melodies",
            "irish",
            "Monophonic Irish fiddle tunes in ABC, bundled with music21.",
            "oneills1850",
        ),
        CorpusSpec(
            "ryans-mammoth",
            "Ryan's Mammoth Collection (1883)",
            "fiddle",
            "Monophonic fiddle tunes (reels, jigs, hornpipes) in ABC, bundled with music21.",
            "ryansMammoth",
        ),
        CorpusSpec(
            "essen",
            "Essen Folksong Collection (selection in music21)",
            "folk",
            "Monophonic European folk songs in ABC, bundled with music21; minutes to parse in full.",
            "essenFolksong",
        ),
        CorpusSpec(
            "monteverdi",
            "Monteverdi madrigals (Books 3-5)",
            "monteverdi",
            "Five-voice madrigals in MusicXML, bundled with music21 (the Roman-numeral analyses "
            "beside them are left out).",
            "monteverdi",
            (".mxl",),
        ),
        CorpusSpec(
            "palestrina",
            "Palestrina masses",
            "palestrina",
            "Renaissance mass movements in Humdrum, bundled with music21.",
            "palestrina",
            (".krn",),
        ),
    )
}


def corpus_sources(name: str) -> list[Source]:
    try:
        spec = CORPORA[name]
    except KeyError:
        known = ", ".join(sorted(CORPORA))
        raise ValueError(f"unknown corpus {name!r}; choose one of: {known}") from None
    if name == "bach-chorales":
        return _bach_chorale_sources()
    if name == JSB_CHORALES:
        raise ValueError(f"{name} comes as frames, not files: import it with import_corpus")
    return _directory_sources(spec.corpus_directory, spec.suffixes)


def midi_folder_sources(directory: Path) -> list[Source]:
    if not directory.is_dir():
        raise ValueError(f"{directory} is not a directory")
    files = sorted(
        p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in MIDI_SUFFIXES
    )
    # Numeric file names (0.mid, 1.mid, 10.mid) sort as numbers where they are numbers.
    files.sort(key=lambda p: (str(p.parent), _natural_key(p.stem)))
    return [Source(str(p.relative_to(directory)), p, "midi") for p in files]


def _natural_key(stem: str) -> tuple:
    return (0, int(stem), "") if stem.isdigit() else (1, 0, stem)
