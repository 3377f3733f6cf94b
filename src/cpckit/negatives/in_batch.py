"""Negatives drawn from the current batch's latents."""

from __future__ import annotations

import torch
from torch import Tensor

from cpckit.negatives.base import (
    NegativeQuery,
    NegativeSampler,
    NegativeScores,
    exclude_positive,
    flat_bank,
    gather_shared,
    positive_index,
    score_candidates,
)

__all__ = ["InBatchSampler", "SameSequenceSampler", "gather_shared"]


def _mask_padding(mask: Tensor, query: NegativeQuery, idx: Tensor) -> Tensor:
    if query.valid is None:
        return mask
    cand_valid = query.valid.reshape(-1)[idx]  # (B, T, n+1)
    return mask & cand_valid.unsqueeze(2)


class _BatchIndexSampler(NegativeSampler):
    """Draw ``count + 1`` batch indices per position; mask positives and padding."""

    def _draw(self, query: NegativeQuery) -> Tensor:  # pragma: no cover - abstract
        """``(B, T, count + 1)`` flat indices into the batch's ``B * L`` latents."""
        raise NotImplementedError

    def _indices(self, query: NegativeQuery) -> tuple[Tensor, Tensor]:
        b, t, k, length, _ = query.shape
        idx = self._draw(query)
        pos = positive_index(b, t, k, length, idx.device)
        return idx, _mask_padding(exclude_positive(idx, pos), query, idx)

    def forward(self, query: NegativeQuery) -> NegativeScores:
        bank, _ = flat_bank(query)
        idx, mask = self._indices(query)
        return NegativeScores(score_candidates(query.q, bank, idx) * query.scale, mask)

    def gather_negatives(self, query: NegativeQuery) -> tuple[Tensor, Tensor]:
        bank, _ = flat_bank(query)
        idx, mask = self._indices(query)
        return gather_shared(query, bank, idx), mask


class InBatchSampler(_BatchIndexSampler):
    """Latents from any sequence and position of the batch (the paper's "mixed speaker").

    Each position draws ``count + 1`` candidates uniformly from the ``B * L``
    latents of the batch, shared by its K predictions; each step's positive
    is masked out (see :func:`~cpckit.negatives.base.exclude_positive`).
    """

    name = "inbatch"

    def _draw(self, query: NegativeQuery) -> Tensor:
        b, t, _, length, _ = query.shape
        return torch.randint(0, b * length, (b, t, self.count + 1), device=query.keys.device)


class SameSequenceSampler(_BatchIndexSampler):
    """Latents from other positions of the same sequence (the paper's "current sequence only")."""

    name = "samesequence"

    def _draw(self, query: NegativeQuery) -> Tensor:
        b, t, _, length, _ = query.shape
        device = query.keys.device
        offs = torch.randint(0, length, (b, t, self.count + 1), device=device)
        return offs + torch.arange(b, device=device).view(b, 1, 1) * length
