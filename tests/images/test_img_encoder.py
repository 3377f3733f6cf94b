"""PatchEncoder: output shapes, sequence order end to end, gradients, bad input."""

from __future__ import annotations

import pytest
import torch

from cpckit.encoders.image import PatchEncoder, augment_patches, patch_grid, sequence_positions


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
