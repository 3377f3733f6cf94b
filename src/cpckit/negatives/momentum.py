"""A momentum (EMA) key encoder for the queue (MoCo, He et al. 2020)."""

from __future__ import annotations

import copy
from collections.abc import Mapping

import torch
from torch import Tensor, nn

from cpckit.model import encode_latents

__all__ = ["MomentumEncoder"]


class MomentumEncoder(nn.Module):
    """Slowly moving copies of the encoders that make the keys for the queue.

    After every optimizer step, :meth:`step` moves each parameter towards
    the online encoder's, ``theta_k = m * theta_k + (1 - m) * theta_q``, and
    copies its buffers (e.g. batch-norm statistics); :meth:`encode` then
    turns the step's batch into the latents that are enqueued. Positives
    and in-batch negatives still come from the online encoder. Its weights
    never receive gradients; they are saved in checkpoints with the rest of
    the objective.

    Args:
        encoders: modality -> online encoder (copied at construction).
        momentum: ``m`` in ``[0, 1)`` (MoCo: 0.999).
    """

    def __init__(
        self, encoders: Mapping[str, nn.Module] | nn.ModuleDict, momentum: float = 0.999
    ) -> None:
        super().__init__()
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum = {momentum} must be in [0, 1)")
        self.momentum = momentum
        self.encoders = nn.ModuleDict({m: copy.deepcopy(e) for m, e in encoders.items()})
        self.encoders.requires_grad_(False)

    @torch.no_grad()
    def step(self, online: Mapping[str, nn.Module] | nn.ModuleDict) -> None:
        """``theta_k <- m * theta_k + (1 - m) * theta_q`` for every parameter; copy buffers."""
        m = self.momentum
        for name, key_enc in self.encoders.items():
            if name not in online:
                raise ValueError(f"momentum encoder: no online encoder for modality {name!r}")
            src = online[name]
            params_k = list(key_enc.parameters())
            params_q = list(src.parameters())
            if len(params_k) != len(params_q):
                raise ValueError(f"momentum encoder for {name!r} does not match the online encoder")
            for p_k, p_q in zip(params_k, params_q):
                p_k.mul_(m).add_(p_q.detach(), alpha=1.0 - m)
            for b_k, b_q in zip(key_enc.buffers(), src.buffers()):
                b_k.copy_(b_q)

    @torch.no_grad()
    def encode(
        self, modality: str, x: Tensor, lengths: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """Key latents ``(B, L, D)`` and their validity ``(B, L)`` (None when all valid)."""
        return encode_latents(self.encoders[modality], x, lengths)

    def extra_repr(self) -> str:
        return f"momentum={self.momentum}"
