"""Similarity scores between predictions and candidate latents."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

__all__ = ["Similarity"]


class Similarity:
    """Dot product (the CPC paper's log-bilinear score) or cosine / temperature.

    Scores are ``scale * <query(pred), key(z)>``: for ``"dot"`` both maps are
    the identity and ``scale = 1``; for ``"cosine"`` both L2-normalise and
    ``scale = 1 / temperature``. Mapping queries and keys once lets every
    sampler score by plain matmuls.
    """

    def __init__(self, kind: str = "dot", temperature: float = 0.1) -> None:
        if kind not in ("dot", "cosine"):
            raise ValueError(f"similarity {kind!r} is unknown: expected 'dot' or 'cosine'")
        if temperature <= 0:
            raise ValueError(f"temperature = {temperature} must be > 0")
        self.kind = kind
        self.temperature = temperature
        self.scale = 1.0 / temperature if kind == "cosine" else 1.0

    def query(self, pred: Tensor) -> Tensor:
        return F.normalize(pred, dim=-1) if self.kind == "cosine" else pred

    def key(self, z: Tensor) -> Tensor:
        return F.normalize(z, dim=-1) if self.kind == "cosine" else z

    def __repr__(self) -> str:
        return f"Similarity({self.kind!r}, temperature={self.temperature})"
