"""Synthetic hard negatives: perturbed copies of the positive and time-shuffled latents."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from cpckit.negatives.base import (
    NegativeQuery,
    NegativeSampler,
    NegativeScores,
    flat_bank,
    positive_index,
    positive_windows,
    score_per_prediction,
)

__all__ = ["SyntheticSampler"]

_EPS = 1e-12  # as torch.nn.functional.normalize


@dataclass
class _Draw:
    noise: Tensor  # (M, D) Gaussian noise bank of this step
    noise_idx: Tensor  # (B, T, K, n_perturbed) rows of the bank, distinct per prediction
    shuffle_idx: Tensor  # (B, T, K, n_shuffled) flat batch indices
    shuffle_mask: Tensor  # (B, T, K, n_shuffled)
    pos: Tensor  # (B, T, K) flat index of each positive
    sigma_abs: Tensor  # () perturbation scale: sigma * RMS of the latents


class SyntheticSampler(NegativeSampler):
    """Hard negatives made from the positive itself.

    Of ``count`` negatives per prediction, ``ceil(count / 2)`` are perturbed
    copies of its positive and ``floor(count / 2)`` are latents of the same
    sequence at shuffled times: positions drawn uniformly within ``window``
    steps of the positive (the whole sequence when ``window = 0``), never
    the positive's own.

    A perturbed copy is ``z+ + s e`` with ``e ~ N(0, I)`` and
    ``s = sigma * RMS(z)`` over the batch's valid latents (so the noise's
    norm is about ``sigma`` times a latent's), rescaled to the positive's
    norm: only its direction is perturbed. (Cosine similarity normalises it
    anyway.) Under the dot product an unrescaled copy would score
    ``q . z+ + s q . e``, the positive's score plus zero-mean noise, and beat
    the positive half the time whatever the prediction; the rescaled copy
    scores below the positive when the prediction points at it.

    Copies are scored without building them, exactly: with
    ``|z+ + s e|^2 = |z+|^2 + 2 s z+ . e + s^2 |e|^2`` the score is
    ``(q . z+ + s q . e) * n+ / |z+ + s e|`` (``n+ = |z+|`` for the dot
    product, 1 for cosine). Each step draws a bank of ``noise_bank``
    Gaussian vectors; each prediction takes ``ceil(count / 2)`` distinct rows
    of it; ``q . e`` and ``z . e`` come from one matmul each with the bank.
    Shuffled latents are scored against the whole sequence by one batched
    matmul and picked (when ``L <= 64 * floor(count / 2)``), or gathered per
    prediction for longer sequences.

    Gradients: the perturbed copies are built from the detached positive, so
    they sharpen the prediction (it must tell ``z+`` from its neighbours)
    without pushing the encoder's positive away from the prediction, which
    would cancel the positive term. The shuffled latents are real latents
    and pass gradients like any in-batch negative.

    Args:
        count: negatives per prediction.
        sigma: noise scale relative to the latents' RMS (> 0).
        window: shuffle radius in steps (0: the whole sequence).
        noise_bank: Gaussian vectors drawn per step (at least ``ceil(count / 2)``).
    """

    name = "synthetic"
    SEQUENCE_GEMM_RATIO = 64
    """Score shuffled latents against the whole sequence when ``L <= ratio * n_shuffled``."""

    def __init__(
        self, count: int, *, sigma: float = 0.5, window: int = 0, noise_bank: int = 64
    ) -> None:
        super().__init__(count)
        if not sigma > 0:
            raise ValueError(f"synthetic: sigma = {sigma} must be > 0")
        if window < 0:
            raise ValueError(f"synthetic: window = {window} must be >= 0 (0: whole sequence)")
        if noise_bank < 1:
            raise ValueError(f"synthetic: noise_bank = {noise_bank} must be >= 1")
        self.sigma = float(sigma)
        self.window = window
        self.n_perturbed = (count + 1) // 2
        self.n_shuffled = count // 2
        self.noise_bank = max(noise_bank, self.n_perturbed)

    def _raw(self, query: NegativeQuery) -> Tensor:
        raw = query.raw_keys if (query.normalized and query.raw_keys is not None) else query.keys
        return raw.detach()

    def _draw(self, query: NegativeQuery) -> _Draw:
        b, t, k, length, d = query.shape
        device = query.keys.device
        raw = self._raw(query)
        if query.valid is None:
            mean_sq = raw.square().mean()
        else:
            w = query.valid.unsqueeze(-1).to(raw.dtype)
            mean_sq = (raw.square() * w).sum() / (w.sum() * d).clamp_min(1.0)
        sigma_abs = self.sigma * mean_sq.sqrt()

        m = self.noise_bank
        noise = torch.randn(m, d, device=device, dtype=raw.dtype)
        start = torch.randint(0, m, (b, t, k, 1), device=device)
        noise_idx = (start + torch.arange(self.n_perturbed, device=device)) % m

        pos = positive_index(b, t, k, length, device)
        j = pos[0]  # (T, K): the positive's position within its sequence (b = 0)
        reach = self.window if self.window > 0 else length
        lo = (j - reach).clamp_min(0)
        width = (j + reach).clamp_max(length - 1) - lo  # positions in reach, j left out
        u = torch.rand(b, t, k, self.n_shuffled, device=device)
        at = lo.unsqueeze(-1) + torch.minimum(
            (u * width.unsqueeze(-1)).long(), (width - 1).clamp_min(0).unsqueeze(-1)
        )
        at = at + (at >= j.unsqueeze(-1)).long()
        shuffle_idx = at + torch.arange(b, device=device).view(b, 1, 1, 1) * length
        shuffle_mask = (shuffle_idx != pos.unsqueeze(-1)) & (width > 0).unsqueeze(-1)
        if query.valid is not None:
            shuffle_mask = shuffle_mask & query.valid.reshape(-1)[shuffle_idx]
        return _Draw(noise, noise_idx, shuffle_idx, shuffle_mask, pos, sigma_abs)

    def forward(self, query: NegativeQuery) -> NegativeScores:
        b, t, k, length, d = query.shape
        draw = self._draw(query)
        q, s = query.q, draw.sigma_abs
        raw = self._raw(query)
        q_pos = (q * positive_windows(raw, k)).sum(-1, keepdim=True)  # (B, T, K, 1)
        noise = draw.noise.to(q.dtype)
        q_noise = torch.take_along_dim(q @ noise.t(), draw.noise_idx, dim=-1)  # (B, T, K, n_p)
        # |z+ + s e|^2 = |z+|^2 + 2 s z+.e + s^2 |e|^2, with z+.e from one (B*L, D) x (D, M) product
        raw_flat = raw.reshape(b * length, d)
        m = noise.shape[0]
        pos_noise = (raw_flat @ noise.t()).reshape(-1)  # (B*L*M,) z . e
        at = draw.pos.unsqueeze(-1) * m + draw.noise_idx
        pos_sq = raw_flat.square().sum(-1)[draw.pos].unsqueeze(-1)  # (B, T, K, 1) |z+|^2
        sq = pos_sq + 2 * s * pos_noise[at] + s.square() * noise.square().sum(-1)[draw.noise_idx]
        # the copy keeps the positive's norm: |z+| for the dot product, 1 for cosine
        target = 1.0 if query.normalized else pos_sq.sqrt()
        perturbed = (q_pos + s * q_noise) * target / sq.clamp_min(0).sqrt().clamp_min(_EPS)
        scores = torch.cat([perturbed, self._score_shuffled(query, draw)], dim=-1) * query.scale
        return NegativeScores(scores, self._mask(draw, (b, t, k)))

    def _score_shuffled(self, query: NegativeQuery, draw: _Draw) -> Tensor:
        """``(B, T, K, n_shuffled)`` unscaled scores of the shuffled latents."""
        b, t, k, length, d = query.shape
        if self.n_shuffled == 0:
            return query.q.new_zeros(b, t, k, 0)
        if length <= self.SEQUENCE_GEMM_RATIO * self.n_shuffled:
            # Short sequences: score each prediction against its whole sequence in one
            # batched matmul, then pick; cheaper than gathering per prediction.
            seq = torch.matmul(query.q.reshape(b, t * k, d), query.keys.transpose(1, 2))
            return torch.take_along_dim(seq.view(b, t, k, length), draw.shuffle_idx % length, -1)
        bank, _ = flat_bank(query)
        return score_per_prediction(query.q, bank, draw.shuffle_idx)

    def _mask(self, draw: _Draw, lead: tuple[int, int, int]) -> Tensor:
        # A copy equal to the positive (s = 0: every latent is zero) is not a negative.
        differs = (draw.sigma_abs > 0).expand(*lead, self.n_perturbed)
        return torch.cat([differs, draw.shuffle_mask], dim=-1)

    def gather_negatives(self, query: NegativeQuery) -> tuple[Tensor, Tensor]:
        b, t, k, _, d = query.shape
        draw = self._draw(query)
        raw = self._raw(query)
        positive = positive_windows(raw, k).unsqueeze(-2)  # (B, T, K, 1, D)
        perturbed = F.normalize(positive + draw.sigma_abs * draw.noise[draw.noise_idx], dim=-1)
        if not query.normalized:
            perturbed = perturbed * positive.norm(dim=-1, keepdim=True)
        bank, _ = flat_bank(query)
        shuffled = bank[draw.shuffle_idx]
        return torch.cat([perturbed, shuffled], dim=-2), self._mask(draw, (b, t, k))

    def extra_repr(self) -> str:
        return (
            f"count={self.count} (perturbed {self.n_perturbed}, shuffled {self.n_shuffled}), "
            f"sigma={self.sigma}, window={self.window or 'sequence'}"
        )
