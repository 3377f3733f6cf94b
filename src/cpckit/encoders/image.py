"""Image encoder: an image read as a sequence of overlapping patches.

CPC for images (van den Oord et al. 2018, sec. 3.3; Hénaff et al. 2019) cuts
an image into an overlapping grid of patches, encodes every patch on its own
into a latent ``z``, and lets the context model predict the latents of patches
further along the grid. For a 32x32 image, 8x8 patches at stride 4 give a 7x7
grid, i.e. a sequence of 49 latents.

The grid is read as a sequence in one of two orders:

- ``"raster"``: row by row, left to right; cell ``(r, c)`` is step
  ``r * gw + c``. Predicting ``k`` steps ahead predicts the patch ``k``
  places further in reading order (wrapping onto the next row).
- ``"column"``: column by column, top to bottom; cell ``(r, c)`` is step
  ``c * gh + r``. Predicting ``k`` steps ahead predicts the patch ``k`` rows
  below in the same column (while that stays inside the column), which is
  CPC's image setting.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

__all__ = [
    "PatchEncoder",
    "ResidualBlock",
    "augment_patches",
    "grid_shape",
    "grid_to_sequence",
    "patch_grid",
    "sequence_positions",
]

ORDERS = ("raster", "column")
NORMS = ("batch", "layer", "none")
PATCH_AUGMENTS = ("none", "drop", "flip", "drop+flip")


def _pair(size: int | tuple[int, int], name: str) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    if len(size) != 2:
        raise ValueError(f"{name} = {size!r} must be an int or a (height, width) pair")
    return int(size[0]), int(size[1])


def _check_patch(patch_size: int, stride: int) -> None:
    if patch_size < 1:
        raise ValueError(f"patch_size = {patch_size} must be >= 1")
    if stride < 1:
        raise ValueError(f"stride = {stride} must be >= 1")


def grid_shape(image_size: int | tuple[int, int], patch_size: int, stride: int) -> tuple[int, int]:
    """Rows and columns ``(gh, gw)`` of the patch grid: ``(side - patch) // stride + 1``.

    Pixels past the last whole patch (when ``side - patch`` is not a multiple
    of ``stride``) are not covered by any patch.

    Args:
        image_size: image side, or ``(height, width)``.
        patch_size: patch side in pixels.
        stride: step between neighbouring patches in pixels.

    Raises:
        ValueError: the patch is larger than the image, or a size is < 1.
    """
    _check_patch(patch_size, stride)
    height, width = _pair(image_size, "image_size")
    if patch_size > height or patch_size > width:
        raise ValueError(
            f"a {patch_size}x{patch_size} patch does not fit in a {height}x{width} image: "
            f"use patch_size <= {min(height, width)} or larger images"
        )
    return (height - patch_size) // stride + 1, (width - patch_size) // stride + 1


def patch_grid(images: Tensor, patch_size: int, stride: int) -> Tensor:
    """Cut images into an overlapping grid of square patches (a view, no copy).

    Patch ``(i, j)`` is ``images[:, :, i*stride : i*stride+patch_size,
    j*stride : j*stride+patch_size]``.

    Args:
        images: batch of images.
        patch_size: patch side in pixels.
        stride: step between neighbouring patches in pixels.

    Shape:
        images: ``(B, C, H, W)`` -> ``(B, gh, gw, C, patch_size, patch_size)``
    """
    if images.dim() != 4:
        raise ValueError(f"images must have shape (B, C, H, W), got {tuple(images.shape)}")
    grid_shape((images.shape[2], images.shape[3]), patch_size, stride)
    # (B, C, gh, W, p) -> (B, C, gh, gw, p, p) -> (B, gh, gw, C, p, p)
    patches = images.unfold(2, patch_size, stride).unfold(3, patch_size, stride)
    return patches.permute(0, 2, 3, 1, 4, 5)


def _check_order(order: str) -> None:
    if order not in ORDERS:
        raise ValueError(f"order = {order!r} is not valid: expected 'raster' or 'column'")


def grid_to_sequence(z_grid: Tensor, order: str = "raster") -> Tensor:
    """Read a grid of latents as a sequence.

    Args:
        z_grid: one latent per grid cell.
        order: ``"raster"`` (cell ``(r, c)`` -> step ``r * gw + c``) or
            ``"column"`` (cell ``(r, c)`` -> step ``c * gh + r``).

    Shape:
        z_grid: ``(B, gh, gw, D)`` -> ``(B, gh * gw, D)``
    """
    _check_order(order)
    if z_grid.dim() != 4:
        raise ValueError(f"z_grid must have shape (B, gh, gw, D), got {tuple(z_grid.shape)}")
    b, gh, gw, d = z_grid.shape
    if order == "column":
        z_grid = z_grid.transpose(1, 2)
    return z_grid.reshape(b, gh * gw, d)


def sequence_positions(gh: int, gw: int, order: str = "raster") -> Tensor:
    """Grid cell ``(row, col)`` of every sequence step.

    Shape:
        -> ``(gh * gw, 2)`` int64; row ``t`` is the cell read at step ``t``.
    """
    _check_order(order)
    if gh < 1 or gw < 1:
        raise ValueError(f"grid shape ({gh}, {gw}) must be at least (1, 1)")
    rows, cols = torch.meshgrid(torch.arange(gh), torch.arange(gw), indexing="ij")
    cells = torch.stack([rows, cols], dim=-1).unsqueeze(0)  # (1, gh, gw, 2)
    return grid_to_sequence(cells, order)[0]


def _check_patch_augment(kind: str) -> None:
    if kind not in PATCH_AUGMENTS:
        raise ValueError(
            f"patch_augment = {kind!r} is not valid: expected one of {', '.join(PATCH_AUGMENTS)}"
        )


def augment_patches(patches: Tensor, kind: str, generator: torch.Generator | None = None) -> Tensor:
    """Per-patch augmentation: each patch draws its own (CPC v2, Hénaff et al. 2019).

    - ``"drop"``: with probability 0.5 a patch keeps one random channel and
      the others are set to 0 (the mean of normalised images): colour
      dropping, so that neighbouring patches cannot be matched by colour.
    - ``"flip"``: with probability 0.5 a patch is flipped left to right, so
      the pixels two overlapping patches share no longer line up.
    - ``"drop+flip"``: both; ``"none"``: the patches unchanged.

    Shape:
        patches: ``(N, C, p, p)`` -> ``(N, C, p, p)``
    """
    _check_patch_augment(kind)
    n, c = patches.shape[:2]
    dev = patches.device
    if "drop" in kind:
        keep = torch.randint(c, (n,), generator=generator).to(dev)
        drop = torch.rand(n, generator=generator).to(dev) < 0.5
        mask = (torch.arange(c, device=dev) == keep[:, None]) | ~drop[:, None]  # (N, C)
        patches = patches * mask[:, :, None, None].to(patches.dtype)
    if "flip" in kind:
        flip = (torch.rand(n, generator=generator).to(dev) < 0.5)[:, None, None, None]
        patches = torch.where(flip, patches.flip(-1), patches)
    return patches


def _norm2d(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        # Layer norm over (C, h, w) of each patch, as in CPC v2 (Hénaff et al. 2019).
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm = {kind!r} is not valid: expected 'batch', 'layer' or 'none'")


class ResidualBlock(nn.Module):
    """``relu(x + norm(conv(relu(norm(conv(x))))))`` with 3x3 convs (He et al. 2016).

    Args:
        channels: input and output channels.
        norm: ``"batch"``, ``"layer"`` (one group norm group) or ``"none"``.

    Shape:
        x: ``(N, channels, h, w)`` -> ``(N, channels, h, w)``
    """

    def __init__(self, channels: int, *, norm: str = "batch") -> None:
        super().__init__()
        bias = norm == "none"
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=bias)
        self.norm1 = _norm2d(norm, channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=bias)
        self.norm2 = _norm2d(norm, channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        h = self.relu(self.norm1(self.conv1(x)))
        return self.relu(x + self.norm2(self.conv2(h)))


class PatchEncoder(nn.Module):
    """Encode each patch of an overlapping grid with a small residual CNN.

    CPC for images (van den Oord et al. 2018, sec. 3.3): every patch is encoded
    on its own (a stem conv, ``depth`` residual blocks, global average pooling,
    a linear map to ``z_dim``), then the ``(gh, gw)`` grid of latents is read
    as a sequence in ``order``. All ``B * gh * gw`` patches of a batch go
    through the CNN in one call.

    With ``norm="batch"`` the statistics are taken over all patches of the
    batch, so a patch's latent depends slightly on the other patches (CPC v2,
    Hénaff et al. 2019, uses layer norm to avoid this); ``"layer"`` normalises
    each patch on its own.

    Args:
        in_channels: image channels.
        patch_size: patch side in pixels.
        stride: step between neighbouring patches in pixels.
        width: channels of the patch CNN.
        depth: residual blocks after the stem (0 allowed).
        z_dim: latent dimension.
        order: ``"raster"`` (row by row) or ``"column"`` (column by column,
            top to bottom).
        norm: ``"batch"``, ``"layer"`` or ``"none"``.
        stem_stride: stride of the stem conv; 2 halves each side of the
            feature maps (about 4x less compute in the residual blocks).
        patch_augment: per-patch augmentation in training mode only
            (:func:`augment_patches`): ``"none"``, ``"drop"``, ``"flip"`` or
            ``"drop+flip"``.
        patch_augment_to: ``"both"`` (every pass in training mode) or
            ``"past"``: the training step also encodes the clean patches
            (``forward(images, augment=False)``) as the positives and
            negatives, and the context reads the augmented ones.

    Shape:
        images: ``(B, in_channels, H, W)`` -> z: ``(B, gh * gw, z_dim)``
    """

    def __init__(
        self,
        *,
        in_channels: int = 3,
        patch_size: int = 8,
        stride: int = 4,
        width: int = 64,
        depth: int = 2,
        z_dim: int = 256,
        order: Literal["raster", "column"] | str = "raster",
        norm: Literal["batch", "layer", "none"] | str = "batch",
        stem_stride: int = 1,
        patch_augment: str = "none",
        patch_augment_to: str = "both",
    ) -> None:
        super().__init__()
        if patch_augment_to not in ("both", "past"):
            raise ValueError(
                f"patch_augment_to = {patch_augment_to!r} is not valid: expected both or past"
            )
        self.augment_past_only = patch_augment_to == "past" and patch_augment != "none"
        _check_patch(patch_size, stride)
        _check_order(order)
        for name, value in (("in_channels", in_channels), ("width", width), ("z_dim", z_dim)):
            if value < 1:
                raise ValueError(f"{name} = {value} must be >= 1")
        if depth < 0:
            raise ValueError(f"depth = {depth} must be >= 0")
        if stem_stride not in (1, 2):
            raise ValueError(f"stem_stride = {stem_stride} is not valid: expected 1 or 2")
        _check_patch_augment(patch_augment)
        self.patch_augment = patch_augment
        self.in_channels = in_channels
        self.patch_size = patch_size
        self.stride = stride
        self.z_dim = z_dim
        self.order = order
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, stride=stem_stride, padding=1, bias=norm == "none"),
            _norm2d(norm, width),
            nn.ReLU(inplace=True),
        )
        self.blocks = nn.Sequential(*(ResidualBlock(width, norm=norm) for _ in range(depth)))
        self.proj = nn.Linear(width, z_dim)

    def grid_shape_for(self, image_size: int | tuple[int, int]) -> tuple[int, int]:
        """Patch grid ``(gh, gw)`` for images of ``image_size`` (side or ``(H, W)``)."""
        return grid_shape(image_size, self.patch_size, self.stride)

    def sequence_length(self, image_size: int | tuple[int, int]) -> int:
        """Latent steps ``L = gh * gw`` for images of ``image_size``."""
        gh, gw = self.grid_shape_for(image_size)
        return gh * gw

    def encode_patches(self, patches: Tensor) -> Tensor:
        """Latent of each patch.

        Shape:
            patches: ``(N, in_channels, p, p)`` -> ``(N, z_dim)``
        """
        h = self.blocks(self.stem(patches))
        return self.proj(h.mean(dim=(2, 3)))

    def forward(self, images: Tensor, augment: bool = True) -> Tensor:
        """Latents of the patch grid, per-patch augmented in training mode unless ``augment`` is False."""
        if images.dim() != 4 or images.shape[1] != self.in_channels:
            raise ValueError(
                f"images must have shape (B, {self.in_channels}, H, W), got {tuple(images.shape)}"
            )
        b, c = images.shape[:2]
        grid = patch_grid(images, self.patch_size, self.stride)  # (B, gh, gw, C, p, p)
        gh, gw = grid.shape[1:3]
        p = self.patch_size
        # One copy into channels-last patches (N, C, p, p): the convs run about
        # a quarter faster on CPU in that layout than in (N, C, p, p) contiguous.
        patches = grid.permute(0, 1, 2, 4, 5, 3).reshape(b * gh * gw, p, p, c).permute(0, 3, 1, 2)
        if augment and self.training and self.patch_augment != "none":
            patches = augment_patches(patches, self.patch_augment)
        z = self.encode_patches(patches)  # (B * gh * gw, D)
        return grid_to_sequence(z.view(b, gh, gw, self.z_dim), self.order)
