"""Plain PyTorch references for the hand-written CPU kernels: conv1d, the GRU
equations one step at a time, materialised candidates."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cpckit.encoders.audio import ChannelNorm, ConvEncoder


def plain_encoder(enc: ConvEncoder, x: Tensor) -> Tensor:
    """conv1d in (B, C, L), the channel norm by its formula, ReLU, then the projection."""
    h = x
    modules = list(enc.convs)
    for i, (_, _, _, s, p, d) in enumerate(enc.rows):
        conv, norm = modules[3 * i], modules[3 * i + 1]
        assert isinstance(conv, nn.Conv1d)
        h = F.conv1d(h, conv.weight, conv.bias, stride=s, padding=p, dilation=d)
        if isinstance(norm, ChannelNorm):
            var, mean = torch.var_mean(h, dim=1, keepdim=True, unbiased=False)
            h = (h - mean) / torch.sqrt(var + norm.eps) * norm.weight + norm.bias
        elif isinstance(norm, nn.BatchNorm1d):
            h = norm(h)
        h = torch.relu(h)
    return enc.proj(h.transpose(1, 2))


def plain_gru(rnn: nn.GRU, z: Tensor) -> Tensor:
    """The GRU equations of the PyTorch docs, one time step at a time."""
    h_seq = z
    for layer in range(rnn.num_layers):
        w_ih = getattr(rnn, f"weight_ih_l{layer}")
        w_hh = getattr(rnn, f"weight_hh_l{layer}")
        b_ih = getattr(rnn, f"bias_ih_l{layer}")
        b_hh = getattr(rnn, f"bias_hh_l{layer}")
        h = z.new_zeros(z.shape[0], rnn.hidden_size)
        outs = []
        for t in range(h_seq.shape[1]):
            gi = h_seq[:, t] @ w_ih.t() + b_ih
            gh = h @ w_hh.t() + b_hh
            i_r, i_z, i_n = gi.chunk(3, dim=1)
            h_r, h_z, h_n = gh.chunk(3, dim=1)
            r = torch.sigmoid(i_r + h_r)
            u = torch.sigmoid(i_z + h_z)
            n = torch.tanh(i_n + r * h_n)
            h = (1 - u) * n + u * h
            outs.append(h)
        h_seq = torch.stack(outs, dim=1)
    return h_seq


def plain_scores(q: Tensor, bank: Tensor, idx: Tensor) -> Tensor:
    """Materialise every candidate, ``(B, T, n, D)``, and take the dot products."""
    return torch.einsum("btkd,btnd->btkn", q, bank[idx])
