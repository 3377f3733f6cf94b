"""Negatives from the other modality of a paired batch."""

from __future__ import annotations

import torch
from torch import Tensor

from cpckit.negatives.base import (
    NegativeQuery,
    NegativeSampler,
    NegativeScores,
    gather_shared,
    score_candidates,
)

__all__ = ["CrossModalSampler"]


class CrossModalSampler(NegativeSampler):
    """Latents of the other modality (``query.other_keys``), and only those.

    With audio + image pairs, an audio prediction is contrasted with image
    latents and the other way round. Each position draws ``count``
    candidates uniformly from the other modality's ``B2 * L2`` latents,
    shared by its K predictions; padded ones are masked. The positive lies in
    the prediction's own modality, so it is never among them.
    """

    name = "crossmodal"

    def _indices(self, query: NegativeQuery) -> tuple[Tensor, Tensor, Tensor]:
        if query.other_keys is None:
            raise ValueError(
                "crossmodal negatives need a batch with two modalities "
                "(data.modality = 'multimodal'); this batch has one"
            )
        b, t, _, _, d = query.shape
        other = query.other_keys
        if other.shape[-1] != d:
            raise ValueError(
                f"crossmodal: the other modality's latents have {other.shape[-1]} dims, "
                f"the predictions {d}"
            )
        bank = other.reshape(-1, d)
        idx = torch.randint(0, bank.shape[0], (b, t, self.count), device=bank.device)
        if query.other_valid is None:
            mask = torch.ones(1, 1, 1, self.count, dtype=torch.bool, device=bank.device)
        else:
            mask = query.other_valid.reshape(-1)[idx].unsqueeze(2)  # (B, T, 1, n)
        return bank, idx, mask

    def forward(self, query: NegativeQuery) -> NegativeScores:
        bank, idx, mask = self._indices(query)
        return NegativeScores(score_candidates(query.q, bank, idx) * query.scale, mask)

    def gather_negatives(self, query: NegativeQuery) -> tuple[Tensor, Tensor]:
        bank, idx, mask = self._indices(query)
        b, t, k, _ = query.q.shape
        return gather_shared(query, bank, idx), mask.expand(b, t, k, self.count)
