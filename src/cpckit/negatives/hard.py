"""Mined hard negatives: the candidates most similar to each prediction."""

from __future__ import annotations

import torch
from torch import Tensor

from cpckit.negatives.base import (
    CHUNK_ELEMENTS,
    NegativeQuery,
    NegativeSampler,
    NegativeScores,
    flat_bank,
    positive_index,
    score_per_prediction,
)
from cpckit.negatives.queue import LatentQueue, queue_bank, valid_keys

__all__ = ["HardSampler"]

SOURCES = ("batch", "queue")


class HardSampler(NegativeSampler):
    """The ``count`` candidates most similar to each prediction (top-k mining).

    A mining pass under ``torch.no_grad`` scores every prediction against a
    pool of candidates from the source, leaves out the positive, padding and
    empty queue slots, and keeps the top ``count`` per prediction (different
    for each k). Only those are then scored with gradients
    (:func:`~cpckit.negatives.base.score_per_prediction`), so the backward
    pass costs ``count`` candidates, not the pool.

    The pool is the whole source when it holds at most ``pool`` rows, else
    ``pool`` rows drawn without replacement once per step (shared by all
    predictions). Mining costs ``B * T * K * pool * D`` multiply-adds.

    Args:
        count: mined negatives per prediction.
        source: ``"batch"`` (the batch's latents) or ``"queue"`` (the filled
            slots of a :class:`~cpckit.negatives.queue.LatentQueue`).
        pool: candidates scored in the mining pass.
        queue: the queue to mine when ``source = "queue"``.
        enqueue: with ``source = "queue"``, whether :meth:`update` fills the
            queue (False when a :class:`QueueSampler` shares it and fills it).
    """

    name = "hard"

    def __init__(
        self,
        count: int,
        *,
        source: str = "batch",
        pool: int = 1024,
        queue: LatentQueue | None = None,
        enqueue: bool = True,
    ) -> None:
        super().__init__(count)
        if source not in SOURCES:
            raise ValueError(f"hard: source = {source!r} is not valid: expected one of {SOURCES}")
        if pool < count:
            raise ValueError(f"hard: pool = {pool} must be >= count = {count}")
        if source == "queue" and queue is None:
            raise ValueError("hard: source = 'queue' needs a queue")
        self.source = source
        self.pool = pool
        self.queue = queue if source == "queue" else None
        self.enqueue = enqueue and self.queue is not None

    def _bank(self, query: NegativeQuery) -> tuple[Tensor, Tensor, bool]:
        """Bank, which rows may be drawn, and whether it is the batch (holding the positives)."""
        if self.queue is not None:
            bank, slot_valid = queue_bank(self.queue, query.keys.dtype)
            return bank, slot_valid, False
        bank, valid = flat_bank(query)
        if valid is None:
            valid = torch.ones(bank.shape[0], dtype=torch.bool, device=bank.device)
        return bank, valid, True

    @torch.no_grad()
    def _mine(
        self, query: NegativeQuery, bank: Tensor, bank_valid: Tensor, is_batch: bool
    ) -> tuple[Tensor, Tensor]:
        """``(B, T, K, count)`` bank rows of the hardest negatives and their mask."""
        b, t, k, length, d = query.shape
        device = bank.device
        rows = bank.shape[0]
        if self.pool >= rows:
            pool_idx = torch.arange(rows, device=device)
        else:
            pool_idx = torch.randperm(rows, device=device)[: self.pool]
        cand = bank.detach().index_select(0, pool_idx)  # (P, D)
        cand_bad = ~bank_valid[pool_idx]
        flat_q = query.q.detach().reshape(-1, d)
        flat_pos = positive_index(b, t, k, length, device).reshape(-1)
        take = min(self.count, pool_idx.numel())
        top_val = flat_q.new_empty(flat_q.shape[0], take)
        top_idx = torch.empty(flat_q.shape[0], take, dtype=torch.long, device=device)
        step = max(1, CHUNK_ELEMENTS // max(1, pool_idx.numel()))
        for s in range(0, flat_q.shape[0], step):
            e = min(s + step, flat_q.shape[0])
            sims = flat_q[s:e] @ cand.t()  # (c, P)
            bad = cand_bad.unsqueeze(0)
            if is_batch:  # the bank holds the positives
                bad = bad | (pool_idx.unsqueeze(0) == flat_pos[s:e].unsqueeze(1))
            sims.masked_fill_(bad, float("-inf"))
            top_val[s:e], top_idx[s:e] = sims.topk(take, dim=-1)
        sel = pool_idx[top_idx]
        mask = torch.isfinite(top_val)
        if take < self.count:  # a source smaller than count: pad with masked entries
            pad = self.count - take
            sel = torch.cat([sel, sel.new_zeros(sel.shape[0], pad)], dim=-1)
            mask = torch.cat([mask, mask.new_zeros(mask.shape[0], pad)], dim=-1)
        return sel.view(b, t, k, self.count), mask.view(b, t, k, self.count)

    def forward(self, query: NegativeQuery) -> NegativeScores:
        bank, bank_valid, is_batch = self._bank(query)
        sel, mask = self._mine(query, bank, bank_valid, is_batch)
        return NegativeScores(score_per_prediction(query.q, bank, sel) * query.scale, mask)

    def gather_negatives(self, query: NegativeQuery) -> tuple[Tensor, Tensor]:
        bank, bank_valid, is_batch = self._bank(query)
        sel, mask = self._mine(query, bank, bank_valid, is_batch)
        return bank[sel], mask

    @torch.no_grad()
    def update(self, query: NegativeQuery) -> None:
        if self.enqueue and self.queue is not None:
            self.queue.enqueue(valid_keys(query))

    def extra_repr(self) -> str:
        return f"count={self.count}, source={self.source!r}, pool={self.pool}"
