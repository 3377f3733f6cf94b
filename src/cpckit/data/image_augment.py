"""Tensor augmentation of images: random crops, flips, colour jitter and grayscale (torch only)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from cpckit.data.bundle import WorkerRNG

__all__ = ["ImageAugment"]

_GRAY = (0.299, 0.587, 0.114)  # ITU-R 601 luma weights, as in Pillow's "L" mode


class ImageAugment:
    """Random crop, horizontal flip, colour jitter and grayscale on image tensors.

    The usual CIFAR augmentations (as in SimCLR, Chen et al. 2020, and CPC v2,
    Hénaff et al. 2019) written with torch ops, for images scaled to ``[0, 1]``
    (before normalisation). Every image of a batch draws its own parameters.

    Randomness: with a ``seed`` the augmentation owns a ``torch.Generator``, so
    the same seed gives the same sequence of outputs. Inside a DataLoader
    worker that generator is re-seeded from ``(seed, worker seed)``, so workers
    and epochs differ while a seeded loader stays reproducible. Without a seed
    it draws from torch's global generator. A ``generator`` passed to the call
    overrides both.

    Args:
        crop_padding: zero padding on each side before a random crop back to the
            input size (4 for 32x32 CIFAR); 0 turns the padded crop off.
        crop_scale: when given, a random resized crop replaces the padded crop:
            a box of ``scale`` in this range of the image area and aspect ratio
            in ``[3/4, 4/3]``, resized back to the input size (bilinear).
        horizontal_flip: flip left-right with probability 0.5.
        color_jitter: strength ``s``: brightness, contrast and saturation each
            scaled by a factor drawn from ``[1 - s, 1 + s]``; 0 turns it off.
        grayscale_p: probability of converting an image to grayscale (kept as
            3 equal channels).
        seed: seed of the augmentation's own generator, or None.

    Shape:
        images: ``(3, H, W)`` or ``(B, 3, H, W)`` float -> same shape, in ``[0, 1]``
    """

    def __init__(
        self,
        *,
        crop_padding: int = 4,
        crop_scale: tuple[float, float] | None = None,
        horizontal_flip: bool = True,
        color_jitter: float = 0.4,
        grayscale_p: float = 0.2,
        seed: int | None = None,
    ) -> None:
        if crop_padding < 0:
            raise ValueError(f"crop_padding = {crop_padding} must be >= 0")
        if crop_scale is not None:
            lo, hi = crop_scale
            if not 0 < lo <= hi <= 1:
                raise ValueError(f"crop_scale = {crop_scale} must satisfy 0 < low <= high <= 1")
        if not 0 <= color_jitter < 1:
            raise ValueError(f"color_jitter = {color_jitter} must be in [0, 1)")
        if not 0 <= grayscale_p <= 1:
            raise ValueError(f"grayscale_p = {grayscale_p} must be in [0, 1]")
        self.crop_padding = crop_padding
        self.crop_scale = crop_scale
        self.horizontal_flip = horizontal_flip
        self.color_jitter = color_jitter
        self.grayscale_p = grayscale_p
        self.seed = seed
        self._rng = None if seed is None else WorkerRNG(seed)

    def __repr__(self) -> str:
        return (
            f"ImageAugment(crop_padding={self.crop_padding}, crop_scale={self.crop_scale}, "
            f"horizontal_flip={self.horizontal_flip}, color_jitter={self.color_jitter}, "
            f"grayscale_p={self.grayscale_p}, seed={self.seed})"
        )

    def __call__(self, images: Tensor, generator: torch.Generator | None = None) -> Tensor:
        single = images.dim() == 3
        if single:
            images = images.unsqueeze(0)
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(
                f"images must have shape (3, H, W) or (B, 3, H, W), got {tuple(images.shape)}"
            )
        gen = generator
        if gen is None and self._rng is not None:
            gen = self._rng.torch_generator()
        x = images.float()
        if self.crop_scale is not None:
            x = self._resized_crop(x, gen, self.crop_scale)
        elif self.crop_padding > 0:
            x = self._padded_crop(x, gen)
        if self.horizontal_flip:
            flip = _rand(x.shape[0], gen, x.device) < 0.5
            x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
        if self.color_jitter > 0:
            x = self._jitter(x, gen)
        if self.grayscale_p > 0:
            gray = _grayscale(x).expand_as(x)
            to_gray = _rand(x.shape[0], gen, x.device) < self.grayscale_p
            x = torch.where(to_gray.view(-1, 1, 1, 1), gray, x)
        return x[0] if single else x

    def _padded_crop(self, x: Tensor, gen: torch.Generator | None) -> Tensor:
        b, _, h, w = x.shape
        pad = self.crop_padding
        padded = F.pad(x, (pad, pad, pad, pad))
        top = torch.randint(0, 2 * pad + 1, (b,), generator=gen).to(x.device)
        left = torch.randint(0, 2 * pad + 1, (b,), generator=gen).to(x.device)
        rows = (top.view(b, 1) + torch.arange(h, device=x.device)).view(b, 1, h, 1)
        cols = (left.view(b, 1) + torch.arange(w, device=x.device)).view(b, 1, 1, w)
        batch = torch.arange(b, device=x.device).view(b, 1, 1, 1)
        chans = torch.arange(x.shape[1], device=x.device).view(1, -1, 1, 1)
        return padded[batch, chans, rows, cols]

    @staticmethod
    def _resized_crop(x: Tensor, gen: torch.Generator | None, scale: tuple[float, float]) -> Tensor:
        b = x.shape[0]
        lo, hi = scale
        area = lo + (hi - lo) * _rand(b, gen, torch.device("cpu"))
        log_ratio = (2 * _rand(b, gen, torch.device("cpu")) - 1) * math.log(4 / 3)
        ratio = torch.exp(log_ratio)
        # Box sides as fractions of the image sides, clipped to fit.
        fw = torch.sqrt(area * ratio).clamp(max=1.0)
        fh = torch.sqrt(area / ratio).clamp(max=1.0)
        cx = (1 - fw) * (2 * _rand(b, gen, torch.device("cpu")) - 1)
        cy = (1 - fh) * (2 * _rand(b, gen, torch.device("cpu")) - 1)
        theta = torch.zeros(b, 2, 3)
        theta[:, 0, 0], theta[:, 0, 2] = fw, cx
        theta[:, 1, 1], theta[:, 1, 2] = fh, cy
        grid = F.affine_grid(theta.to(x), list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    def _jitter(self, x: Tensor, gen: torch.Generator | None) -> Tensor:
        s = self.color_jitter
        factors = (1 - s + 2 * s * torch.rand(3, x.shape[0], generator=gen)).to(x)
        brightness, contrast, saturation = (f.view(-1, 1, 1, 1) for f in factors)
        x = (x * brightness).clamp(0, 1)
        mean = _grayscale(x).mean(dim=(2, 3), keepdim=True)
        x = (mean + contrast * (x - mean)).clamp(0, 1)
        gray = _grayscale(x)
        return (gray + saturation * (x - gray)).clamp(0, 1)


def _rand(n: int, gen: torch.Generator | None, device: torch.device) -> Tensor:
    return torch.rand(n, generator=gen).to(device)


def _grayscale(x: Tensor) -> Tensor:
    """Luma of ``(B, 3, H, W)`` images -> ``(B, 1, H, W)``."""
    weights = torch.tensor(_GRAY, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * weights).sum(dim=1, keepdim=True)
