"""Latent steps of an audio encoder for a clip length: the one rule every path uses.

A latent step counts when the encoder's ``valid_mask`` keeps it: it depends
on nothing after the clip's end, so it has the same value whether the clip
is encoded alone or zero-padded in a batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

__all__ = ["latent_steps", "min_samples"]


def latent_steps(encoder: nn.Module, n_samples: Sequence[int] | np.ndarray) -> np.ndarray:
    """Valid latent steps of ``encoder`` for clips of ``n_samples`` samples (0: too short).

    Shape:
        -> ``(len(n_samples),)`` int64
    """
    lengths = np.asarray(n_samples, dtype=np.int64).reshape(-1)
    out = np.zeros(len(lengths), dtype=np.int64)
    cache: dict[int, int] = {}
    for i, n in enumerate(lengths.tolist()):
        if n not in cache:
            steps = 0
            if n >= 1:
                n_latent = int(encoder.output_length(n))  # type: ignore[operator]
                if n_latent >= 1:
                    mask = encoder.valid_mask(torch.tensor([n]), n_latent)  # type: ignore[operator]
                    steps = int(mask.sum())
            cache[n] = steps
        out[i] = cache[n]
    return out


def min_samples(encoder: nn.Module, limit: int = 1 << 24, steps: int = 1) -> int:
    """The fewest samples that give the audio ``encoder`` ``steps`` valid latent steps.

    One step is what a clip needs to be embedded; two are what it needs for
    one CPC prediction (of step 1, from the first step to the second).
    Returns ``limit`` when even ``limit`` samples are not enough.
    """
    if steps < 1:
        raise ValueError(f"steps = {steps} must be >= 1")
    lo, hi = 1, 1
    while latent_steps(encoder, [hi])[0] < steps:
        if hi >= limit:
            return limit
        lo, hi = hi + 1, min(limit, hi * 2)
    while lo < hi:
        mid = (lo + hi) // 2
        if latent_steps(encoder, [mid])[0] >= steps:
            hi = mid
        else:
            lo = mid + 1
    return lo
