"""What samplers see and return, and the scoring primitives they share.

A sampler never builds a ``(B, T, K, N, D)`` tensor of negatives. Negatives
drawn from a bank (the batch's latents, a queue, the other modality) are
index sets ``(B, T, n)`` shared by the K predictions of one position, scored
with one batched matmul ``(B*T, K, D) x (B*T, D, n)``; the K different
positives among them are masked per step. Negatives that differ per
prediction (``(B, T, K, n)`` indices: mined, time-shuffled) are scored by
:func:`score_per_prediction`, which gathers candidates a bounded chunk at a
time and keeps no gathered tensor for the backward pass.

Every sampler also has :meth:`NegativeSampler.gather_negatives`, the naive
reference: the same draws, returned as a materialised ``(B, T, K, n, D)``
tensor. Tests score it by hand and compare; training never calls it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cpckit.kernels.fastpath import use_fast_path
from cpckit.kernels.scoring import score_gathered

__all__ = [
    "NegativeQuery",
    "NegativeSampler",
    "NegativeScores",
    "exclude_positive",
    "expand_blocks",
    "flat_bank",
    "gather_shared",
    "positive_index",
    "positive_windows",
    "score_all",
    "score_candidates",
    "score_per_prediction",
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
        normalized: True when ``q`` and ``keys`` are L2-normalised (cosine),
            so a synthetic candidate must be normalised too.
    """

    q: Tensor
    keys: Tensor
    valid: Tensor | None = None
    groups: Tensor | None = None
    other_keys: Tensor | None = None
    other_valid: Tensor | None = None
    scale: float = 1.0
    raw_keys: Tensor | None = None
    normalized: bool = False

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

    ``forward`` keeps no state between calls; a sampler with state (a queue)
    changes it only in :meth:`update`.

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

    def gather_negatives(self, query: NegativeQuery) -> tuple[Tensor, Tensor]:
        """Naive reference: the negatives ``forward`` would score, materialised.

        Consumes the random generator exactly as ``forward`` does, so after
        the same seed ``scale * (q[..., None, :] * neg).sum(-1)`` equals
        ``forward(query).scores`` wherever the mask is True. For tests and
        benchmarks only: it builds the ``(B, T, K, n, D)`` tensor.

        Returns:
            ``neg (B, T, K, n, D)`` and ``mask (B, T, K, n)``.
        """
        raise NotImplementedError(f"{type(self).__name__} has no reference implementation")

    def update(self, query: NegativeQuery) -> None:
        """Called once per training step after the loss (e.g. to enqueue keys)."""

    def extra_repr(self) -> str:
        return f"count={self.count}"


def positive_index(batch: int, steps: int, k: int, length: int, device: torch.device) -> Tensor:
    """``(B, T, K)`` flat index ``b * L + t + k + 1`` of each prediction's positive."""
    b = torch.arange(batch, device=device).view(batch, 1, 1) * length
    t = torch.arange(steps, device=device).view(1, steps, 1)
    kk = torch.arange(1, k + 1, device=device).view(1, 1, k)
    return b + t + kk


def positive_windows(x: Tensor, steps: int) -> Tensor:
    """``(B, L, ...)`` -> view ``(B, L - K, K, ...)`` whose entry (t, k) is ``x[:, t + k + 1]``."""
    win = x[:, 1:].unfold(1, steps, 1)  # (B, L-K, ..., K)
    return win.movedim(-1, 2)


def flat_bank(query: NegativeQuery) -> tuple[Tensor, Tensor | None]:
    """The batch's keys as a bank ``(B*L, D)`` and their validity ``(B*L,)`` (or None)."""
    b, _, _, length, d = query.shape
    valid = None if query.valid is None else query.valid.reshape(b * length)
    return query.keys.reshape(b * length, d), valid


def gather_shared(query: NegativeQuery, bank: Tensor, idx: Tensor) -> Tensor:
    """Reference: materialise ``(B, T, K, n, D)`` candidates shared by the K steps."""
    k = query.q.shape[2]
    neg = bank[idx]  # (B, T, n, D)
    return neg.unsqueeze(2).expand(-1, -1, k, -1, -1).contiguous()


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


SHARED_CHUNK_ELEMENTS = 1 << 20
"""Gathered elements per chunk in :func:`score_candidates` (4 MB in fp32: cache-sized)."""


def expand_blocks(idx: Tensor, block: int, steps: int) -> Tensor:
    """Per-block index sets ``(B, ceil(T / block), n)`` -> one per position ``(B, T, n)``."""
    if block == 1:
        return idx
    return idx.repeat_interleave(block, dim=1)[:, :steps]


def score_candidates(q: Tensor, bank: Tensor, idx: Tensor, block: int = 1) -> Tensor:
    """Score every prediction of a position against that position's candidates.

    With ``block > 1`` each run of ``block`` consecutive positions shares
    one candidate set (``idx`` holds one row per run); a run is then scored
    like one position with ``block * K`` predictions, so it is one
    ``(block * K, D) x (D, n)`` product and each candidate is gathered once
    per run instead of once per position.

    On CPU the candidates are gathered a cache-sized chunk of positions at a
    time and gathered again in the backward pass, so no ``(B, T, n, D)``
    tensor is kept; gradients reach ``q`` and the rows of ``bank`` that were
    picked.

    Shape:
        q: ``(B, T, K, D)``; bank: ``(M, D)``; idx: ``(B, ceil(T / block), n)``
        -> ``(B, T, K, n)``
    """
    b, t, k, d = q.shape
    runs, n = idx.shape[1], idx.shape[-1]
    if runs != -(-t // block):
        raise ValueError(
            f"idx has {runs} rows per sequence; {t} positions in runs of {block} "
            f"need {-(-t // block)}"
        )
    pad = runs * block - t
    if pad:  # the last run is short: pad it with zero predictions, dropped below
        q = F.pad(q, (0, 0, 0, 0, 0, pad))
    q_runs = q.reshape(b * runs, block * k, d)
    flat_idx = idx.reshape(b * runs, n)
    if use_fast_path(q) and q.dtype == bank.dtype:
        chunk = max(1, SHARED_CHUNK_ELEMENTS // max(1, n * d))
        # K rows per position are too few to split across threads; a run's
        # block * K rows are not
        out = score_gathered(q_runs, bank, flat_idx, chunk, one_thread=block == 1)
    else:
        cand = bank.index_select(0, flat_idx.reshape(-1)).view(b * runs, n, d)
        out = torch.bmm(q_runs, cand.transpose(1, 2))
    out = out.view(b, runs * block, k, n)
    return out[:, :t] if pad else out


def score_all(q: Tensor, bank: Tensor) -> Tensor:
    """Score every prediction against every row of a bank.

    Shape:
        q: ``(B, T, K, D)``; bank: ``(M, D)`` -> ``(B, T, K, M)``
    """
    return torch.matmul(q, bank.t())


CHUNK_ELEMENTS = 1 << 22
"""Gathered elements per chunk in :func:`score_per_prediction` (16 MB in fp32)."""


def score_per_prediction(q: Tensor, bank: Tensor, idx: Tensor) -> Tensor:
    """Score each prediction against its own candidates (different for every k).

    Gathers candidates ``CHUNK_ELEMENTS`` at a time and recomputes them in
    the backward pass, so memory stays bounded whatever ``n``; gradients
    reach ``q`` and only the rows of ``bank`` that were picked.

    Shape:
        q: ``(B, T, K, D)``; bank: ``(M, D)``; idx: ``(B, T, K, n)`` -> ``(B, T, K, n)``
    """
    *lead, d = q.shape
    n = idx.shape[-1]
    rows = max(1, CHUNK_ELEMENTS // max(1, n * d))
    # One prediction per row: the shared-candidates kernel with K = 1.
    out = score_gathered(q.reshape(-1, 1, d), bank.to(q.dtype), idx.reshape(-1, n), rows)
    return out.view(*lead, n)
