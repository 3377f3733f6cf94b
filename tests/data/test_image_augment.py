"""ImageAugment: shape-preserving, reproducible by seed, each operation does its job."""

from __future__ import annotations

import pytest
import torch

from cpckit.data.image_augment import ImageAugment


def _images(b: int = 4, size: int = 16) -> torch.Tensor:
    return torch.rand(b, 3, size, size, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"crop_scale": (0.3, 1.0)}, {"crop_padding": 0, "color_jitter": 0.0}],
)
def test_img_augment_keeps_shape_and_range(kwargs: dict) -> None:
    aug = ImageAugment(seed=0, **kwargs)
    x = _images()
    out = aug(x)
    assert out.shape == x.shape and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1
    single = aug(x[0])
    assert single.shape == x[0].shape


def test_img_augment_is_reproducible_by_seed() -> None:
    x = _images()
    a, b, c = ImageAugment(seed=7), ImageAugment(seed=7), ImageAugment(seed=8)
    first_a, first_b, first_c = a(x), b(x), c(x)
    assert torch.equal(first_a, first_b)
    assert not torch.equal(first_a, first_c)
    second_a = a(x)
    assert torch.equal(second_a, b(x))
    assert not torch.equal(first_a, second_a)  # the generator moves on between calls


def test_img_augment_explicit_generator_overrides_seed() -> None:
    x = _images()
    out1 = ImageAugment(seed=1)(x, torch.Generator().manual_seed(5))
    out2 = ImageAugment(seed=2)(x, torch.Generator().manual_seed(5))
    assert torch.equal(out1, out2)


def test_img_augment_identity_when_everything_is_off() -> None:
    aug = ImageAugment(
        crop_padding=0, horizontal_flip=False, color_jitter=0.0, grayscale_p=0.0, seed=0
    )
    x = _images()
    assert torch.equal(aug(x), x)


def test_img_padded_crop_is_a_shift_of_the_image() -> None:
    aug = ImageAugment(
        crop_padding=2, horizontal_flip=False, color_jitter=0.0, grayscale_p=0.0, seed=3
    )
    x = _images(b=8, size=12) + 1.0  # zero padding is then distinguishable from content
    out = aug(x)
    for img, res in zip(x, out):
        matches = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if torch.equal(
                res[:, max(0, -dy) : 12 - max(0, dy), max(0, -dx) : 12 - max(0, dx)],
                img[:, max(0, dy) : 12 - max(0, -dy), max(0, dx) : 12 - max(0, -dx)],
            )
        ]
        assert len(matches) == 1
        dy, dx = matches[0]
        assert int((res == 0).all(dim=0).sum()) == 12 * 12 - (12 - abs(dy)) * (12 - abs(dx))


def test_img_flip_and_grayscale_with_probability_one_side() -> None:
    x = _images()
    flip_only = ImageAugment(crop_padding=0, color_jitter=0.0, grayscale_p=0.0, seed=0)
    out = flip_only(torch.cat([x] * 8))
    flipped = [torch.equal(o, i.flip(-1)) for o, i in zip(out, torch.cat([x] * 8))]
    kept = [torch.equal(o, i) for o, i in zip(out, torch.cat([x] * 8))]
    assert all(f or k for f, k in zip(flipped, kept))
    assert 0 < sum(flipped) < len(flipped)
    gray = ImageAugment(
        crop_padding=0, horizontal_flip=False, color_jitter=0.0, grayscale_p=1.0, seed=0
    )(x)
    assert torch.equal(gray[:, 0], gray[:, 1]) and torch.equal(gray[:, 1], gray[:, 2])
    torch.testing.assert_close(gray[:, 0], 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2])


def test_img_color_jitter_changes_colours_but_not_geometry() -> None:
    x = torch.full((2, 3, 8, 8), 0.5)
    x[:, 0, :, :4] = 0.8
    out = ImageAugment(crop_padding=0, horizontal_flip=False, grayscale_p=0.0, seed=0)(x)
    assert not torch.allclose(out, x)
    # Columns that were equal stay equal: jitter acts per pixel, the same everywhere.
    assert torch.equal(out[..., 0], out[..., 3]) and torch.equal(out[..., 4], out[..., 7])


def test_img_augment_reseeds_per_dataloader_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    x = _images()
    outputs = {}
    for worker_seed in (100, 101):
        info = SimpleNamespace(seed=worker_seed, id=worker_seed - 100)
        monkeypatch.setattr(torch.utils.data, "get_worker_info", lambda info=info: info)
        outputs[worker_seed] = [ImageAugment(seed=0)(x), ImageAugment(seed=0)(x)]
    assert torch.equal(outputs[100][0], outputs[100][1])  # same worker seed: reproducible
    assert not torch.equal(outputs[100][0], outputs[101][0])  # other worker: other draws


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"crop_padding": -1}, "crop_padding = -1"),
        ({"crop_scale": (0.0, 1.0)}, "crop_scale"),
        ({"color_jitter": 1.5}, "color_jitter = 1.5"),
        ({"grayscale_p": 2.0}, "grayscale_p = 2.0"),
    ],
)
def test_img_augment_rejects_bad_settings(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ImageAugment(**kwargs)


def test_img_augment_rejects_wrong_shape() -> None:
    with pytest.raises(ValueError, match=r"\(3, H, W\) or \(B, 3, H, W\)"):
        ImageAugment(seed=0)(torch.rand(1, 16, 16))
