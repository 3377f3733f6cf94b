"""Negatives drawn from the current batch's latents."""

from __future__ import annotations

import torch
from torch import Tensor

from cpckit.negatives.base import (
    NegativeQuery,
    NegativeSampler,
    NegativeScores,
    exclude_positive,
    expand_blocks,
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
    """Draw ``count + 1`` batch indices per run of positions; mask positives and padding.

    Args:
        count: negatives per prediction.
        share: consecutive positions of a sequence that share one draw (1:
            every position draws its own). Each prediction still gets
            ``count`` uniform candidates; sharing a draw makes the scoring of
            a run one larger matrix product and gathers each candidate once
            per run (:func:`~cpckit.negatives.base.score_candidates`).
    """

    def __init__(self, count: int, share: int = 1) -> None:
        super().__init__(count)
        if isinstance(share, bool) or not isinstance(share, int) or share < 1:
            raise ValueError(f"share = {share!r} must be an integer >= 1")
        self.share = share

    def _draw(self, query: NegativeQuery, rows: int) -> Tensor:  # pragma: no cover - abstract
        """``(B, rows, count + 1)`` flat indices into the batch's ``B * L`` latents."""
        raise NotImplementedError

    def _indices(self, query: NegativeQuery) -> tuple[Tensor, Tensor, Tensor]:
        """Draws per run ``(B, ceil(T / share), n + 1)``, per position, and the mask."""
        b, t, k, length, _ = query.shape
        drawn = self._draw(query, -(-t // self.share))
        idx = expand_blocks(drawn, self.share, t)
        pos = positive_index(b, t, k, length, idx.device)
        return drawn, idx, _mask_padding(exclude_positive(idx, pos), query, idx)

    def forward(self, query: NegativeQuery) -> NegativeScores:
        bank, _ = flat_bank(query)
        drawn, _, mask = self._indices(query)
        scores = score_candidates(query.q, bank, drawn, self.share)
        return NegativeScores(scores if query.scale == 1.0 else scores * query.scale, mask)

    def gather_negatives(self, query: NegativeQuery) -> tuple[Tensor, Tensor]:
        bank, _ = flat_bank(query)
        _, idx, mask = self._indices(query)
        return gather_shared(query, bank, idx), mask

    def extra_repr(self) -> str:
        return f"count={self.count}, share={self.share}"


class InBatchSampler(_BatchIndexSampler):
    """Latents from any sequence and position of the batch (the paper's "mixed speaker").

    Each position draws ``count + 1`` candidates uniformly from the ``B * L``
    latents of the batch, shared by its K predictions; each step's positive
    is masked out (see :func:`~cpckit.negatives.base.exclude_positive`).
    """

    name = "inbatch"

    def _draw(self, query: NegativeQuery, rows: int) -> Tensor:
        b, _, _, length, _ = query.shape
        return torch.randint(0, b * length, (b, rows, self.count + 1), device=query.keys.device)


class SameSequenceSampler(_BatchIndexSampler):
    """Latents from other positions of the same sequence (the paper's "current sequence only")."""

    name = "samesequence"

    def _draw(self, query: NegativeQuery, rows: int) -> Tensor:
        b, _, _, length, _ = query.shape
        device = query.keys.device
        offs = torch.randint(0, length, (b, rows, self.count + 1), device=device)
        return offs + torch.arange(b, device=device).view(b, 1, 1) * length
