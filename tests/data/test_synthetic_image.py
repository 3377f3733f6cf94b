"""Synthetic pattern images: deterministic by seed, contract items, classes separable."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cpckit.data.image_augment import ImageAugment
from cpckit.data.synthetic_image import PATTERN_NAMES, SyntheticImageDataset, make_pattern_image


def test_img_synthetic_items_follow_the_contract() -> None:
    ds = SyntheticImageDataset(10, n_classes=3, seed=0)
    assert len(ds) == 10
    assert ds.labels.tolist() == [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]
    assert ds.label_names == list(PATTERN_NAMES[:3])
    item = ds[4]
    assert set(item) == {"image", "label", "group"}
    assert item["image"].shape == (3, 32, 32) and item["image"].dtype == torch.float32
    assert item["label"].item() == 1 and item["label"].dtype == torch.int64
    assert item["label"].dim() == 0
    assert item["group"].item() == -1


def test_img_synthetic_is_a_pure_function_of_seed_and_index() -> None:
    a = SyntheticImageDataset(20, seed=3)
    b = SyntheticImageDataset(50, seed=3)
    c = SyntheticImageDataset(20, seed=4)
    assert torch.equal(a[7]["image"], b[7]["image"])
    assert torch.equal(a[7]["image"], a[7]["image"])
    assert torch.equal(a[19]["image"], b[19]["image"])  # any n, any order
    assert not torch.equal(a[7]["image"], c[7]["image"])
    assert not torch.equal(a[7]["image"], a[9]["image"])  # same class, other draw


def test_img_make_pattern_image_reuses_rng_state() -> None:
    for class_id in range(len(PATTERN_NAMES)):
        x1 = make_pattern_image(class_id, np.random.default_rng(1), 16, noise_std=0.1)
        x2 = make_pattern_image(class_id, np.random.default_rng(1), 16, noise_std=0.1)
        assert x1.shape == (3, 16, 16) and x1.dtype == np.float32
        assert np.array_equal(x1, x2)
        assert x1.min() >= 0 and x1.max() <= 1
        assert x1.std() > 0.1  # a visible pattern, not a flat colour
    with pytest.raises(ValueError, match="class_id = 8 is not valid"):
        make_pattern_image(8, np.random.default_rng(0), 16)


def test_img_synthetic_default_normalisation_matches_image_folders() -> None:
    raw = SyntheticImageDataset(4, normalize="none")
    norm = SyntheticImageDataset(4)
    mean = torch.tensor(norm.mean).view(3, 1, 1)
    std = torch.tensor(norm.std).view(3, 1, 1)
    torch.testing.assert_close(norm[2]["image"], (raw[2]["image"] - mean) / std)
    torch.testing.assert_close(raw[2]["image"], torch.from_numpy(raw.raw_image(2)))


def test_img_synthetic_with_augment_keeps_shape() -> None:
    ds = SyntheticImageDataset(4, augment=ImageAugment(seed=0), normalize="none")
    assert ds[0]["image"].shape == (3, 32, 32)
    assert not torch.equal(ds[0]["image"], torch.from_numpy(ds.raw_image(0)))


def _fft_features(images: np.ndarray) -> np.ndarray:
    """Log magnitude spectrum of the gray image: shift-invariant, class-agnostic features."""
    spectrum = np.abs(np.fft.rfft2(images.mean(axis=1)))
    return np.log1p(spectrum).reshape(len(images), -1)


def _linear_classifier_accuracy(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray
) -> float:
    """Ridge regression on one-hot labels (a closed-form linear classifier)."""
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    x_train = np.hstack([(x_train - mean) / std, np.ones((len(x_train), 1))])
    x_test = np.hstack([(x_test - mean) / std, np.ones((len(x_test), 1))])
    targets = np.eye(int(y_train.max()) + 1)[y_train]
    gram = x_train.T @ x_train + 100.0 * np.eye(x_train.shape[1])
    weights = np.linalg.solve(gram, x_train.T @ targets)
    return float(((x_test @ weights).argmax(1) == y_test).mean())


@pytest.mark.parametrize("n_classes", [2, 4, 8])
def test_img_synthetic_classes_are_distinguishable(n_classes: int) -> None:
    train = SyntheticImageDataset(200, n_classes=n_classes, seed=0)
    test = SyntheticImageDataset(200, n_classes=n_classes, seed=1)
    x_train = _fft_features(np.stack([train.raw_image(i) for i in range(len(train))]))
    x_test = _fft_features(np.stack([test.raw_image(i) for i in range(len(test))]))
    acc = _linear_classifier_accuracy(x_train, train.labels, x_test, test.labels)
    chance = 1 / n_classes
    assert acc > chance + 0.5 * (1 - chance), acc


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_classes": 1}, "n_classes = 1 is not valid"),
        ({"n_classes": 9}, "n_classes = 9 is not valid"),
        ({"noise_std": -0.1}, "noise_std = -0.1 must be >= 0"),
        ({"image_size": 2}, "image_size = 2 must be >= 4"),
        ({"normalize": "imagenet"}, "normalize = 'imagenet' is not valid"),
    ],
)
def test_img_synthetic_rejects_bad_settings(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SyntheticImageDataset(4, **kwargs)
