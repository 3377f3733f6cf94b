"""Files crafted to run code when unpickled: each writes a marker file if it ever gets the chance."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import torch


class WritesMarker:
    """Unpickled, it runs ``os.system("touch MARKER")``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.system, (f"touch '{self.marker}'",)


def write_unsafe(path: Path, marker: Path, blob: dict[str, Any], *, raw: bool = False) -> Path:
    """``blob`` with a :class:`WritesMarker` under ``"payload"``, saved as ``torch.save`` does.

    ``raw``: a plain pickle file (the format before torch's zip files) instead.
    """
    data = {**blob, "payload": WritesMarker(marker)}
    if raw:
        with path.open("wb") as fh:
            pickle.dump(data, fh, protocol=2)
    else:
        torch.save(data, path)
    return path


def unsafe_model_file(path: Path, marker: Path, *, raw: bool = False) -> Path:
    """A crafted ``cpc_model.pth``: the keys of a real one, and the payload."""
    blob = {"format": "cpckit-model", "format_version": 1, "config": {}, "state_dict": {}}
    return write_unsafe(path, marker, blob, raw=raw)


def unsafe_checkpoint(path: Path, marker: Path, step: int = 10**6) -> Path:
    """A crafted Lightning checkpoint: ``global_step`` and ``state_dict``, and the payload."""
    return write_unsafe(path, marker, {"epoch": 0, "global_step": step, "state_dict": {}})
