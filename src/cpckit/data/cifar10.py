"""CIFAR-10's python batches, read safely, and written out as PNG class folders."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from cpckit.errors import DataError

__all__ = ["CIFAR10_CLASSES", "load_batch", "write_class_folders"]


CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
"""CIFAR-10 class names in label order."""


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles CIFAR-10 batches only: dicts, lists and numpy arrays, nothing callable else."""

    _ALLOWED = {
        ("_codecs", "encode"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        if module.startswith("numpy.core.") and hasattr(np, "_core"):
            module = "numpy._core." + module.removeprefix("numpy.core.")
        return super().find_class(module, name)


def load_batch(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise DataError(f"CIFAR-10 batch {path} is missing (the archive is incomplete)")
    try:
        with open(path, "rb") as f:
            raw = _BatchUnpickler(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as err:
        raise DataError(f"CIFAR-10 batch {path} could not be read: {err}") from None
    if not isinstance(raw, dict):
        raise DataError(f"CIFAR-10 batch {path} is not a dict")
    return {k.decode() if isinstance(k, bytes) else str(k): v for k, v in raw.items()}


def _cifar_images(batch: dict[str, Any], path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(N, 32, 32, 3)`` uint8 images and ``(N,)`` labels of a batch."""
    try:
        data = np.asarray(batch["data"], dtype=np.uint8)
        labels = np.asarray(batch.get("labels", batch.get("fine_labels")), dtype=np.int64)
    except (KeyError, TypeError, ValueError) as err:
        raise DataError(f"CIFAR-10 batch {path} lacks 'data' or 'labels': {err}") from None
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise DataError(
            f"CIFAR-10 batch {path}: expected data (N, 3072) and N labels, got "
            f"{data.shape} and {labels.shape}"
        )
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def write_class_folders(
    batch_files: list[Path],
    out: Path,
    class_names: list[str],
    wanted: list[str],
    limit: int | None,
) -> dict[str, int]:
    from PIL import Image

    if out.exists():
        shutil.rmtree(out)
    counts = dict.fromkeys(wanted, 0)
    for c in wanted:
        (out / c).mkdir(parents=True, exist_ok=True)
    for path in batch_files:
        images, labels = _cifar_images(load_batch(path), path)
        for image, label in zip(images, labels):
            if not 0 <= label < len(class_names):
                raise DataError(f"CIFAR-10 batch {path}: label {label} has no class name")
            name = class_names[label]
            if name not in counts or (limit is not None and counts[name] >= limit):
                continue
            Image.fromarray(image).save(out / name / f"{counts[name]:05d}.png")
            counts[name] += 1
        if limit is not None and all(n >= limit for n in counts.values()):
            break
    return counts
