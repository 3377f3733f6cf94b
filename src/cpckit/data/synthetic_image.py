"""Synthetic images that need no download: procedurally drawn pattern classes.

Each class is a kind of pattern (stripes of one orientation, checkerboard,
rings, ...) drawn with a random period, phase, centre, edge sharpness and pair
of colours, plus Gaussian pixel noise. Neighbouring patches of one image share
the pattern's period and colours, which is what CPC can learn to predict; the
class is a property of the whole grid of patches.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from cpckit.data.image import image_item, normalization_stats
from cpckit.data.image_augment import ImageAugment

__all__ = ["PATTERN_NAMES", "SyntheticImageDataset", "make_pattern_image"]

PATTERN_NAMES: tuple[str, ...] = (
    "horizontal stripes",
    "vertical stripes",
    "checkerboard",
    "rings",
    "diagonal stripes",
    "anti-diagonal stripes",
    "spokes",
    "dots",
)
"""Class ``k`` draws pattern ``PATTERN_NAMES[k]``."""


def check_pattern_counts(n: int, n_classes: int, *, classes_note: str = "") -> None:
    """Raise ValueError unless ``n >= 1`` and ``2 <= n_classes <= len(PATTERN_NAMES)``.

    ``classes_note`` is put before the list of pattern names in the message.
    """
    if n < 1:
        raise ValueError(f"n = {n} must be >= 1")
    if not 2 <= n_classes <= len(PATTERN_NAMES):
        raise ValueError(
            f"n_classes = {n_classes} is not valid: expected 2 to {len(PATTERN_NAMES)} "
            f"({classes_note}{', '.join(PATTERN_NAMES)})"
        )


def normalization_tensors(
    normalize: str | tuple[Sequence[float], Sequence[float]],
) -> tuple[tuple[float, ...], tuple[float, ...], Tensor, Tensor]:
    """``(mean, std)`` of :func:`~cpckit.data.image.normalization_stats` and both as ``(3, 1, 1)``."""
    mean, std = normalization_stats(normalize)
    mean_t = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)
    return mean, std, mean_t, std_t


def _wave(class_id: int, rng: np.random.Generator, size: int) -> np.ndarray:
    """Pattern of one class in ``[-1, 1]``, ``(size, size)`` float64."""
    scale = size / 32
    period = rng.uniform(4.0, 10.0) * scale
    phase = rng.uniform(0.0, 2 * np.pi)
    coords = np.arange(size, dtype=np.float64)
    y, x = np.meshgrid(coords, coords, indexing="ij")
    cy, cx = rng.uniform(0.25, 0.75, size=2) * (size - 1)
    k = 2 * np.pi / period
    if class_id == 0:
        return np.sin(k * y + phase)
    if class_id == 1:
        return np.sin(k * x + phase)
    if class_id == 2:
        return np.sin(k * (x - cx)) * np.sin(k * (y - cy))
    if class_id == 3:
        return np.sin(k * np.hypot(x - cx, y - cy) + phase)
    if class_id == 4:
        return np.sin(k * (x + y) / np.sqrt(2) + phase)
    if class_id == 5:
        return np.sin(k * (x - y) / np.sqrt(2) + phase)
    if class_id == 6:
        spokes = int(rng.integers(3, 9))
        return np.sin(spokes * np.arctan2(y - cy, x - cx) + phase)
    if class_id == 7:
        return np.cos(k * (x - cx)) + np.cos(k * (y - cy)) - 1.0
    raise ValueError(
        f"class_id = {class_id} is not valid: expected 0 to {len(PATTERN_NAMES) - 1} "
        f"({', '.join(PATTERN_NAMES)})"
    )


def make_pattern_image(
    class_id: int, rng: np.random.Generator, image_size: int, *, noise_std: float = 0.0
) -> np.ndarray:
    """Draw one image of pattern class ``class_id`` (see ``PATTERN_NAMES``).

    The pattern's period (4 to 10 pixels at 32x32, scaled with the size),
    phase, centre, edge sharpness and its two colours (each channel at least
    0.35 apart, so every pattern is visible) are drawn from ``rng``; then
    Gaussian noise of ``noise_std`` is added and values are clipped to
    ``[0, 1]``. The same ``rng`` state gives the same image.

    Args:
        class_id: pattern index, ``0 <= class_id < len(PATTERN_NAMES)``.
        rng: numpy generator the image's randomness is drawn from.
        image_size: side of the square image in pixels.
        noise_std: standard deviation of the added pixel noise.

    Shape:
        -> ``(3, image_size, image_size)`` float32 in ``[0, 1]``
    """
    if image_size < 4:
        raise ValueError(f"image_size = {image_size} must be >= 4")
    if noise_std < 0:
        raise ValueError(f"noise_std = {noise_std} must be >= 0")
    wave = np.clip(_wave(int(class_id), rng, image_size), -1.0, 1.0)
    sharpness = rng.uniform(1.0, 5.0)
    v = 0.5 + 0.5 * np.tanh(sharpness * wave) / np.tanh(sharpness)  # (H, W) in [0, 1]
    background = rng.uniform(0.0, 1.0, size=3)
    foreground = (background + rng.uniform(0.35, 0.65, size=3)) % 1.0
    img = background[:, None, None] * (1 - v) + foreground[:, None, None] * v
    if noise_std > 0:
        img = img + noise_std * rng.standard_normal(img.shape)
    return np.clip(img, 0.0, 1.0).astype(np.float32)


class SyntheticImageDataset(Dataset[dict[str, Tensor]]):
    """Images of ``n_classes`` procedurally drawn pattern classes plus noise.

    Item ``i`` has label ``i % n_classes`` (classes exactly balanced) and is a
    pure function of ``(seed, i)``: the same seed gives the same data in any
    order, any worker and any ``n``. Items follow docs/contracts.md.

    Args:
        n: number of images.
        image_size: side of the square images in pixels.
        n_classes: number of pattern classes, 2 to ``len(PATTERN_NAMES)``.
        noise_std: standard deviation of the Gaussian pixel noise (in [0, 1] units).
        augment: augmentation applied to each item (before normalisation), or None.
        normalize: ``"cifar10"`` (the constants of image folders, default),
            ``"none"`` or a ``(mean, std)`` pair.
        seed: data seed.

    Attributes:
        labels: ``(n,)`` int64.
        groups: ``(n,)`` int64, all ``-1``.
        label_names: pattern names, index = label.
        mean, std: the per-channel normalisation used.
    """

    def __init__(
        self,
        n: int,
        *,
        image_size: int = 32,
        n_classes: int = 2,
        noise_std: float = 0.05,
        augment: ImageAugment | None = None,
        normalize: str | tuple[Sequence[float], Sequence[float]] = "cifar10",
        seed: int = 0,
    ) -> None:
        check_pattern_counts(n, n_classes)
        if image_size < 4:
            raise ValueError(f"image_size = {image_size} must be >= 4")
        if noise_std < 0:
            raise ValueError(f"noise_std = {noise_std} must be >= 0")
        self.n = n
        self.image_size = image_size
        self.n_classes = n_classes
        self.noise_std = noise_std
        self.augment = augment
        self.seed = seed
        self.labels = np.arange(n, dtype=np.int64) % n_classes
        self.groups = np.full(n, -1, dtype=np.int64)
        self.label_names = list(PATTERN_NAMES[:n_classes])
        self.mean, self.std, self._mean_t, self._std_t = normalization_tensors(normalize)

    def __len__(self) -> int:
        return self.n

    def raw_image(self, i: int) -> np.ndarray:
        """Item ``i`` before augmentation and normalisation, ``(3, S, S)`` in ``[0, 1]``."""
        if not 0 <= i < self.n:
            raise IndexError(f"index {i} is out of range for {self.n} images")
        rng = np.random.default_rng([self.seed, i])
        return make_pattern_image(
            int(self.labels[i]), rng, self.image_size, noise_std=self.noise_std
        )

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        x = torch.from_numpy(self.raw_image(i))
        return image_item(x, self.augment, self._mean_t, self._std_t, int(self.labels[i]))
