"""Note-tuple LSTM (Qin, Nichani & Kural, 6.867): tokens of (pitch, duration[, beat]).

token -> embedding -> LSTM layers (optionally with peephole connections) ->
dropout -> softmax over the vocabulary. A one-hot input times the first
weight matrix, as in the paper, is exactly an embedding lookup; the lookup
is just cheaper for vocabularies of hundreds of tuples.

Peephole LSTM (Gers & Schmidhuber 2000), diagonal peepholes as in
TensorFlow's LSTMCell(use_peepholes=True):

    i = sigmoid(W_i x + U_i h + p_i * c_prev + b_i)
    f = sigmoid(W_f x + U_f h + p_f * c_prev + b_f)
    c = f * c_prev + i * tanh(W_c x + U_c h + b_c)
    o = sigmoid(W_o x + U_o h + p_o * c + b_o)
    h = o * tanh(c)

PyTorch's fused nn.LSTM has no peepholes. Left to autograd, a Python loop
over time records ~15 graph nodes per step; `PeepholeLayerFunction` instead
computes the input projection for all steps in one matmul, runs the
recurrence without a graph, and back-propagates through time by hand (one
matmul and a few element-wise ops per step, the weight gradient in one
matmul at the end): about 1.5x faster than the autograd loop (see
benchmarks/train_throughput.py), still ~3x slower than the fused kernel. Checked against
autograd with torch.autograd.gradcheck in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from generation.zoo.base import TINY_TRAINING, SequenceFamily


class PeepholeLayerFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, projected, recurrent_weight, peepholes, h0, c0):
        # projected (T, B, 4H): W x + b for every step; recurrent_weight (4H, H); peepholes (3, H)
        steps, batch, four_h = projected.shape
        size = four_h // 4
        hs = projected.new_empty(steps + 1, batch, size)
        cs = projected.new_empty(steps + 1, batch, size)
        gates = projected.new_empty(
            steps, batch, four_h
        )  # i, f, tanh(candidate), o after activation
        hs[0], cs[0] = h0, c0
        weight_t = recurrent_weight.t()
        p_input, p_forget, p_output = peepholes[0], peepholes[1], peepholes[2]
        for t in range(steps):
            pre = torch.addmm(projected[t], hs[t], weight_t)  # (B, 4H)
            c_prev = cs[t]
            i = torch.sigmoid(torch.addcmul(pre[:, :size], p_input, c_prev))
            f = torch.sigmoid(torch.addcmul(pre[:, size : 2 * size], p_forget, c_prev))
            z = torch.tanh(pre[:, 2 * size : 3 * size])
            c = torch.addcmul(f * c_prev, i, z)
            o = torch.sigmoid(torch.addcmul(pre[:, 3 * size :], p_output, c))
            hs[t + 1] = o * torch.tanh(c)
            cs[t + 1] = c
            gates[t, :, :size], gates[t, :, size : 2 * size] = i, f
            gates[t, :, 2 * size : 3 * size], gates[t, :, 3 * size :] = z, o
        ctx.save_for_backward(recurrent_weight, peepholes, hs, cs, gates)
        return hs[1:], hs[-1].clone(), cs[-1].clone()

    @staticmethod
    def backward(ctx, grad_outputs, grad_h_last, grad_c_last):
        recurrent_weight, peepholes, hs, cs, gates = ctx.saved_tensors
        steps, batch, size = grad_outputs.shape
        p_input, p_forget, p_output = peepholes[0], peepholes[1], peepholes[2]
        grad_pre = grad_outputs.new_empty(steps, batch, 4 * size)
        dh = grad_h_last.clone() if grad_h_last is not None else grad_outputs.new_zeros(batch, size)
        dc = grad_c_last.clone() if grad_c_last is not None else grad_outputs.new_zeros(batch, size)
        for t in range(steps - 1, -1, -1):
            dh = dh + grad_outputs[t]
            i, f = gates[t, :, :size], gates[t, :, size : 2 * size]
            z, o = gates[t, :, 2 * size : 3 * size], gates[t, :, 3 * size :]
            c, c_prev = cs[t + 1], cs[t]
            tanh_c = torch.tanh(c)
            d_output_gate = dh * tanh_c * o * (1 - o)
            dc = dc + dh * o * (1 - tanh_c * tanh_c) + d_output_gate * p_output
            d_input_gate = dc * z * i * (1 - i)
            d_forget_gate = dc * c_prev * f * (1 - f)
            grad_pre[t, :, :size] = d_input_gate
            grad_pre[t, :, size : 2 * size] = d_forget_gate
            grad_pre[t, :, 2 * size : 3 * size] = dc * i * (1 - z * z)
            grad_pre[t, :, 3 * size :] = d_output_gate
            dc = dc * f + d_input_gate * p_input + d_forget_gate * p_forget
            dh = grad_pre[t] @ recurrent_weight
        flat_grad = grad_pre.reshape(steps * batch, 4 * size)
        grad_weight = flat_grad.t() @ hs[:-1].reshape(steps * batch, size)
        grad_peepholes = torch.stack(
            [
                (grad_pre[:, :, :size] * cs[:-1]).sum((0, 1)),
                (grad_pre[:, :, size : 2 * size] * cs[:-1]).sum((0, 1)),
                (grad_pre[:, :, 3 * size :] * cs[1:]).sum((0, 1)),
            ]
        )
        return grad_pre, grad_weight, grad_peepholes, dh, dc


class PeepholeLSTMLayer(nn.Module):
    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        bound = hidden_size**-0.5  # nn.LSTM's initialisation
        self.input_weight = nn.Parameter(
            torch.empty(4 * hidden_size, input_size).uniform_(-bound, bound)
        )
        self.recurrent_weight = nn.Parameter(
            torch.empty(4 * hidden_size, hidden_size).uniform_(-bound, bound)
        )
        self.bias = nn.Parameter(torch.empty(4 * hidden_size).uniform_(-bound, bound))
        self.peepholes = nn.Parameter(torch.empty(3, hidden_size).uniform_(-bound, bound))

    def forward(self, inputs: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor):
        # inputs (T, B, I) -> outputs (T, B, H), h (B, H), c (B, H)
        projected = torch.nn.functional.linear(inputs, self.input_weight, self.bias)  # (T, B, 4H)
        return PeepholeLayerFunction.apply(projected, self.recurrent_weight, self.peepholes, h0, c0)


class PeepholeLSTM(nn.Module):
    """Stacked peephole layers with nn.LSTM's calling convention (batch_first, (h, c) of (L, B, H))."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int, dropout: float = 0.0):
        super().__init__()
        self.layers = nn.ModuleList(
            PeepholeLSTMLayer(input_size if index == 0 else hidden_size, hidden_size)
            for index in range(num_layers)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, inputs: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]):
        h0, c0 = state  # (L, B, H) each
        x = inputs.transpose(0, 1)  # (T, B, I)
        hs, cs = [], []
        for index, layer in enumerate(self.layers):
            if index:
                x = self.dropout(x)
            x, h, c = layer(x, h0[index], c0[index])
            hs.append(h)
            cs.append(c)
        return x.transpose(0, 1), (torch.stack(hs), torch.stack(cs))


@dataclass
class NoteTupleLSTMConfig:
    num_classes: int
    embedding_size: int = 64
    hidden_size: int = 128
    num_layers: int = 2
    dropout: float = 0.0
    peephole: bool = False

    def __post_init__(self) -> None:
        if self.num_classes < 2 or self.hidden_size < 1 or self.num_layers < 1:
            raise ValueError(f"invalid note-tuple LSTM size: {self}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


class NoteTupleLSTM(nn.Module):
    def __init__(self, config: NoteTupleLSTMConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.num_classes, config.embedding_size)
        if config.peephole:
            self.lstm = PeepholeLSTM(
                config.embedding_size, config.hidden_size, config.num_layers, config.dropout
            )
        else:
            self.lstm = nn.LSTM(
                config.embedding_size,
                config.hidden_size,
                num_layers=config.num_layers,
                batch_first=True,
                dropout=config.dropout if config.num_layers > 1 else 0.0,
            )
        self.dropout = nn.Dropout(config.dropout)
        self.output = nn.Linear(config.hidden_size, config.num_classes)

    def initial_state(self, batch_size: int):
        zeros = torch.zeros(self.config.num_layers, batch_size, self.config.hidden_size)
        return (zeros, zeros.clone())

    def reset_rows(self, state, rows: torch.Tensor):
        keep = (~rows).to(state[0].dtype)[None, :, None]
        return (state[0] * keep, state[1] * keep)

    def forward(self, tokens: torch.Tensor, state=None):
        if state is None:
            state = self.initial_state(tokens.shape[0])
        outputs, state = self.lstm(self.embedding(tokens), state)  # (B, T, H)
        return self.output(self.dropout(outputs)), state  # (B, T, V)


class NoteTupleLSTMFamily(SequenceFamily):
    name = "note-tuple-lstm"
    title = "Note-tuple LSTM"
    description = "An LSTM over (pitch, duration[, beat]) tokens (Qin, Nichani & Kural, 6.867)."
    default_codec = "note-tuples"
    configs = {
        "basic": {"peephole": False},
        "peephole": {"peephole": True},
        "beat": {"with_beat": True},
    }
    presets = {
        "tiny": {
            "model": {"embedding_size": 8, "hidden_size": 16, "num_layers": 1},
            "training": TINY_TRAINING,
        },
        "small": {
            "model": {"embedding_size": 32, "hidden_size": 64, "num_layers": 1},
            "training": {
                "steps": 2000,
                "batch_size": 16,
                "window": 48,
                "learning_rate": 0.003,
                "eval_every": 100,
                "checkpoint_every": 500,
            },
        },
        # The paper's best row: peephole, no dropout, 1 layer of 64, window 96, step size 0.01.
        "paper": {
            "model": {"embedding_size": 64, "hidden_size": 64, "num_layers": 1, "peephole": True},
            "training": {
                "steps": 5000,
                "batch_size": 1,
                "window": 96,
                "learning_rate": 0.01,
                "eval_every": 250,
                "checkpoint_every": 1000,
            },
        },
    }
    model_class = NoteTupleLSTM
    config_class = NoteTupleLSTMConfig
