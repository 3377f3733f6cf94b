"""The one way cpckit reads a ``torch.save`` file: ``torch.load(weights_only=True)``.

A pickle can name any Python callable to run while it is read; a file of
weights never needs one. cpckit's model files, checkpoints and shipped
models hold only tensors and plain values (dicts, lists, strings, numbers),
so every file cpckit loads goes through :func:`load_weights_only`, which
refuses anything else before it runs.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import torch

from cpckit.errors import UnsafeFileError

__all__ = ["load_weights_only"]

_GLOBAL = re.compile(r"GLOBAL (\S+)")
_DETAIL = re.compile(r"WeightsUnpickler error: \s*(.+)")


def _reason(exc: BaseException) -> str:
    text = str(exc)
    found = _GLOBAL.search(text)
    if found:
        return f"it asks to import {found.group(1)}"
    detail = _DETAIL.search(text)
    return detail.group(1).strip() if detail else text.splitlines()[0][:200]


def load_weights_only(path: str | Path, *, mmap: bool = False) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU.

    Raises:
        UnsafeFileError: the file asks for more than tensors and plain values
            (a crafted pickle, or not a ``torch.save`` file at all); the
            message names the file. Nothing from the file has run.
        OSError, RuntimeError, EOFError: as ``torch.load`` (a missing or
            truncated file); callers word those for their own flag.
    """
    # mmap needs torch's zip format; a legacy pickle is read the plain way (and judged the same)
    mmap = mmap and zipfile.is_zipfile(path)
    try:
        return torch.load(path, map_location="cpu", mmap=mmap, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UnsafeFileError(
            f"refusing to load {str(path)!r}: it is not a plain file of tensors and values "
            f"({_reason(exc)}); cpckit reads model files and checkpoints with "
            "torch.load(weights_only=True), which never runs code from the file"
        ) from None
