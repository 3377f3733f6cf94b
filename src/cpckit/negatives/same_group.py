"""Negatives from other sequences of the same group (the paper's "same speaker")."""

from __future__ import annotations

import torch
from torch import Tensor

from cpckit.negatives.base import NegativeQuery
from cpckit.negatives.in_batch import _BatchIndexSampler

__all__ = ["SameGroupSampler", "group_partners"]


def group_partners(groups: Tensor | None, batch: int, device: torch.device) -> Tensor:
    """``(B, B)`` bool: row ``b`` marks the sequences ``b`` draws negatives from.

    Those are the other sequences with the same group id (``>= 0``). A
    sequence with no group (-1, or ``groups`` None) or alone in its group in
    this batch falls back to itself: its negatives then come from its own
    sequence, like ``samesequence``.
    """
    eye = torch.eye(batch, dtype=torch.bool, device=device)
    if groups is None:
        return eye
    g = groups.to(device).view(-1)
    if g.shape[0] != batch:
        raise ValueError(f"samegroup: groups has {g.shape[0]} entries for a batch of {batch}")
    same = (g.unsqueeze(1) == g.unsqueeze(0)) & (g.unsqueeze(1) >= 0) & ~eye
    alone = ~same.any(1, keepdim=True)
    return same | (eye & alone)


class SameGroupSampler(_BatchIndexSampler):
    """Latents of other sequences that share the group label (e.g. the speaker).

    Each position draws ``count + 1`` candidates uniformly from the valid
    (not padded) latents of the sequences :func:`group_partners` allows,
    shared by its K predictions. The positive is masked out (it can only be
    drawn when a sequence falls back to itself); the spare entry keeps
    ``count`` negatives per prediction (see
    :func:`~cpckit.negatives.base.exclude_positive`).
    """

    name = "samegroup"

    def _draw(self, query: NegativeQuery, rows: int) -> Tensor:
        b, _, _, length, _ = query.shape
        device = query.keys.device
        partners = group_partners(query.groups, b, device)  # (B, B)
        weights = partners.unsqueeze(-1).expand(b, b, length)
        if query.valid is not None:
            weights = weights & query.valid.to(device).unsqueeze(0)
        weights = weights.reshape(b, b * length).to(torch.float32)
        # A row with nothing valid to draw from (all padding) uses its own sequence;
        # its predictions are padding too and the loss leaves them out.
        empty = weights.sum(1) == 0
        if bool(empty.any()):
            own = torch.eye(b, device=device).repeat_interleave(length, dim=1)
            weights = torch.where(empty.unsqueeze(1), own, weights)
        idx = torch.multinomial(weights, rows * (self.count + 1), replacement=True)
        return idx.view(b, rows, self.count + 1)
