"""Finding a checkpoint to resume from."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

__all__ = ["is_valid_checkpoint", "newest_valid_checkpoint"]

log = logging.getLogger(__name__)


def is_valid_checkpoint(path: Path) -> bool:
    """True when ``path`` loads as a Lightning checkpoint with a global step."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=False)
    except Exception:  # noqa: BLE001 - truncated or corrupt files are skipped
        return False
    return isinstance(blob, dict) and "global_step" in blob and "state_dict" in blob


def newest_valid_checkpoint(folder: Path) -> Path | None:
    """The checkpoint with the highest global step in ``folder`` that loads, or None."""
    if not folder.is_dir():
        return None
    best: tuple[int, float, Path] | None = None
    for path in folder.glob("*.ckpt"):
        try:
            blob = torch.load(path, map_location="cpu", weights_only=False)
        except Exception:  # noqa: BLE001
            log.warning("skipping unreadable checkpoint %s", path)
            continue
        if not isinstance(blob, dict) or "global_step" not in blob:
            continue
        key = (int(blob["global_step"]), path.stat().st_mtime, path)
        if best is None or key[:2] > best[:2]:
            best = key
    return None if best is None else best[2]
