"""InfoNCE as a pure function of positive and negative scores.

Samplers (:mod:`cpckit.negatives`) turn predictions into scores; this module
only turns scores into a loss, so every sampler and every similarity share
one loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["InfoNCEResult", "debiased_info_nce", "info_nce"]


@dataclass
class InfoNCEResult:
    """Loss and per-step statistics.

    Attributes:
        loss: scalar, the weighted mean over steps of the per-step mean loss.
        step_loss: ``(K,)`` mean loss of each prediction step.
        step_accuracy: ``(K,)`` fraction of predictions whose positive scores
            above every valid negative.
        n_valid: ``(K,)`` int64 number of valid predictions of each step. A
            step without any has loss and accuracy 0 (the mean over nothing
            is taken as 0, so evaluating a batch of very short clips works);
            a training step checks that the total is not 0
            (:func:`cpckit.training.guard.check_step`), because such
            a loss is a constant that trains nothing.
    """

    loss: Tensor
    step_loss: Tensor
    step_accuracy: Tensor
    n_valid: Tensor


def _reduce(
    row_loss: Tensor, correct: Tensor, valid: Tensor | None, step_weights: Tensor | None
) -> InfoNCEResult:
    k = row_loss.shape[-1]
    flat_loss = row_loss.reshape(-1, k)
    flat_correct = correct.reshape(-1, k).to(row_loss.dtype)
    if valid is None:
        step_loss = flat_loss.mean(0)
        step_acc = flat_correct.mean(0)
        n_valid = torch.full((k,), flat_loss.shape[0], dtype=torch.int64, device=row_loss.device)
    else:
        flat_valid = valid.reshape(-1, k)
        n_valid = flat_valid.sum(0, dtype=torch.int64)
        w = flat_valid.to(row_loss.dtype)
        count = n_valid.to(row_loss.dtype).clamp_min(1.0)
        step_loss = (flat_loss * w).sum(0) / count
        step_acc = (flat_correct * w).sum(0) / count
    if step_weights is None:
        loss = step_loss.mean()
    else:
        sw = step_weights.to(step_loss)
        loss = (step_loss * sw).sum() / sw.sum()
    return InfoNCEResult(loss, step_loss.detach(), step_acc.detach(), n_valid)


def info_nce(
    pos: Tensor,
    neg: Tensor,
    neg_mask: Tensor | None = None,
    valid: Tensor | None = None,
    step_weights: Tensor | None = None,
) -> InfoNCEResult:
    """InfoNCE (van den Oord et al. 2018, eq. 4) from scores.

    ``loss = -log(exp(s+) / (exp(s+) + sum_n exp(s-_n)))`` per prediction,
    averaged over valid predictions of each step, then over steps.

    Args:
        pos: positive scores.
        neg: negative scores, ``N`` per prediction.
        neg_mask: True where a negative counts; False entries (the positive
            itself, padding) are left out. Broadcastable to ``neg``.
        valid: True where the prediction's target is real (not padding).
        step_weights: ``(K,)`` weights over the prediction steps (default: mean).

    Shape:
        pos: ``(..., K)``; neg: ``(..., K, N)``; neg_mask: broadcastable to neg;
        valid: ``(..., K)``.
    """
    if neg_mask is not None:
        neg = neg.masked_fill(~neg_mask, -math.inf)
    neg_lse = torch.logsumexp(neg, dim=-1)
    row_loss = torch.logaddexp(pos, neg_lse) - pos
    correct = pos > neg.amax(dim=-1)
    return _reduce(row_loss, correct, valid, step_weights)


def debiased_info_nce(
    pos: Tensor,
    neg: Tensor,
    neg_mask: Tensor | None = None,
    valid: Tensor | None = None,
    step_weights: Tensor | None = None,
    *,
    tau_plus: float = 0.1,
    temperature: float = 0.1,
) -> InfoNCEResult:
    """Debiased InfoNCE (Chuang et al. 2020, "Debiased Contrastive Learning", eq. 6).

    With ``N`` negatives per prediction and scores ``s = cos / t``::

        g = max((sum_n exp(s-_n) - N tau+ exp(s+)) / (1 - tau+), N exp(-1/t))
        loss = -log(exp(s+) / (exp(s+) + g))

    Args:
        tau_plus: class prior, the probability that a negative shares the
            positive's class.
        temperature: ``t``; the bound ``N exp(-1/t)`` is the smallest value
            ``sum exp(s-)`` can take for cosine scores.

    Shape: as :func:`info_nce`.
    """
    if not 0 <= tau_plus < 1:
        raise ValueError(f"tau_plus = {tau_plus} must be in [0, 1)")
    if neg_mask is None:
        neg_mask = torch.ones_like(neg, dtype=torch.bool)
    neg_mask = neg_mask.expand_as(neg)
    n = neg_mask.sum(-1).to(pos.dtype)
    # Work with everything scaled by exp(-m), m the largest score, so nothing overflows.
    masked = neg.masked_fill(~neg_mask, -math.inf)
    m = torch.maximum(pos, masked.amax(dim=-1)).detach()
    pos_exp = torch.exp(pos - m)
    neg_exp = torch.exp(masked - m.unsqueeze(-1)).sum(-1)
    g = (neg_exp - n * tau_plus * pos_exp) / (1 - tau_plus)
    g = torch.maximum(g, n * torch.exp(-1.0 / temperature - m))
    row_loss = torch.log(pos_exp + g) - (pos - m)
    correct = pos > masked.amax(dim=-1)
    return _reduce(row_loss, correct, valid, step_weights)
