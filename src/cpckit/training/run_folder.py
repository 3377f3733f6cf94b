"""The run folder: file names and the saved model format."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import torch

from cpckit import __version__
from cpckit.config import Config, config_to_dict

__all__ = [
    "MODEL_FILE",
    "RunPaths",
    "atomic_save",
    "atomic_write",
    "atomic_write_text",
    "remove_stale_temp_files",
    "save_model",
]

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


TEMP_SUFFIX = ".tmp"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, write: Callable[[BinaryIO], object]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        mode = 0o666 & ~_umask()  # mkstemp makes the file private: use the usual mode
        if hasattr(os, "fchmod"):
            os.fchmod(fd, mode)
        else:  # no fchmod on Windows; there only the read-only bit counts
            os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` to a temporary file in the same folder, then rename: never half-written.

    A process killed while saving leaves the previous file intact and at
    most a hidden ``.NAME.*.tmp`` file, which :func:`remove_stale_temp_files`
    clears.
    """
    atomic_write(path, lambda fh: torch.save(obj, fh))


def atomic_write_text(text: str, path: str | Path) -> None:
    """Write a text file atomically (temporary file, then rename)."""
    atomic_write(path, lambda fh: fh.write(text.encode()))


def remove_stale_temp_files(folder: str | Path) -> int:
    """Delete temporary files left by an interrupted atomic write; return how many."""
    count = 0
    for path in Path(folder).glob(f".*{TEMP_SUFFIX}"):
        try:
            path.unlink()
            count += 1
        except OSError:
            pass
    return count


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
