"""Baselines measured beside every CPC figure: random weights, MFCC statistics, raw pixels.

Every evaluation path (the end-of-training ``metrics.json`` and
``cpckit evaluate``) takes its baselines from here, so they are built the
same way wherever a figure is printed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from cpckit.model import CPCModel

__all__ = ["INPUT_BASELINES", "RANDOM_SEED_OFFSET", "input_features", "random_model"]

RANDOM_SEED_OFFSET = 12345
"""The random-init model of seed ``s`` is drawn with ``torch.manual_seed(s + RANDOM_SEED_OFFSET)``."""

INPUT_BASELINES = {"mfcc": "MFCC statistics", "pixels": "raw pixels"}
"""Input-level baselines: name -> the row name in the results table."""


def random_model(cfg: Any, seed: int) -> CPCModel:
    """The configured architecture with random weights (eval mode), seeded by ``seed``."""
    from cpckit.build import build_model

    with torch.random.fork_rng():
        torch.manual_seed(seed + RANDOM_SEED_OFFSET)
        model = build_model(cfg)
    return model.eval()


def input_features(name: str, rows: Dataset[Any], sample_rate: int) -> np.ndarray:
    """``mfcc``: MFCC statistics of each clip's valid samples; ``pixels``: each image's pixels.

    Rows are dicts as the datasets of :mod:`cpckit.data` return them.

    Shape:
        -> ``(N, F)``
    """
    from cpckit.evaluation.mfcc import mfcc_features, pixel_features

    n = len(rows)  # type: ignore[arg-type]
    if name == "mfcc":
        feats = []
        for i in range(n):
            item = rows[i]
            wave = item["audio"][0]
            length = item.get("audio_length")
            k = int(length) if length is not None else int(wave.shape[0])
            feats.append(mfcc_features(wave[:k].numpy(), sample_rate))
        return np.stack(feats)
    if name == "pixels":
        return pixel_features(torch.stack([rows[i]["image"] for i in range(n)]).numpy())
    raise ValueError(f"input baseline {name!r} is unknown; valid: {', '.join(INPUT_BASELINES)}")
