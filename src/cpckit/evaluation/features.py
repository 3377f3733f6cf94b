"""Frozen features of a trained model over a dataset."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

from cpckit.model import CPCModel, pool_time

__all__ = ["Features", "extract_features", "limit"]


@dataclass
class Features:
    """Pooled vectors of a dataset.

    Attributes:
        context: ``(N, C)`` time-pooled context vectors.
        latent: ``(N, D)`` time-pooled latent vectors.
        labels: ``(N,)`` labels (-1 = none).
        groups: ``(N,)`` group ids (-1 = none).
        view_a: ``(N, C)`` pooled context of the first half of each sequence.
        view_b: ``(N, C)`` pooled context of the second half (the positive
            pairs of the alignment metric).
    """

    context: np.ndarray
    latent: np.ndarray
    labels: np.ndarray
    groups: np.ndarray
    view_a: np.ndarray
    view_b: np.ndarray


def limit(ds: Dataset[Any], max_examples: int, seed: int = 0) -> Dataset[Any]:
    """A seeded random subset of at most ``max_examples`` items."""
    n = len(ds)  # type: ignore[arg-type]
    if n <= max_examples:
        return ds
    idx = np.sort(np.random.default_rng(seed).choice(n, size=max_examples, replace=False))
    return Subset(ds, idx.tolist())


def _halves(
    model: CPCModel, z: torch.Tensor, valid: torch.Tensor | None, pool: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Context of each half of the latent sequence, run separately and pooled."""
    if valid is None:
        valid = torch.ones(z.shape[:2], dtype=torch.bool, device=z.device)
    n_valid = valid.sum(1)
    half = (n_valid // 2).clamp_min(1)
    pos = torch.arange(z.shape[1], device=z.device).unsqueeze(0)
    first = valid & (pos < half.unsqueeze(1))
    second = valid & (pos >= half.unsqueeze(1))
    if pool == "grid":  # halves of an image's sequence are not grids: mean-pool them
        pool = "mean"
    cut = int(half.max())
    c_a = model.context(z[:, :cut])
    # The second half starts at each sequence's own midpoint: shift it to the front.
    shift = torch.where(second.any(1), half, torch.zeros_like(half))
    source = pos + shift.unsqueeze(1)
    gather = source.clamp_max(z.shape[1] - 1)
    z_b = torch.gather(z, 1, gather.unsqueeze(-1).expand_as(z))
    # Positions shifted past the end repeat the last step: they are not part of the half.
    valid_b = torch.gather(second, 1, gather) & (source < z.shape[1])
    c_b = model.context(z_b)
    return pool_time(c_a, first[:, :cut], pool), pool_time(c_b, valid_b, pool)


@torch.no_grad()
def extract_features(
    model: CPCModel,
    modality: str,
    ds: Dataset[Any],
    *,
    batch_size: int = 64,
    pool: str = "mean",
) -> Features:
    """Encode every item of ``ds`` (whole items, batched with padding + masks)."""
    from cpckit.data.datamodule import make_loader

    was_training = model.training
    model.eval()
    loader = make_loader(ds, batch_size, shuffle=False)
    ctx, lat, labels, groups, va, vb = [], [], [], [], [], []
    device = next(model.parameters()).device
    for batch in loader:
        x = batch[modality].to(device)
        lengths = batch.get(f"{modality}_length")
        lengths = None if lengths is None else lengths.to(device)
        z, valid = model.encode(modality, x, lengths)
        c = model.context(z)
        ctx.append(model.pool(modality, x, c, valid, pool).cpu())
        lat.append(model.pool(modality, x, z, valid, pool).cpu())
        a, b = _halves(model, z, valid, pool)
        va.append(a.cpu())
        vb.append(b.cpu())
        labels.append(batch["label"].cpu())
        groups.append(batch["group"].cpu())
    model.train(was_training)
    return Features(
        context=torch.cat(ctx).numpy(),
        latent=torch.cat(lat).numpy(),
        labels=torch.cat(labels).numpy(),
        groups=torch.cat(groups).numpy(),
        view_a=torch.cat(va).numpy(),
        view_b=torch.cat(vb).numpy(),
    )
