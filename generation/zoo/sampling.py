"""Batched, reproducible sampling from any token model. Plain Python and PyTorch: no Django.

All n samples advance together, one model call per event for the whole
batch, so 100 samples cost little more than one. Each sample draws its
random numbers from its own seed (seed + index) and picks tokens by inverse
CDF, so sample i is the same whether it was drawn alone or in a batch of 100
(up to float rounding in batched matrix products), and the same settings and
seed always give the same samples.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pretty_midi
import torch

from generation.zoo.devices import model_device


@dataclass(frozen=True)
class SamplingSettings:
    n: int = 10
    bars: float = 8.0
    temperature: float = 1.0
    top_k: int | None = None
    seed: int = 0
    program: int = 0  # General MIDI program of the output
    tempo_qpm: float = 120.0
    steps_per_bar: int = 16  # 4/4 in sixteenth-note steps
    primer_bars: float = 2.0  # bars taken from a primer piece, when there is one
    style: dict[str, float] | None = None  # a style mixture, for models that know styles
    adaptive_temperature: bool = True  # DeepJ's T x (1 + 0.1 x silent steps), polyphonic models

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")
        if self.bars <= 0:
            raise ValueError(f"bars must be > 0, got {self.bars}")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {self.top_k}")
        if not 0 <= self.program <= 127:
            raise ValueError(f"program must be a General MIDI number 0..127, got {self.program}")
        if not 20 <= self.tempo_qpm <= 400:
            raise ValueError(
                f"tempo must be 20..400 quarter notes per minute, got {self.tempo_qpm}"
            )

    @property
    def steps(self) -> int:
        return round(self.bars * self.steps_per_bar)

    def model_options(self) -> dict:
        """What only some generators take: a style mixture, the adaptive temperature switch."""
        options: dict = {"adaptive_temperature": self.adaptive_temperature}
        if self.style:
            options["style"] = dict(self.style)
        return options

    def to_dict(self) -> dict:
        """The model-specific options appear only when set away from their defaults, so that the
        settings of sets drawn before they existed (and the names hashed from them) still match."""
        data = asdict(self)
        if data["style"] is None:
            del data["style"]
        if data["adaptive_temperature"]:
            del data["adaptive_temperature"]
        return data


def _pick(
    logits: torch.Tensor,
    uniforms: np.ndarray,
    *,
    temperature: float,
    top_k: int | None,
    forbidden: torch.Tensor,
) -> np.ndarray:
    """One token per row from logits (N, V), by inverse CDF at the row's uniform number."""
    logits = logits.double().cpu().masked_fill(forbidden, float("-inf")) / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        threshold = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < threshold, float("-inf"))
    probabilities = torch.softmax(logits, dim=-1).numpy()
    cumulative = np.cumsum(probabilities, axis=-1)
    targets = uniforms[:, None] * cumulative[:, -1:]
    picks = (cumulative <= targets).sum(axis=-1)
    # Float rounding can push a pick past the last allowed token; step back to the nearest allowed one.
    picks = np.minimum(picks, probabilities.shape[-1] - 1)
    for row in np.flatnonzero(probabilities[np.arange(len(picks)), picks] == 0):
        picks[row] = int(np.flatnonzero(probabilities[row] > 0)[-1])
    return picks


@torch.no_grad()
def sample_tokens(
    model,
    *,
    n: int,
    steps: int,
    token_steps: np.ndarray,
    first_token_weights: np.ndarray,
    primer: np.ndarray | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int = 0,
    max_tokens: int | None = None,
    allowed: np.ndarray | None = None,
) -> list[np.ndarray]:
    """n token sequences, each continuing the primer until it spans `steps` more time steps.

    token_steps (V,): time steps each token advances. allowed (V,) bool: the tokens that
    may be drawn; by default those advancing time (so never padding or unknown tokens).
    max_tokens: where a sample stops even short of `steps`. first_token_weights (V,): how often
    each token opened a training piece, used when there is no primer.
    Returned sequences include the primer.
    """
    if hasattr(model, "eval"):
        model.eval()
    device = model_device(model)  # the model runs there; every draw is made on the CPU
    token_steps = np.asarray(token_steps, dtype=np.int64)
    forbidden = torch.from_numpy(~(np.asarray(allowed) if allowed is not None else token_steps > 0))
    max_tokens = max_tokens or steps
    # One stream of uniforms per sample: its tokens do not depend on the batch around it.
    uniforms = np.stack(
        [np.random.default_rng([seed, index]).random(max_tokens + 1) for index in range(n)]
    )
    generated = np.zeros((n, max_tokens + 1), dtype=np.int64)
    elapsed = np.zeros(n, dtype=np.int64)
    lengths = np.zeros(n, dtype=np.int64)
    if primer is not None and len(primer):
        primer_batch = torch.from_numpy(np.tile(np.asarray(primer, dtype=np.int64), (n, 1)))
        primer_batch = primer_batch.to(device)
        logits, state = model(primer_batch, None)  # (n, P, V)
        next_logits = logits[:, -1]
    else:
        weights = np.asarray(first_token_weights, dtype=np.float64) + 1e-9
        next_logits = torch.from_numpy(np.log(weights)).expand(n, -1)
        state = None
    done = np.zeros(n, dtype=bool)
    for position in range(max_tokens + 1):
        picks = _pick(
            next_logits,
            uniforms[:, position],
            temperature=temperature,
            top_k=top_k,
            forbidden=forbidden,
        )
        active = ~done
        generated[active, position] = picks[active]
        lengths[active] += 1
        elapsed[active] += token_steps[picks[active]]
        done |= elapsed >= steps
        if done.all() or position == max_tokens:
            break
        logits, state = model(torch.from_numpy(picks[:, None]).to(device), state)  # (n, 1, V)
        next_logits = logits[:, 0]
    prefix = np.asarray(primer, dtype=np.int64) if primer is not None else np.zeros(0, np.int64)
    return [np.concatenate([prefix, generated[row, : lengths[row]]]) for row in range(n)]


def cut_at(midi: pretty_midi.PrettyMIDI, seconds: float) -> pretty_midi.PrettyMIDI:
    """Drop notes starting at or after `seconds` and shorten those that run past it."""
    for instrument in midi.instruments:
        kept = [note for note in instrument.notes if note.start < seconds - 1e-9]
        for note in kept:
            note.end = min(note.end, seconds)
        instrument.notes = kept
    return midi


def set_program(midi: pretty_midi.PrettyMIDI, program: int) -> pretty_midi.PrettyMIDI:
    for instrument in midi.instruments:
        if not instrument.is_drum:
            instrument.program = program
    return midi
