"""Predictions scored against candidates picked by index, a chunk at a time.

The kernel behind :func:`~cpckit.negatives.base.score_candidates` and
:func:`~cpckit.negatives.base.score_per_prediction`: no gathered
``(P, n, D)`` tensor is kept for the backward pass, which gathers again.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch import Tensor

from cpckit.kernels.fastpath import single_thread

__all__ = ["ScoreGathered", "score_gathered"]


def score_gathered(
    q: Tensor, bank: Tensor, idx: Tensor, rows: int, one_thread: bool = False
) -> Tensor:
    """Score the K predictions of each of P positions against that position's n candidates.

    ``out[p, k, j] = q[p, k] . bank[idx[p, j]]``, the candidates gathered
    ``rows`` positions at a time (:class:`ScoreGathered`). Gradients reach
    ``q`` and the rows of ``bank`` that were picked. With ``one_thread`` the
    forward loop runs on one thread, for cache-sized chunks of few
    predictions each.

    Shape:
        q: ``(P, K, D)``; bank: ``(M, D)``; idx: ``(P, n)`` -> ``(P, K, n)``
    """
    out: Tensor = ScoreGathered.apply(q, bank, idx, rows, one_thread)
    return out


class ScoreGathered(torch.autograd.Function):
    """``out[p, k, j] = q[p, k] . bank[idx[p, j]]``, gathering ``rows`` positions at a time.

    Keeps no gathered tensor for backward (it gathers again). With
    ``one_thread`` the forward loop runs on one thread
    (:func:`~cpckit.kernels.fastpath.single_thread`), for cache-sized chunks.
    """

    @staticmethod
    def forward(q: Tensor, bank: Tensor, idx: Tensor, rows: int, one_thread: bool) -> Tensor:  # type: ignore[override]
        p, k, d = q.shape
        n = idx.shape[1]
        out = q.new_empty(p, k, n)
        buf = bank.new_empty(min(rows, p) * n, d)
        with single_thread() if one_thread else contextlib.nullcontext():
            for s in range(0, p, rows):
                e = min(s + rows, p)
                cand = torch.index_select(bank, 0, idx[s:e].reshape(-1), out=buf[: (e - s) * n])
                torch.bmm(q[s:e], cand.view(e - s, n, d).transpose(1, 2), out=out[s:e])
        return out

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        q, bank, idx, rows, _ = inputs
        ctx.save_for_backward(q, bank, idx)
        ctx.rows = rows

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(  # type: ignore[override]
        ctx: Any, grad: Tensor
    ) -> tuple[Tensor | None, Tensor | None, None, None, None]:
        q, bank, idx = ctx.saved_tensors
        rows: int = ctx.rows
        p, k, d = q.shape
        n = idx.shape[1]
        grad = grad.contiguous()
        grad_q = torch.empty_like(q) if ctx.needs_input_grad[0] else None
        grad_bank = torch.zeros_like(bank) if ctx.needs_input_grad[1] else None
        buf = bank.new_empty(min(rows, p) * n, d)
        for s in range(0, p, rows):
            e = min(s + rows, p)
            flat = idx[s:e].reshape(-1)
            g = grad[s:e]  # (rows, K, n)
            if grad_q is not None:
                cand = torch.index_select(bank, 0, flat, out=buf[: (e - s) * n])
                torch.bmm(g, cand.view(e - s, n, d), out=grad_q[s:e])
            if grad_bank is not None:
                contrib = torch.bmm(
                    g.transpose(1, 2), q[s:e], out=buf[: (e - s) * n].view(e - s, n, d)
                )
                grad_bank.index_add_(0, flat, contrib.view(-1, d))
        return grad_q, grad_bank, None, None, None
