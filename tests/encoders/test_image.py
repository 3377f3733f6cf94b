"""The patch grid (shapes, overlap, content, grid-to-sequence order) and PatchEncoder (output
shapes, sequence order end to end, gradients, bad input)."""

from __future__ import annotations

import pytest
import torch

from cpckit.encoders.image import (
    PatchEncoder,
    augment_patches,
    grid_shape,
    grid_to_sequence,
    patch_grid,
    sequence_positions,
)


@pytest.mark.parametrize(
    ("kwargs", "image_size", "length"),
    [
        ({}, 32, 49),
        ({"patch_size": 16, "stride": 8, "z_dim": 32, "width": 8}, 32, 9),
        ({"patch_size": 7, "stride": 7, "depth": 0, "width": 8, "z_dim": 16}, 28, 16),
        ({"norm": "layer", "order": "column", "width": 8, "z_dim": 12}, 32, 49),
        ({"norm": "none", "depth": 1, "width": 8, "z_dim": 12, "stem_stride": 2}, 24, 25),
        ({"in_channels": 1, "width": 8, "z_dim": 12}, 16, 9),
    ],
)
def test_img_encoder_output_shape(kwargs: dict, image_size: int, length: int) -> None:
    enc = PatchEncoder(**kwargs)
    channels = kwargs.get("in_channels", 3)
    z = enc(torch.randn(3, channels, image_size, image_size))
    assert z.shape == (3, length, enc.z_dim)
    assert enc.sequence_length(image_size) == length
    gh, gw = enc.grid_shape_for(image_size)
    assert gh * gw == length


def test_img_default_encoder_matches_the_paper_grid() -> None:
    enc = PatchEncoder()
    assert enc.z_dim == 256
    assert enc.grid_shape_for(32) == (7, 7)


@pytest.mark.parametrize("order", ["raster", "column"])
def test_img_encoder_sequence_step_is_the_latent_of_its_patch(order: str) -> None:
    torch.manual_seed(0)
    enc = PatchEncoder(width=8, depth=1, z_dim=6, norm="none", order=order).eval()
    images = torch.randn(2, 3, 20, 20)
    z = enc(images)
    grid = patch_grid(images, 8, 4)
    cells = sequence_positions(4, 4, order).tolist()
    in_order = torch.stack([grid[:, r, c] for r, c in cells], dim=1)  # (B, L, C, p, p)
    expected = enc.encode_patches(in_order.reshape(-1, 3, 8, 8)).view(2, 16, 6)
    torch.testing.assert_close(z, expected, rtol=1e-5, atol=1e-5)


def test_img_column_and_raster_orders_are_transposes() -> None:
    torch.manual_seed(0)
    raster = PatchEncoder(width=8, depth=1, z_dim=6, norm="none", order="raster").eval()
    column = PatchEncoder(width=8, depth=1, z_dim=6, norm="none", order="column").eval()
    column.load_state_dict(raster.state_dict())
    images = torch.randn(2, 3, 32, 32)
    z_r, z_c = raster(images), column(images)
    torch.testing.assert_close(
        z_r.view(2, 7, 7, 6).transpose(1, 2).reshape(2, 49, 6), z_c, rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("norm", ["batch", "layer", "none"])
def test_img_encoder_gradients_reach_every_parameter(norm: str) -> None:
    torch.manual_seed(0)
    enc = PatchEncoder(width=8, depth=2, z_dim=8, norm=norm)
    z = enc(torch.randn(2, 3, 16, 16))
    (z * torch.randn_like(z)).sum().backward()
    for name, p in enc.named_parameters():
        assert p.grad is not None, name
        assert p.grad.abs().sum() > 0, name


def test_img_encoder_rejects_bad_images() -> None:
    enc = PatchEncoder(width=8, z_dim=8)
    with pytest.raises(
        ValueError, match=r"images must have shape \(B, 3, H, W\), got \(2, 1, 32, 32\)"
    ):
        enc(torch.randn(2, 1, 32, 32))
    with pytest.raises(ValueError, match="does not fit"):
        enc(torch.randn(2, 3, 6, 6))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"order": "diagonal"}, "order = 'diagonal' is not valid"),
        ({"norm": "group"}, "norm = 'group' is not valid"),
        ({"depth": -1}, "depth = -1 must be >= 0"),
        ({"z_dim": 0}, "z_dim = 0 must be >= 1"),
        ({"stride": 0}, "stride = 0 must be >= 1"),
        ({"stem_stride": 3}, "stem_stride = 3 is not valid"),
    ],
)
def test_img_encoder_rejects_bad_settings(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PatchEncoder(**kwargs)


@pytest.mark.parametrize(
    ("image_size", "patch_size", "stride", "expected"),
    [
        (32, 8, 4, (7, 7)),
        (32, 16, 8, (3, 3)),
        (28, 7, 7, (4, 4)),
        (32, 32, 1, (1, 1)),
        (32, 8, 5, (5, 5)),  # 32 - 8 = 24 is not a multiple of 5: the last 4 pixels are unused
        ((32, 16), 8, 4, (7, 3)),
    ],
)
def test_img_grid_shape_matches_formula(
    image_size: int | tuple[int, int], patch_size: int, stride: int, expected: tuple[int, int]
) -> None:
    assert grid_shape(image_size, patch_size, stride) == expected
    h, w = (image_size, image_size) if isinstance(image_size, int) else image_size
    grid = patch_grid(torch.zeros(2, 3, h, w), patch_size, stride)
    assert grid.shape == (2, *expected, 3, patch_size, patch_size)


def test_img_grid_shape_rejects_patch_larger_than_image() -> None:
    with pytest.raises(ValueError, match=r"a 40x40 patch does not fit in a 32x32 image"):
        grid_shape(32, 40, 4)
    with pytest.raises(ValueError, match="does not fit in a 32x16 image"):
        patch_grid(torch.zeros(1, 3, 32, 16), 20, 4)


@pytest.mark.parametrize(("patch_size", "stride"), [(0, 4), (8, 0), (-1, 1)])
def test_img_grid_shape_rejects_non_positive_sizes(patch_size: int, stride: int) -> None:
    with pytest.raises(ValueError, match="must be >= 1"):
        grid_shape(32, patch_size, stride)


def test_img_patch_grid_rejects_wrong_rank() -> None:
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        patch_grid(torch.zeros(3, 32, 32), 8, 4)


@pytest.mark.parametrize(("size", "patch_size", "stride"), [(32, 8, 4), (28, 7, 7), (20, 6, 3)])
def test_img_patch_content_equals_image_slice(size: int, patch_size: int, stride: int) -> None:
    images = torch.randn(2, 3, size, size)
    grid = patch_grid(images, patch_size, stride)
    gh, gw = grid_shape(size, patch_size, stride)
    for i in range(gh):
        for j in range(gw):
            top, left = i * stride, j * stride
            expected = images[:, :, top : top + patch_size, left : left + patch_size]
            assert torch.equal(grid[:, i, j], expected)


def test_img_neighbouring_patches_overlap_by_patch_minus_stride() -> None:
    # Pixel value = column index, so each patch shows where it starts.
    images = torch.arange(32.0).expand(1, 3, 32, 32)
    grid = patch_grid(images, 8, 4)
    assert grid[0, 0, 1, 0, 0, 0] == 4  # patch (0, 1) starts at column `stride`
    assert torch.equal(grid[0, 0, 0, :, :, 4:], grid[0, 0, 1, :, :, :4])  # 4 shared columns
    assert grid[0, 0, 6, 0, 0, -1] == 31  # the last patch ends at the last column


def test_img_patch_grid_is_a_view() -> None:
    images = torch.randn(1, 3, 32, 32)
    grid = patch_grid(images, 8, 4)
    assert grid.data_ptr() == images.data_ptr()


def test_img_raster_order_reads_rows_left_to_right() -> None:
    gh, gw = 3, 4
    cells = sequence_positions(gh, gw, "raster")
    assert cells.shape == (gh * gw, 2)
    for r in range(gh):
        for c in range(gw):
            assert cells[r * gw + c].tolist() == [r, c]


def test_img_column_order_reads_columns_top_to_bottom() -> None:
    gh, gw = 3, 4
    cells = sequence_positions(gh, gw, "column")
    for r in range(gh):
        for c in range(gw):
            assert cells[c * gh + r].tolist() == [r, c]
    assert cells[:gh].tolist() == [[0, 0], [1, 0], [2, 0]]  # first column, top to bottom


def test_img_grid_to_sequence_moves_latents_with_their_cell() -> None:
    b, gh, gw, d = 2, 3, 5, 4
    z_grid = torch.randn(b, gh, gw, d)
    for order in ("raster", "column"):
        seq = grid_to_sequence(z_grid, order)
        assert seq.shape == (b, gh * gw, d)
        for t, (r, c) in enumerate(sequence_positions(gh, gw, order).tolist()):
            assert torch.equal(seq[:, t], z_grid[:, r, c])


def test_img_unknown_order_is_rejected() -> None:
    with pytest.raises(ValueError, match="order = 'spiral' is not valid"):
        sequence_positions(2, 2, "spiral")


def test_augment_patches_drop_keeps_one_channel_of_half_the_patches() -> None:
    patches = torch.randn(400, 3, 4, 4)
    out = augment_patches(patches, "drop", torch.Generator().manual_seed(0))
    zeroed = (out == 0).flatten(2).all(-1)  # (N, C): channel set to 0
    changed = zeroed.any(1)
    assert torch.equal(zeroed.sum(1)[changed], torch.full((int(changed.sum()),), 2))
    assert 150 < int(changed.sum()) < 250
    kept = ~zeroed
    assert torch.equal(out[kept], patches[kept])


def test_augment_patches_flip_mirrors_half_the_patches() -> None:
    patches = torch.randn(400, 3, 4, 4)
    out = augment_patches(patches, "flip", torch.Generator().manual_seed(0))
    same = (out == patches).flatten(1).all(1)
    mirrored = (out == patches.flip(-1)).flatten(1).all(1)
    assert bool((same | mirrored).all())
    assert 150 < int(mirrored.sum()) < 250
    assert torch.equal(augment_patches(patches, "none"), patches)
    with pytest.raises(ValueError, match="patch_augment = 'blur' is not valid"):
        augment_patches(patches, "blur")


def test_patch_augment_only_while_training() -> None:
    enc = PatchEncoder(width=8, depth=1, z_dim=6, norm="none", patch_augment="drop+flip")
    images = torch.randn(2, 3, 16, 16)
    enc.eval()
    assert torch.equal(enc(images), enc(images))
    enc.train()
    torch.manual_seed(0)
    assert not torch.allclose(enc(images), enc.eval()(images))
    with pytest.raises(ValueError, match="patch_augment = 'x' is not valid"):
        PatchEncoder(patch_augment="x")
