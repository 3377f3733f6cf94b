"""CIFAR-10's python batches, read safely, and written out as PNG class folders.

The folders are named by CIFAR-10 label, ``class0/`` (airplane), ``class1/``
(automobile), ..., as the EE782 project's ``prepare_cifar10.py`` lays them
out, so a run on them reads the same folder names as that project's runs.
"""

from __future__ import annotations

import pickle
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cpckit.errors import ConfigError, DataError

__all__ = [
    "CIFAR10_CLASSES",
    "DEFAULT_CLASSES",
    "DEFAULT_MAX_PER_CLASS",
    "class_folder",
    "class_labels",
    "load_batch",
    "write_class_folders",
]


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

DEFAULT_CLASSES: tuple[int, ...] = (0, 1)
"""The labels prepared when none are asked for: airplane and automobile, the EE782 project's pair."""

DEFAULT_MAX_PER_CLASS = 2000
"""Training images kept per class by default: the EE782 project's ``max_per_class``."""


def class_folder(label: int) -> str:
    """The folder of a label's images: ``class0`` for airplane, ``class1`` for automobile, ..."""
    return f"class{label}"


def class_labels(chosen: Sequence[str | int], arg: str) -> list[int]:
    """CIFAR-10 labels of ``chosen`` (labels ``0``-``9``, as ints or text, or class names).

    Repeats are dropped, the first order kept. ``arg`` is the flag or
    parameter named in the error, so the message points at what was typed.

    Raises:
        ConfigError: ``chosen`` is empty or holds something that is no CIFAR-10 class.
    """
    valid = f"0-{len(CIFAR10_CLASSES) - 1} or {', '.join(CIFAR10_CLASSES)}"
    labels: list[int] = []
    for value in chosen:
        text = str(value).strip().lower()
        if text.isdigit() and int(text) < len(CIFAR10_CLASSES):
            label = int(text)
        elif text in CIFAR10_CLASSES:
            label = CIFAR10_CLASSES.index(text)
        else:
            raise ConfigError(f"{arg}: {value!r} is not a CIFAR-10 class; valid: {valid}")
        if label not in labels:
            labels.append(label)
    if not labels:
        raise ConfigError(f"{arg} is empty: choose from {valid}")
    return labels


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
    folders: Mapping[int, str],
    limit: int | None,
) -> dict[str, int]:
    """Write the images of the labels in ``folders`` to ``out/<folder>/00000.png, ...``.

    Images keep the batches' order, at most ``limit`` per label; reading
    stops once every label has its ``limit``. ``out`` is written anew, so
    no image of an earlier, different preparation is left behind.

    Returns:
        Images written, by folder name.
    """
    from PIL import Image

    if out.exists():
        shutil.rmtree(out)
    counts = dict.fromkeys(folders.values(), 0)
    for folder in folders.values():
        (out / folder).mkdir(parents=True, exist_ok=True)
    for path in batch_files:
        images, labels = _cifar_images(load_batch(path), path)
        for image, label in zip(images, labels):
            if not 0 <= label < len(CIFAR10_CLASSES):
                raise DataError(f"CIFAR-10 batch {path}: label {label} is not a CIFAR-10 label 0-9")
            name = folders.get(int(label))
            if name is None or (limit is not None and counts[name] >= limit):
                continue
            Image.fromarray(image).save(out / name / f"{counts[name]:05d}.png")
            counts[name] += 1
        if limit is not None and all(n >= limit for n in counts.values()):
            break
    return counts
