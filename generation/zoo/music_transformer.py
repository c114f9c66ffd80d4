"""Music Transformer (Huang et al. 2018): a decoder-only Transformer with relative attention.

Over melody events (`melody` config, the Melody RNN's 38 classes) or, for polyphony, over
performance events (`performance` config: note-on, note-off, time-shift, velocity, after
Oore et al. 2018; generation/encodings/performance_events.py).

    tokens (B, L) -> embedding (B, L, D) -> n_layers x [pre-norm relative self-attention,
    pre-norm feed-forward] -> norm -> logits (B, L, V)

Relative attention: each head adds to its query-key logits the query's dot product with a
learned embedding of the distance back to the key (Shaw et al. 2018; Huang et al. 2018),
distances beyond `max_relative` sharing the last embedding, so any length can be scored:

    scores[i, j] = (q_i . k_j + q_i . E[min(i - j, R - 1)]) / sqrt(d_head),  j <= i

The relative term is gathered by distance rather than "skewed" as in Huang et al.: the
gather costs the same O(L^2) memory at these lengths, and it reads the same way for a
window with a key/value cache in front of it. PyTorch's scaled_dot_product_attention takes
the term (and the causal mask) as its additive mask. There are no absolute positions.

The zoo's calling convention (`logits, state = model(tokens, state)`) carries a key/value
cache as the state: sampling feeds one token at a time against the cache, and evaluation
carries it across windows. With `use_cache = False` the state is the token history and
every call runs the whole history again: the same logits (to float rounding), the same
samples for the same seed, only slower (benchmarks/transformer_sampling.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from generation.zoo.base import CODEC_OPTIONS, TINY_TRAINING, SequenceFamily


@dataclass
class MusicTransformerConfig:
    num_classes: int = 38
    d_model: int = 128
    n_layers: int = 3
    n_heads: int = 4
    d_ff: int = 512
    dropout: float = 0.1
    max_relative: int = 256  # distances at or beyond this share one embedding

    def __post_init__(self) -> None:
        if self.num_classes < 2 or self.n_layers < 1 or self.max_relative < 1:
            raise ValueError(f"invalid Music Transformer size: {self}")
        if self.d_model < 1 or self.n_heads < 1 or self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} must divide into {self.n_heads} heads")
        if self.d_ff < 1 or not 0 <= self.dropout < 1:
            raise ValueError(f"invalid Music Transformer size: {self}")


class RelativeSelfAttention(nn.Module):
    def __init__(self, config: MusicTransformerConfig) -> None:
        super().__init__()
        self.heads = config.n_heads
        self.d_head = config.d_model // config.n_heads
        self.max_relative = config.max_relative
        self.dropout = config.dropout
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.out = nn.Linear(config.d_model, config.d_model)
        # E (H, R, d_head): one embedding per head and distance back
        self.relative = nn.Parameter(torch.randn(self.heads, self.max_relative, self.d_head) * 0.02)

    def forward(self, x: torch.Tensor, offset: int, past=None):
        """x (B, L, D): the L positions after `offset` earlier ones (their keys and values in
        `past`, (B, H, offset, d_head) each) -> (B, L, D), and the keys and values so far."""
        batch, length, width = x.shape
        q, k, v = self.qkv(x).view(batch, length, 3, self.heads, self.d_head).unbind(2)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, H, L, d_head)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)  # (B, H, offset + L, d_head)
            v = torch.cat([past[1], v], dim=2)
        queries = torch.arange(offset, offset + length, device=x.device)
        keys = torch.arange(offset + length, device=x.device)
        distance = queries[:, None] - keys[None, :]  # (L, offset + L); < 0 lies ahead
        by_distance = torch.einsum("bhld,hrd->bhlr", q, self.relative)  # (B, H, L, R)
        index = distance.clamp(0, self.max_relative - 1).expand(batch, self.heads, -1, -1)
        relative = by_distance.gather(-1, index)  # (B, H, L, offset + L)
        mask = (relative / math.sqrt(self.d_head)).masked_fill(distance < 0, float("-inf"))
        attended = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask.to(q.dtype), dropout_p=self.dropout if self.training else 0.0
        )  # (B, H, L, d_head)
        attended = attended.transpose(1, 2).reshape(batch, length, width)
        return self.out(attended), (k, v)


class Block(nn.Module):
    def __init__(self, config: MusicTransformerConfig) -> None:
        super().__init__()
        self.attention_norm = nn.LayerNorm(config.d_model)
        self.attention = RelativeSelfAttention(config)
        self.feed_forward_norm = nn.LayerNorm(config.d_model)
        self.feed_forward = nn.Sequential(
            nn.Linear(config.d_model, config.d_ff),
            nn.GELU(),
            nn.Linear(config.d_ff, config.d_model),
        )
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, offset: int, past=None):
        attended, present = self.attention(self.attention_norm(x), offset, past)
        x = x + self.dropout(attended)
        x = x + self.dropout(self.feed_forward(self.feed_forward_norm(x)))
        return x, present


class MusicTransformer(nn.Module):
    """state: None (a fresh piece), ("cache", offset, [(k, v) per layer]) or, with
    use_cache off, ("tokens", history (B, offset))."""

    def __init__(self, config: MusicTransformerConfig) -> None:
        super().__init__()
        self.config = config
        self.use_cache = True
        self.embedding = nn.Embedding(config.num_classes, config.d_model)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.norm = nn.LayerNorm(config.d_model)
        self.head = nn.Linear(config.d_model, config.num_classes)

    def forward(self, tokens: torch.Tensor, state: Any = None):
        """tokens (B, L) int64 -> logits (B, L, V) for those positions, and the new state."""
        if not self.use_cache:
            history = tokens if state is None else torch.cat([state[1], tokens], dim=1)
            logits, _ = self._run(history, 0, None)
            return logits[:, -tokens.shape[1] :], ("tokens", history)
        offset, pasts = (0, None) if state is None else (state[1], state[2])
        logits, presents = self._run(tokens, offset, pasts)
        return logits, ("cache", offset + tokens.shape[1], presents)

    def _run(self, tokens: torch.Tensor, offset: int, pasts):
        x = self.dropout(self.embedding(tokens) * math.sqrt(self.config.d_model))  # (B, L, D)
        presents = []
        for index, block in enumerate(self.blocks):
            x, present = block(x, offset, None if pasts is None else pasts[index])
            presents.append(present)
        return self.head(self.norm(x)), presents

    def reset_rows(self, state, rows: torch.Tensor):
        raise ValueError(
            "state refeed carries a recurrent state between windows; the Music Transformer "
            "attends within its window: train it with state_refeed off"
        )

    def reset_head(self) -> None:
        self.head.reset_parameters()


class MusicTransformerFamily(SequenceFamily):
    name = "music-transformer"
    title = "Music Transformer"
    description = (
        "A decoder-only Transformer with relative attention (Huang et al. 2018), over melody "
        "events or over performance events for polyphony (Oore et al. 2018)."
    )
    configs = {
        "melody": {"encoding": "melody-events"},
        "performance": {"encoding": "performance-events"},
    }
    _training = {"learning_rate": 0.0005, "clip_norm": 1.0, "eval_batch_size": 8}
    presets = {
        "tiny": {
            "model": {"d_model": 16, "n_layers": 1, "n_heads": 2, "d_ff": 32, "dropout": 0.0},
            "training": {**TINY_TRAINING, **_training, "learning_rate": 0.003},
        },
        "small": {
            "model": {"d_model": 64, "n_layers": 2, "n_heads": 4, "d_ff": 256, "dropout": 0.1},
            "training": {
                **_training,
                "learning_rate": 0.001,
                "steps": 1000,
                "batch_size": 16,
                "window": 128,
                "eval_every": 100,
                "checkpoint_every": 500,
            },
        },
        "paper": {
            "model": {"d_model": 256, "n_layers": 6, "n_heads": 8, "d_ff": 1024, "dropout": 0.1},
            "training": {
                **_training,
                "steps": 20000,
                "batch_size": 32,
                "window": 256,
                "eval_every": 500,
                "checkpoint_every": 2000,
            },
        },
    }
    model_class = MusicTransformer
    config_class = MusicTransformerConfig

    def codec_name(self, options) -> str:
        encoding = options.get("encoding", self.default_codec)
        if encoding not in CODEC_OPTIONS:
            raise ValueError(
                f"encoding must be one of {', '.join(CODEC_OPTIONS)}, got {encoding!r}"
            )
        return encoding
