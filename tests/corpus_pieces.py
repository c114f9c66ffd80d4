"""Real pieces from music21's corpus and js-fakes, parsed once per test session."""

from functools import cache
from pathlib import Path

from generation.music.corpora import corpus_sources
from generation.music.parsing import parse_source, read_midi_file
from generation.music.scores import QuantizedPiece


@cache
def chorale(identifier: str = "bach/bwv269.mxl") -> QuantizedPiece:
    source = next(s for s in corpus_sources("bach-chorales") if s.identifier == identifier)
    entries, _ = parse_source(source.path, source.kind, source.identifier, None)
    return entries[0].piece


@cache
def fiddle_tune(identifier: str = "ryansMammoth/7thRegimentReel.abc") -> QuantizedPiece:
    source = next(s for s in corpus_sources("ryans-mammoth") if s.identifier == identifier)
    entries, _ = parse_source(source.path, source.kind, source.identifier, None)
    return entries[0].piece


def midi_piece(path: Path) -> QuantizedPiece:
    return read_midi_file(path)
