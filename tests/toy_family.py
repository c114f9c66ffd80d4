"""A toy external model family, registered the ways a researcher's own package would be.

A unigram over pitches: it draws quarter notes independently. It implements
the generator interface of generation/zoo/base.py and nothing of earshot's own.
"""

import json
import math
from pathlib import Path

import numpy as np
import pretty_midi


class UnigramGenerator:
    family = "toy-unigram"

    def __init__(self, counts=None, options=None):
        self.counts = np.ones(128) if counts is None else np.asarray(counts, dtype=float)
        self.options = dict(options or {})

    def _probabilities(self):
        return self.counts / self.counts.sum()

    def fit(self, train_pieces, valid_pieces, training, callbacks=()):
        for callback in callbacks:
            callback.on_start(1, {"parameters": 128})
        for step in (0, 1):
            if step == 1:
                self.counts = np.ones(128) + sum(
                    np.bincount(p.notes[:, 0], minlength=128) for p in train_pieces
                )
            metrics = {"valid": self.evaluate(valid_pieces)}
            for callback in callbacks:
                callback.on_evaluation(step, metrics)
                callback.on_checkpoint(step, metrics)
        for callback in callbacks:
            callback.on_end(1, False)

    def evaluate(self, pieces):
        pitches = np.concatenate([p.notes[:, 0] for p in pieces]) if pieces else np.zeros(0, int)
        if len(pitches) == 0:
            return {"n_events": 0}
        loss = float(-np.log(self._probabilities()[pitches]).mean())
        return {"loss": loss, "perplexity": math.exp(loss), "n_events": len(pitches)}

    def sample(
        self, n, steps, *, temperature=1.0, primer=None, seed=0, top_k=None, tempo_qpm=120.0
    ):
        rng = np.random.default_rng(seed)
        seconds_per_quarter = 60.0 / tempo_qpm
        midis = []
        for _ in range(n):
            midi = pretty_midi.PrettyMIDI(initial_tempo=tempo_qpm)
            instrument = pretty_midi.Instrument(program=0)
            for beat in range(max(1, steps // 4)):
                pitch = int(rng.choice(128, p=self._probabilities()))
                start = beat * seconds_per_quarter
                instrument.notes.append(
                    pretty_midi.Note(80, pitch, start, start + seconds_per_quarter)
                )
            midi.instruments.append(instrument)
            midis.append(midi)
        return midis

    def save(self, path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps({"counts": self.counts.tolist(), "options": self.options}))


class UnigramFamily:
    name = "toy-unigram"
    title = "Toy unigram (external)"
    configs = {"plain": {}}
    presets = {"tiny": {"model": {}, "training": {"steps": 1}}}

    def build(self, options, train_pieces):
        return UnigramGenerator(options=options)

    def load(self, path):
        data = json.loads(Path(path).read_text())
        return UnigramGenerator(data["counts"], data["options"])


family = UnigramFamily()
