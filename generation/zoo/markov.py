"""Markov-chain baseline over tokens (Deep Jammer, section 8: P(y|x) = N(y,x) / N(x)).

Order k: the next token depends on the last k. Probabilities use add-alpha
smoothing over the longest context that was seen followed by something:

    P(y | c) = (N(c, y) + alpha) / (N(c) + alpha * V)

and a context never seen backs off to its shorter suffixes, down to the
unigram counts, so sampling never dead-ends. alpha = 0 with order 1 is the
seed's model exactly (then an unseen transition has probability 0 and the
validation loss can be infinite).

"Training" is counting. The chain answers the same call as the neural
models, `logits, state = chain(tokens, state)`, so the trainer's evaluator
and the sampler treat it like any other model.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch

from generation.zoo.base import SequenceFamily

Context = tuple[int, ...]


@dataclass
class MarkovConfig:
    num_classes: int
    order: int = 1
    alpha: float = 0.1

    def __post_init__(self) -> None:
        if self.order < 1:
            raise ValueError(f"order must be >= 1, got {self.order}")
        if self.alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {self.alpha}")


class MarkovChain:
    def __init__(self, config: MarkovConfig) -> None:
        self.config = config
        # counts[j][context of length j][next token] = N(context, next)
        self.counts: list[dict[Context, dict[int, int]]] = [
            defaultdict(lambda: defaultdict(int)) for _ in range(config.order + 1)
        ]
        self._cache: dict[Context, np.ndarray] = {}
        self.training = False

    # The trainer's evaluator switches modes; counting has none.
    def eval(self) -> MarkovChain:
        return self

    def train(self, mode: bool = True) -> MarkovChain:
        return self

    def fit(self, sequences) -> MarkovChain:
        k = self.config.order
        for sequence in sequences:
            tokens = [int(t) for t in sequence]
            for t in range(1, len(tokens)):
                for length in range(0, min(k, t) + 1):
                    context = tuple(tokens[t - length : t])
                    self.counts[length][context][tokens[t]] += 1
        self._cache.clear()
        return self

    @property
    def n_transitions(self) -> int:
        return sum(sum(nexts.values()) for nexts in self.counts[0].values())

    def distribution(self, context: Context) -> np.ndarray:
        """P(next | the last `order` tokens of context), backing off to shorter contexts."""
        context = tuple(context[-self.config.order :]) if self.config.order else ()
        cached = self._cache.get(context)
        if cached is not None:
            return cached
        size, alpha = self.config.num_classes, self.config.alpha
        for length in range(len(context), -1, -1):
            suffix = context[len(context) - length :]
            nexts = self.counts[length].get(suffix)
            if nexts:
                vector = np.full(size, alpha, dtype=np.float64)
                for token, count in nexts.items():
                    vector[token] += count
                total = vector.sum()
                break
        else:
            vector, total = np.ones(size, dtype=np.float64), float(size)  # nothing counted: uniform
        probabilities = vector / total
        self._cache[context] = probabilities
        return probabilities

    def __call__(self, tokens: torch.Tensor, state=None):
        """tokens (B, T) -> log-probabilities (B, T, V) of each next token; state: each row's last tokens."""
        k = self.config.order
        batch, length = tokens.shape
        histories = list(state) if state is not None else [()] * batch
        rows = tokens.tolist()
        out = np.empty((batch, length, self.config.num_classes), dtype=np.float64)
        with np.errstate(divide="ignore"):
            for b in range(batch):
                history = histories[b]
                for t, token in enumerate(rows[b]):
                    history = (*history, token)[-k:]
                    out[b, t] = np.log(self.distribution(history))
                histories[b] = history
        return torch.from_numpy(out), tuple(histories)

    def reset_rows(self, state, rows: torch.Tensor):
        return tuple(
            () if reset else history for history, reset in zip(state, rows.tolist(), strict=True)
        )

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Per order j, a (m, j + 2) int64 table of [context..., next, count] rows."""
        tables = {}
        for length, contexts in enumerate(self.counts):
            rows = [
                [*context, token, count]
                for context, nexts in contexts.items()
                for token, count in nexts.items()
            ]
            tables[f"order{length}"] = torch.tensor(rows, dtype=torch.int64).reshape(-1, length + 2)
        return tables

    def load_state_dict(self, tables: dict[str, torch.Tensor]) -> None:
        self.counts = [defaultdict(lambda: defaultdict(int)) for _ in range(self.config.order + 1)]
        for length in range(self.config.order + 1):
            for row in tables[f"order{length}"].tolist():
                self.counts[length][tuple(row[:length])][row[length]] = row[length + 1]
        self._cache.clear()


class MarkovFamily(SequenceFamily):
    name = "markov"
    title = "Markov chain"
    description = "Order-k counts with add-alpha smoothing and backoff (Deep Jammer's baseline)."
    configs = {
        "events": {"encoding": "melody-events"},
        "tuples": {"encoding": "note-tuples"},
    }
    presets = {
        "tiny": {"model": {"order": 1, "alpha": 0.1}, "training": {"steps": 1}},
        "small": {"model": {"order": 2, "alpha": 0.1}, "training": {"steps": 1}},
        # P(y|x) = N(y,x)/N(x), as in the seed
        "paper": {"model": {"order": 1, "alpha": 0.0}, "training": {"steps": 1}},
    }
    model_class = MarkovChain
    config_class = MarkovConfig

    def codec_name(self, options) -> str:
        encoding = options.get("encoding", "melody-events")
        if encoding not in ("melody-events", "note-tuples"):
            raise ValueError(f"encoding must be melody-events or note-tuples, got {encoding!r}")
        return encoding
