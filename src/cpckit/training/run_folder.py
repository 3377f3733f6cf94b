"""The run folder: file names and the saved model format."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from cpckit import __version__
from cpckit.config import Config, config_to_dict

__all__ = ["MODEL_FILE", "RunPaths", "atomic_save", "save_model"]

MODEL_FILE = "cpc_model.pth"


class RunPaths:
    """Where each artefact of a run lives (names follow the EE782 CPC project)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def model(self) -> Path:
        return self.root / MODEL_FILE

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / "last.ckpt"

    @property
    def losses_csv(self) -> Path:
        return self.root / "losses.csv"

    @property
    def losses_npy(self) -> Path:
        return self.root / "losses.npy"

    @property
    def curve(self) -> Path:
        return self.root / "training_curve.png"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.json"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    def tsne(self, modality: str) -> Path:
        return self.root / f"tsne_{modality}.png"


def atomic_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` to a temporary file in the same folder, then rename: never half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_model(model: torch.nn.Module, cfg: Config, path: str | Path) -> None:
    """Weights plus the config that rebuilds the model (see :func:`cpckit.load`)."""
    atomic_save(
        {
            "format": "cpckit-model",
            "format_version": 1,
            "cpckit_version": __version__,
            "config": config_to_dict(cfg),
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        },
        path,
    )
