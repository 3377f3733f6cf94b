"""Negatives drawn from the current batch's latents."""

from __future__ import annotations

import torch

from cpckit.negatives.base import (
    NegativeQuery,
    NegativeSampler,
    NegativeScores,
    exclude_positive,
    positive_index,
    score_candidates,
)

__all__ = ["InBatchSampler", "SameSequenceSampler"]


def _mask_padding(mask: torch.Tensor, query: NegativeQuery, idx: torch.Tensor) -> torch.Tensor:
    if query.valid is None:
        return mask
    cand_valid = query.valid.reshape(-1)[idx]  # (B, T, n+1)
    return mask & cand_valid.unsqueeze(2)


class InBatchSampler(NegativeSampler):
    """Latents from any sequence and position of the batch (the paper's "mixed speaker").

    Each position draws ``count + 1`` candidates uniformly from the ``B * L``
    latents of the batch, shared by its K predictions; each step's positive
    is masked out (see :func:`~cpckit.negatives.base.exclude_positive`).
    """

    name = "inbatch"

    def forward(self, query: NegativeQuery) -> NegativeScores:
        b, t, k, length, d = query.shape
        bank = query.keys.reshape(b * length, d)
        idx = torch.randint(0, b * length, (b, t, self.count + 1), device=bank.device)
        pos = positive_index(b, t, k, length, bank.device)
        mask = _mask_padding(exclude_positive(idx, pos), query, idx)
        return NegativeScores(score_candidates(query.q, bank, idx) * query.scale, mask)


class SameSequenceSampler(NegativeSampler):
    """Latents from other positions of the same sequence (the paper's "current sequence only")."""

    name = "samesequence"

    def forward(self, query: NegativeQuery) -> NegativeScores:
        b, t, k, length, d = query.shape
        bank = query.keys.reshape(b * length, d)
        offs = torch.randint(0, length, (b, t, self.count + 1), device=bank.device)
        idx = offs + torch.arange(b, device=bank.device).view(b, 1, 1) * length
        pos = positive_index(b, t, k, length, bank.device)
        mask = _mask_padding(exclude_positive(idx, pos), query, idx)
        return NegativeScores(score_candidates(query.q, bank, idx) * query.scale, mask)
