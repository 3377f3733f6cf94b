"""Autoregressive context models: z (B, L, D) -> c (B, L, C), causal in time."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from cpckit.kernels.fastpath import use_fast_path
from cpckit.kernels.gru import gru_layer

__all__ = ["CONTEXT_MODELS", "CausalTransformer", "GRUContext", "LSTMContext", "build_context"]


class GRUContext(nn.Module):
    """GRU summary of the latents so far (the CPC paper's g_ar).

    The parameters are those of ``nn.GRU`` (``self.rnn``), and on GPUs and
    under autocast that module runs. On CPU each layer runs as
    :func:`~cpckit.kernels.gru.gru_layer`: the same equations with the input
    projections of all steps in one matrix product and a backward pass that
    forms the weight gradients in one matrix product each, instead of one
    small product per time step.

    Shape:
        z: ``(B, L, D)`` -> c: ``(B, L, C)``
    """

    def __init__(self, *, z_dim: int, c_dim: int, layers: int = 1) -> None:
        super().__init__()
        self.rnn = nn.GRU(z_dim, c_dim, num_layers=layers, batch_first=True)
        self.c_dim = c_dim

    def forward(self, z: Tensor) -> Tensor:
        if not use_fast_path(z) or z.dim() != 3:
            c, _ = self.rnn(z)
            return c
        h = z
        for i in range(self.rnn.num_layers):
            h = gru_layer(
                h,
                getattr(self.rnn, f"weight_ih_l{i}"),
                getattr(self.rnn, f"weight_hh_l{i}"),
                getattr(self.rnn, f"bias_ih_l{i}"),
                getattr(self.rnn, f"bias_hh_l{i}"),
            )
        return h


class LSTMContext(nn.Module):
    """LSTM context model.

    Shape:
        z: ``(B, L, D)`` -> c: ``(B, L, C)``
    """

    def __init__(self, *, z_dim: int, c_dim: int, layers: int = 1) -> None:
        super().__init__()
        self.rnn = nn.LSTM(z_dim, c_dim, num_layers=layers, batch_first=True)
        self.c_dim = c_dim

    def forward(self, z: Tensor) -> Tensor:
        c, _ = self.rnn(z)
        return c


def sinusoidal_positions(length: int, dim: int) -> Tensor:
    """``(length, dim)`` sinusoidal position encodings (Vaswani et al. 2017)."""
    pos = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    div = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    pe = torch.zeros(length, dim)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)[:, : dim // 2]
    return pe


class CausalTransformer(nn.Module):
    """Transformer encoder with a causal mask: step t attends to steps <= t.

    Args:
        z_dim: input dimension; projected to ``c_dim``.
        c_dim: model and output dimension (divisible by ``heads``).
        layers, heads, ff_dim, dropout: the usual Transformer sizes.
        positional: ``"sinusoidal"`` or ``"learned"`` (up to ``max_len`` steps).

    Shape:
        z: ``(B, L, D)`` -> c: ``(B, L, C)``
    """

    def __init__(
        self,
        *,
        z_dim: int,
        c_dim: int,
        layers: int = 2,
        heads: int = 4,
        ff_dim: int = 512,
        dropout: float = 0.0,
        positional: str = "sinusoidal",
        max_len: int = 4096,
    ) -> None:
        super().__init__()
        if c_dim % heads:
            raise ValueError(f"c_dim = {c_dim} must be divisible by heads = {heads}")
        if positional not in ("sinusoidal", "learned"):
            raise ValueError(f"positional = {positional!r}: expected 'sinusoidal' or 'learned'")
        self.inp = nn.Linear(z_dim, c_dim)
        self.positional = positional
        self.max_len = max_len
        if positional == "learned":
            self.pos = nn.Parameter(torch.zeros(max_len, c_dim))
            nn.init.normal_(self.pos, std=0.02)
        layer = nn.TransformerEncoderLayer(
            c_dim, heads, ff_dim, dropout, batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(c_dim)
        self.c_dim = c_dim

    def forward(self, z: Tensor) -> Tensor:
        length = z.shape[1]
        h = self.inp(z)
        if self.positional == "learned":
            if length > self.max_len:
                raise ValueError(
                    f"sequence of {length} steps is longer than max_len = {self.max_len}"
                )
            h = h + self.pos[:length]
        else:
            h = h + sinusoidal_positions(length, h.shape[-1]).to(h)
        mask = nn.Transformer.generate_square_subsequent_mask(
            length, device=z.device, dtype=h.dtype
        )
        return self.norm(self.blocks(h, mask=mask, is_causal=True))


CONTEXT_MODELS: dict[str, type[nn.Module]] = {
    "gru": GRUContext,
    "lstm": LSTMContext,
    "transformer": CausalTransformer,
}


def build_context(
    kind: str,
    *,
    z_dim: int,
    c_dim: int,
    layers: int = 1,
    heads: int = 4,
    ff_dim: int = 512,
    dropout: float = 0.0,
    positional: str = "sinusoidal",
    max_len: int = 4096,
) -> nn.Module:
    """Context model by name (``gru``, ``lstm``, ``transformer``)."""
    if kind not in CONTEXT_MODELS:
        raise ValueError(
            f"context model {kind!r} is unknown: expected one of {sorted(CONTEXT_MODELS)}"
        )
    if kind == "transformer":
        return CausalTransformer(
            z_dim=z_dim,
            c_dim=c_dim,
            layers=layers,
            heads=heads,
            ff_dim=ff_dim,
            dropout=dropout,
            positional=positional,
            max_len=max_len,
        )
    return CONTEXT_MODELS[kind](z_dim=z_dim, c_dim=c_dim, layers=layers)
