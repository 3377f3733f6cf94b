"""What samplers see and return, and the scoring primitives they share.

A sampler never builds a ``(B, T, K, N, D)`` tensor of negatives. Negatives
drawn from a bank (the batch's latents, a queue, the other modality) are
index sets ``(B, T, n)`` shared by the K predictions of one position, scored
with one batched matmul ``(B*T, K, D) x (B*T, D, n)``; the K different
positives among them are masked per step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

__all__ = [
    "NegativeQuery",
    "NegativeSampler",
    "NegativeScores",
    "exclude_positive",
    "positive_index",
    "score_all",
    "score_candidates",
]


@dataclass
class NegativeQuery:
    """The predictions of one modality and the latents they are scored against.

    Attributes:
        q: ``(B, T, K, D)`` predictions mapped by the similarity
            (L2-normalised for cosine).
        keys: ``(B, L, D)`` latents mapped by the similarity; the positive of
            prediction ``(b, t, k)`` is ``keys[b, t + k + 1]`` (k counted from 0).
        valid: ``(B, L)`` True for real (not padded) latent steps, or None.
        groups: ``(B,)`` group ids (e.g. speaker; -1 = none), or None.
        other_keys: ``(B2, L2, D)`` latents of the other modality, or None.
        other_valid: ``(B2, L2)`` validity of ``other_keys``, or None.
        scale: multiply dot products by this (``1/temperature`` for cosine).
        raw_keys: ``(B, L, D)`` latents before the similarity's map (for
            samplers that perturb latents), or None when equal to ``keys``.
    """

    q: Tensor
    keys: Tensor
    valid: Tensor | None = None
    groups: Tensor | None = None
    other_keys: Tensor | None = None
    other_valid: Tensor | None = None
    scale: float = 1.0
    raw_keys: Tensor | None = None

    @property
    def shape(self) -> tuple[int, int, int, int, int]:
        """``(B, T, K, L, D)``."""
        b, t, k, d = self.q.shape
        return b, t, k, self.keys.shape[1], d


@dataclass
class NegativeScores:
    """Scores of one sampler's negatives.

    Attributes:
        scores: ``(B, T, K, n)`` scaled similarity of each prediction with
            each of its negatives.
        mask: bool, broadcastable to ``scores``; True where the candidate
            counts as a negative (False: it is the positive, or padding).
    """

    scores: Tensor
    mask: Tensor


class NegativeSampler(nn.Module):
    """Base class: ``forward(query) -> NegativeScores``; ``update(query)`` after a step.

    Attributes:
        name: the name used in ``negatives.mode``.
        count: negatives it contributes to each prediction.
    """

    name = "base"

    def __init__(self, count: int) -> None:
        super().__init__()
        if count < 1:
            raise ValueError(f"{self.name}: count = {count} must be >= 1")
        self.count = count

    def forward(self, query: NegativeQuery) -> NegativeScores:  # pragma: no cover - abstract
        raise NotImplementedError

    def update(self, query: NegativeQuery) -> None:
        """Called once per training step after the loss (e.g. to enqueue keys)."""


def positive_index(batch: int, steps: int, k: int, length: int, device: torch.device) -> Tensor:
    """``(B, T, K)`` flat index ``b * L + t + k + 1`` of each prediction's positive."""
    b = torch.arange(batch, device=device).view(batch, 1, 1) * length
    t = torch.arange(steps, device=device).view(1, steps, 1)
    kk = torch.arange(1, k + 1, device=device).view(1, 1, k)
    return b + t + kk


def exclude_positive(idx: Tensor, pos: Tensor) -> Tensor:
    """Mask that removes each step's positive from an index set with one spare entry.

    Candidates are drawn as ``n + 1`` indices per position; for each step k
    the entry equal to its positive is masked out, or the spare last entry
    when the positive was not drawn, so every prediction keeps ``n``
    negatives (``n - 1`` only if the positive was drawn twice).

    Shape:
        idx: ``(B, T, n + 1)``; pos: ``(B, T, K)`` -> mask ``(B, T, K, n + 1)``
    """
    hit = idx.unsqueeze(2) == pos.unsqueeze(-1)
    mask = ~hit
    none_hit = ~hit.any(-1)
    mask[..., -1] &= ~none_hit
    return mask


def score_candidates(q: Tensor, bank: Tensor, idx: Tensor) -> Tensor:
    """Score every prediction of a position against that position's candidates.

    Shape:
        q: ``(B, T, K, D)``; bank: ``(M, D)``; idx: ``(B, T, n)`` -> ``(B, T, K, n)``
    """
    b, t, k, d = q.shape
    n = idx.shape[-1]
    cand = bank.index_select(0, idx.reshape(-1)).view(b * t, n, d)
    return torch.bmm(q.reshape(b * t, k, d), cand.transpose(1, 2)).view(b, t, k, n)


def score_all(q: Tensor, bank: Tensor) -> Tensor:
    """Score every prediction against every row of a bank.

    Shape:
        q: ``(B, T, K, D)``; bank: ``(M, D)`` -> ``(B, T, K, M)``
    """
    return torch.matmul(q, bank.t())
