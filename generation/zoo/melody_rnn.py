"""Melody RNN (Magenta; Popkes & Wenker 2017): an LSTM over one-hot melody events.

`basic`: one-hot events (38 classes) -> 2 LSTM layers x 128 -> softmax.
`attention`: the same, plus additive (Bahdanau) attention over the last n
LSTM outputs (n = 20 in the seed, 40 in Magenta's attention_rnn); the output
layer sees [h_t ; context_t].

Where this differs from Magenta's AttentionCellWrapper, and why: Magenta
also feeds the attention vector back into the next step's input, which forces
a Python loop over time. Here attention reads the LSTM's outputs, so training
runs the fused nn.LSTM over the whole window and the attention as one batched
operation. The window of past outputs is part of the recurrent state, so state
refeed and step-by-step sampling see exactly what training saw.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from generation.zoo.base import TINY_TRAINING, SequenceFamily


@dataclass
class MelodyRNNConfig:
    num_classes: int = 38
    hidden_size: int = 128
    num_layers: int = 2
    dropout: float = 0.0  # between LSTM layers and before the output layer (0.5 in the seed)
    attention_length: int = 0  # 0: basic; n > 0: attend to the last n outputs
    attention_size: int | None = None  # width of the additive attention; default hidden_size

    def __post_init__(self) -> None:
        if self.num_classes < 2 or self.hidden_size < 1 or self.num_layers < 1:
            raise ValueError(f"invalid Melody RNN size: {self}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.attention_length < 0:
            raise ValueError(f"attention_length must be >= 0, got {self.attention_length}")


class MelodyRNN(nn.Module):
    def __init__(self, config: MelodyRNNConfig) -> None:
        super().__init__()
        self.config = config
        size = config.hidden_size
        self.lstm = nn.LSTM(
            config.num_classes,
            size,
            num_layers=config.num_layers,
            batch_first=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(config.dropout)
        if config.attention_length:
            width = config.attention_size or size
            self.attention_keys = nn.Linear(size, width, bias=False)
            self.attention_query = nn.Linear(size, width)
            self.attention_score = nn.Linear(width, 1, bias=False)
            self.output = nn.Linear(2 * size, config.num_classes)
        else:
            self.output = nn.Linear(size, config.num_classes)

    def initial_state(self, batch_size: int):
        c = self.config
        zeros = torch.zeros(c.num_layers, batch_size, c.hidden_size)
        if not c.attention_length:
            return (zeros, zeros.clone())
        history = torch.zeros(batch_size, c.attention_length, c.hidden_size)
        valid = torch.zeros(batch_size, c.attention_length, dtype=torch.bool)
        return (zeros, zeros.clone(), history, valid)

    def reset_rows(self, state, rows: torch.Tensor):
        keep = (~rows).to(state[0].dtype)
        h, c = state[0] * keep[None, :, None], state[1] * keep[None, :, None]
        if not self.config.attention_length:
            return (h, c)
        return (h, c, state[2] * keep[:, None, None], state[3] & ~rows[:, None])

    def forward(self, tokens: torch.Tensor, state=None):
        batch = tokens.shape[0]  # tokens (B, T)
        if state is None:
            state = self.initial_state(batch)
        inputs = F.one_hot(tokens, self.config.num_classes).float()  # (B, T, V)
        outputs, (h, c) = self.lstm(inputs, (state[0], state[1]))  # (B, T, H)
        if not self.config.attention_length:
            return self.output(self.dropout(outputs)), (h, c)
        context, history, valid = self._attend(outputs, state[2], state[3])
        features = torch.cat([outputs, context], dim=-1)  # (B, T, 2H)
        return self.output(self.dropout(features)), (h, c, history, valid)

    def _attend(self, outputs: torch.Tensor, history: torch.Tensor, valid: torch.Tensor):
        """Each step t attends to the n outputs before it (from this window or the carried history)."""
        n = self.config.attention_length
        batch, length, _ = outputs.shape
        memory = torch.cat([history, outputs], dim=1)  # (B, n+T, H)
        memory_valid = torch.cat(
            [valid, torch.ones(batch, length, dtype=torch.bool, device=valid.device)], dim=1
        )  # (B, n+T)
        keys = self.attention_keys(memory)  # (B, n+T, A)
        query = self.attention_query(outputs)  # (B, T, A)
        # Window t covers memory positions t .. t+n-1, i.e. the n outputs before step t.
        key_windows = keys.unfold(1, n, 1)[:, :length]  # (B, T, A, n)
        scores = self.attention_score(
            torch.tanh(key_windows + query.unsqueeze(-1)).transpose(-1, -2)
        ).squeeze(-1)  # (B, T, n)
        window_valid = memory_valid.unfold(1, n, 1)[:, :length]  # (B, T, n)
        scores = scores.masked_fill(~window_valid, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        weights = torch.where(
            window_valid.any(-1, keepdim=True), weights, torch.zeros_like(weights)
        )
        value_windows = memory.unfold(1, n, 1)[:, :length]  # (B, T, H, n)
        context = torch.einsum("btn,bthn->bth", weights, value_windows)  # (B, T, H)
        return context, memory[:, -n:], memory_valid[:, -n:]


class MelodyRNNFamily(SequenceFamily):
    name = "melody-rnn"
    title = "Melody RNN"
    description = "Magenta's Melody RNN on 38 melody events (Popkes & Wenker 2017)."
    configs = {
        "basic": {"attention_length": 0},
        "attention": {"attention_length": 40},  # Magenta's attention_rnn
        "attention-20": {"attention_length": 20},  # the seed's window
    }
    presets = {
        "tiny": {
            "model": {"hidden_size": 16, "num_layers": 2, "dropout": 0.0},
            "training": TINY_TRAINING,
        },
        "small": {
            "model": {"hidden_size": 64, "num_layers": 2, "dropout": 0.2},
            "training": {
                "steps": 2000,
                "batch_size": 16,
                "window": 64,
                "learning_rate": 0.003,
                "eval_every": 100,
                "checkpoint_every": 500,
            },
        },
        "paper": {
            "model": {"hidden_size": 128, "num_layers": 2, "dropout": 0.5},
            "training": {
                "steps": 6900,
                "batch_size": 128,
                "window": 64,
                "eval_every": 250,
                "checkpoint_every": 1000,
            },
        },
    }
    model_class = MelodyRNN
    config_class = MelodyRNNConfig
