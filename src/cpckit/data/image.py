"""Image folders and image loading (Pillow + torch only).

An image folder holds one subfolder per class (``root/airplane/0001.png``,
``root/cat/0002.jpg``, ...). Images are read with Pillow, converted to RGB,
resized to a square ``image_size`` (shorter side to ``image_size``, then a
centre crop), scaled to ``[0, 1]`` and normalised per channel. Items follow
docs/contracts.md: ``{"image": (3, H, W) float32, "label": int64, "group": int64}``.
"""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor
from torch.utils.data import Dataset

from cpckit.data.image_augment import ImageAugment
from cpckit.errors import DataError

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "ImageFolderDataset",
    "image_item",
    "image_to_tensor",
    "normalization_stats",
    "normalize_image",
    "read_image",
    "to_uint8_chw",
]

CIFAR10_MEAN: tuple[float, float, float] = (0.4914, 0.4822, 0.4465)
"""Per-channel mean of the CIFAR-10 training images (RGB, in [0, 1])."""
CIFAR10_STD: tuple[float, float, float] = (0.2470, 0.2435, 0.2616)
"""Per-channel standard deviation of the CIFAR-10 training images (RGB, in [0, 1])."""

_DECODE_ERRORS = (OSError, UnidentifiedImageError, ValueError, SyntaxError)


# ----------------------------------------------------------------------------- loading


def to_uint8_chw(image: Image.Image, image_size: int) -> np.ndarray:
    """RGB ``uint8`` array of a Pillow image, resized to ``image_size`` x ``image_size``.

    A non-square image has its shorter side resized to ``image_size`` and is
    then centre-cropped; an image already of that size is not resampled.

    Shape:
        -> ``(3, image_size, image_size)`` uint8
    """
    if image_size < 1:
        raise ValueError(f"image_size = {image_size} must be >= 1")
    rgb = image.convert("RGB")
    w, h = rgb.size
    if (w, h) != (image_size, image_size):
        scale = image_size / min(w, h)
        new_w, new_h = max(image_size, round(w * scale)), max(image_size, round(h * scale))
        rgb = rgb.resize((new_w, new_h), Image.Resampling.BILINEAR)
        left, top = (new_w - image_size) // 2, (new_h - image_size) // 2
        rgb = rgb.crop((left, top, left + image_size, top + image_size))
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8).transpose(2, 0, 1))


def read_image(path: str | os.PathLike[str], image_size: int) -> np.ndarray:
    """Decode an image file to an RGB ``uint8`` array of ``image_size`` x ``image_size``.

    Raises the decoder's error (``OSError``, ``UnidentifiedImageError``) for an
    unreadable file.

    Shape:
        -> ``(3, image_size, image_size)`` uint8
    """
    with Image.open(path) as img:
        img.load()
        return to_uint8_chw(img, image_size)


def _stats(value: Sequence[float], name: str) -> Tensor:
    t = torch.as_tensor([float(v) for v in value], dtype=torch.float32)
    if t.shape != (3,):
        raise ValueError(f"{name} must hold 3 values (R, G, B), got {list(value)}")
    return t.view(3, 1, 1)


def normalize_image(
    image: Tensor,
    mean: Sequence[float] = CIFAR10_MEAN,
    std: Sequence[float] = CIFAR10_STD,
) -> Tensor:
    """``(image - mean) / std`` per channel, for images scaled to ``[0, 1]``.

    Shape:
        image: ``(3, H, W)`` or ``(B, 3, H, W)`` -> same shape
    """
    std_t = _stats(std, "std")
    if bool((std_t <= 0).any()):
        raise ValueError(f"std = {list(std)} must be positive")
    return (image - _stats(mean, "mean").to(image)) / std_t.to(image)


def image_to_tensor(
    image: Any,
    image_size: int,
    *,
    mean: Sequence[float] = CIFAR10_MEAN,
    std: Sequence[float] = CIFAR10_STD,
) -> Tensor:
    """One image as the model's input: RGB, resized, scaled to [0, 1], normalised.

    The same steps as :class:`ImageFolderDataset` with its default
    normalisation, so a model trained on a folder embeds single images alike.

    Args:
        image: a file path, a Pillow image, an array or a tensor. Arrays and
            tensors may be ``(H, W)``, ``(H, W, C)`` or ``(C, H, W)`` with 1, 3 or
            4 channels (alpha is dropped); ``uint8`` values are in ``[0, 255]``,
            float values in ``[0, 1]``.
        image_size: side of the square output.
        mean: per-channel mean subtracted after scaling.
        std: per-channel standard deviation divided by.

    Shape:
        -> ``(3, image_size, image_size)`` float32
    """
    if isinstance(image, (str, os.PathLike)):
        try:
            arr = read_image(image, image_size)
        except _DECODE_ERRORS as exc:
            raise DataError(f"cannot read image {str(image)!r}: {exc}") from exc
    elif isinstance(image, Image.Image):
        arr = to_uint8_chw(image, image_size)
    else:
        arr = _array_to_uint8_chw(image, image_size)
    x = torch.from_numpy(arr).float().div_(255.0)
    return normalize_image(x, mean, std)


def _array_to_uint8_chw(image: Any, image_size: int) -> np.ndarray:
    if isinstance(image, Tensor):
        image = image.detach().cpu().numpy()
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[2] not in (1, 3, 4):
        arr = arr.transpose(1, 2, 0)  # (C, H, W) -> (H, W, C)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise DataError(
            f"an image array must be (H, W), (H, W, C) or (C, H, W) with 1, 3 or 4 channels, "
            f"got shape {arr.shape}"
        )
    if arr.ndim == 3:
        arr = arr[:, :, :3]
    if arr.dtype != np.uint8:
        arr = np.clip(np.round(arr.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)
    return to_uint8_chw(Image.fromarray(np.ascontiguousarray(arr)), image_size)


def normalization_stats(
    normalize: str | tuple[Sequence[float], Sequence[float]],
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel ``(mean, std)`` for a ``normalize`` setting.

    ``"cifar10"`` gives ``CIFAR10_MEAN`` / ``CIFAR10_STD``; ``"none"`` gives
    mean 0 and std 1 (values stay in ``[0, 1]``); a pair ``(mean, std)`` of 3
    values each is checked and returned as floats.
    """
    if isinstance(normalize, str):
        if normalize == "cifar10":
            return CIFAR10_MEAN, CIFAR10_STD
        if normalize == "none":
            return (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
        raise ValueError(
            f"normalize = {normalize!r} is not valid: expected 'cifar10', 'none' or a "
            "(mean, std) pair (image folders also accept 'compute')"
        )
    if len(normalize) != 2:
        raise ValueError(f"normalize = {normalize!r} must be a (mean, std) pair")
    mean, std = normalize
    mean_t, std_t = _stats(mean, "mean").flatten(), _stats(std, "std").flatten()
    if bool((std_t <= 0).any()):
        raise ValueError(f"std = {list(std)} must be positive")
    return tuple(mean_t.tolist()), tuple(std_t.tolist())


# ----------------------------------------------------------------------------- dataset


def image_item(
    x: Tensor,
    augment: ImageAugment | None,
    mean: Tensor,
    std: Tensor,
    label: int,
    group: int = -1,
) -> dict[str, Tensor]:
    """An item's ``image``, ``label`` and ``group``: ``x`` augmented (if ``augment``), normalised.

    Shape:
        x: ``(3, S, S)`` in ``[0, 1]``; mean, std: ``(3, 1, 1)``
    """
    if augment is not None:
        x = augment(x)
    return {
        "image": (x - mean) / std,
        "label": torch.tensor(label, dtype=torch.int64),
        "group": torch.tensor(group, dtype=torch.int64),
    }


def _class_folders(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


class ImageFolderDataset(Dataset[dict[str, Tensor]]):
    """Images in one subfolder per class; sorted class names map to labels 0, 1, ...

    With ``cache=True`` every image is decoded once, when the dataset is built,
    into one ``uint8`` array ``(N, 3, S, S)`` (CIFAR-10's 50,000 training images
    take 150 MB), so no epoch decodes again and DataLoader workers share the
    array. Augmentation and normalisation are applied after the cache, on
    every access. Files that cannot be decoded are skipped with one warning
    naming them; ``skipped`` counts them. With ``cache=False`` only each file's
    header is checked up front and a file that fails to decode later raises
    :class:`DataError`.

    Normalisation: ``normalize="cifar10"`` (default) uses the CIFAR-10
    per-channel constants ``CIFAR10_MEAN`` / ``CIFAR10_STD`` (the same as
    :func:`image_to_tensor`, so single images embed like training images);
    ``"compute"`` uses this folder's own per-channel mean and std (pass
    ``normalize=(train.mean, train.std)`` to the held-out split); ``"none"``
    keeps values in ``[0, 1]``; a pair ``(mean, std)`` of 3 values each is
    used as given.

    Args:
        root: folder with one subfolder per class.
        image_size: side of the square images returned (resized when needed).
        extensions: file name endings read, case-insensitive.
        augment: augmentation applied to each item, or None.
        normalize: ``"cifar10"``, ``"compute"``, ``"none"`` or ``(mean, std)``.
        cache: decode all images once into memory.
        files: optional paths relative to ``root`` (``class/name.png``) to use
            instead of every image found; labels still come from all class
            folders of ``root``, so splits share one mapping.

    Attributes:
        paths: file paths relative to ``root`` (POSIX separators), one per item.
        labels: ``(N,)`` int64 label of each item.
        groups: ``(N,)`` int64, all ``-1``.
        label_names: class folder names, index = label.
        skipped: number of unreadable files left out.
        skipped_paths: those files, relative to ``root``.
        mean, std: the per-channel normalisation used (3 floats each).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        image_size: int = 32,
        extensions: Sequence[str] = ("png", "jpg", "jpeg"),
        augment: ImageAugment | None = None,
        normalize: str | tuple[Sequence[float], Sequence[float]] = "cifar10",
        cache: bool = True,
        files: Sequence[str | os.PathLike[str]] | None = None,
    ) -> None:
        if image_size < 1:
            raise ValueError(f"image_size = {image_size} must be >= 1")
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"image folder {str(self.root)!r} does not exist or is not a folder")
        self.image_size = image_size
        self.augment = augment
        self.cache = cache
        self.extensions = tuple(e.lower().lstrip(".") for e in extensions)
        if not self.extensions:
            raise ValueError("extensions must name at least one file type, e.g. ('png',)")

        self.label_names = _class_folders(self.root)
        if not self.label_names:
            raise DataError(
                f"image folder {str(self.root)!r} has no class subfolders "
                f"(expected {str(self.root)!r}/<class>/<image>.{self.extensions[0]})"
            )
        candidates = self._list_files(files)
        self.skipped_paths: list[str] = []
        kept: list[str] = []
        arrays: list[np.ndarray] = []
        for rel in candidates:
            try:
                if cache:
                    arrays.append(read_image(self.root / rel, image_size))
                else:
                    with Image.open(self.root / rel):
                        pass
            except _DECODE_ERRORS as exc:
                self.skipped_paths.append(f"{rel} ({type(exc).__name__})")
                continue
            kept.append(rel)
        self.skipped = len(self.skipped_paths)
        if self.skipped:
            shown = ", ".join(self.skipped_paths[:10])
            more = f" and {self.skipped - 10} more" if self.skipped > 10 else ""
            warnings.warn(
                f"skipped {self.skipped} unreadable image(s) in {str(self.root)!r}: {shown}{more}",
                stacklevel=2,
            )
        if not kept:
            raise DataError(
                f"no readable images in {str(self.root)!r} (looked for "
                f"{', '.join('*.' + e for e in self.extensions)} in {len(self.label_names)} "
                f"class folder(s); {self.skipped} unreadable)"
            )
        self.paths = kept
        index = {name: i for i, name in enumerate(self.label_names)}
        self.labels = np.array([index[p.split("/", 1)[0]] for p in kept], dtype=np.int64)
        self.groups = np.full(len(kept), -1, dtype=np.int64)
        self._images: np.ndarray | None = np.stack(arrays) if cache else None
        self.mean, self.std = self._resolve_normalize(normalize)
        self._mean_t = torch.tensor(self.mean, dtype=torch.float32).view(3, 1, 1)
        self._std_t = torch.tensor(self.std, dtype=torch.float32).view(3, 1, 1)

    def _list_files(self, files: Sequence[str | os.PathLike[str]] | None) -> list[str]:
        if files is not None:
            out = []
            for f in files:
                rel = Path(f).as_posix()
                if Path(rel).is_absolute() or "/" not in rel:
                    raise DataError(
                        f"file {rel!r} must be a path relative to {str(self.root)!r} "
                        "of the form <class>/<image>"
                    )
                cls = rel.split("/", 1)[0]
                if cls not in self.label_names:
                    raise DataError(
                        f"file {rel!r} is not in a class folder of {str(self.root)!r} "
                        f"(classes: {', '.join(self.label_names)})"
                    )
                if not (self.root / rel).is_file():
                    raise DataError(f"file {rel!r} does not exist in {str(self.root)!r}")
                out.append(rel)
            return out
        out = []
        for cls in self.label_names:
            for p in sorted((self.root / cls).rglob("*")):
                if p.name.startswith(".") or not p.is_file():
                    continue
                if p.suffix.lower().lstrip(".") in self.extensions:
                    out.append(p.relative_to(self.root).as_posix())
        return out

    def _resolve_normalize(
        self, normalize: str | tuple[Sequence[float], Sequence[float]]
    ) -> tuple[tuple[float, ...], tuple[float, ...]]:
        if normalize == "compute":
            return self._compute_stats()
        return normalization_stats(normalize)

    def _compute_stats(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        total = np.zeros(3)
        total_sq = np.zeros(3)
        count = 0
        for i in range(len(self)):
            x = self._uint8(i).astype(np.float64) / 255.0
            total += x.sum(axis=(1, 2))
            total_sq += np.square(x).sum(axis=(1, 2))
            count += x.shape[1] * x.shape[2]
        mean = total / count
        std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
        std = np.where(std > 1e-6, std, 1.0)  # a constant channel is left unscaled
        return tuple(mean.tolist()), tuple(std.tolist())

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, indices: Sequence[int] | np.ndarray) -> ImageFolderDataset:
        """The items at ``indices`` (in that order), taken from this dataset's decoded cache.

        Labels, label names, normalisation and augmentation are kept; no file
        is read again.
        """
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise IndexError(
                f"subset indices must be in [0, {len(self)}), got {idx.min()}..{idx.max()}"
            )
        view = copy.copy(self)
        view.paths = [self.paths[i] for i in idx.tolist()]
        view.labels = self.labels[idx]
        view.groups = self.groups[idx]
        view._images = None if self._images is None else self._images[idx]
        return view

    def with_augment(self, augment: ImageAugment | None) -> ImageFolderDataset:
        """The same items with another augmentation (None: none); shares the decoded cache."""
        view = copy.copy(self)
        view.augment = augment
        return view

    def _uint8(self, i: int) -> np.ndarray:
        if self._images is not None:
            return self._images[i]
        try:
            return read_image(self.root / self.paths[i], self.image_size)
        except _DECODE_ERRORS as exc:
            raise DataError(f"cannot read image {str(self.root / self.paths[i])!r}: {exc}") from exc

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        x = torch.from_numpy(np.array(self._uint8(i))).float().div_(255.0)
        return image_item(x, self.augment, self._mean_t, self._std_t, int(self.labels[i]))
