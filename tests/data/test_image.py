"""ImageFolderDataset and image_to_tensor on small folders written with Pillow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cpckit.data.image import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    ImageFolderDataset,
    image_to_tensor,
)
from cpckit.data.image_augment import ImageAugment
from cpckit.errors import DataError


def _write(path: Path, color: tuple[int, int, int], size: tuple[int, int] = (32, 32)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "imgs"
    _write(root / "cat" / "a.png", (255, 0, 0))
    _write(root / "cat" / "b.JPG", (250, 0, 0), size=(48, 40))
    _write(root / "airplane" / "c.png", (0, 0, 255), size=(16, 16))
    _write(root / "airplane" / "sub" / "d.jpeg", (0, 0, 250))
    (root / "airplane" / "notes.txt").write_text("not an image")
    (root / "dog").mkdir()
    Image.new("L", (32, 32), 128).save(root / "dog" / "gray.png")
    Image.new("RGBA", (32, 32), (0, 255, 0, 10)).save(root / "dog" / "alpha.png")
    return root


def test_img_folder_maps_sorted_class_names_to_labels(folder: Path) -> None:
    ds = ImageFolderDataset(folder)
    assert ds.label_names == ["airplane", "cat", "dog"]
    assert ds.paths == [
        "airplane/c.png",
        "airplane/sub/d.jpeg",
        "cat/a.png",
        "cat/b.JPG",
        "dog/alpha.png",
        "dog/gray.png",
    ]
    assert ds.labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert ds.labels.dtype == np.int64
    assert ds.skipped == 0
    assert len(ds) == 6


@pytest.mark.parametrize("cache", [True, False])
def test_img_folder_items_follow_the_contract(folder: Path, cache: bool) -> None:
    ds = ImageFolderDataset(folder, image_size=24, normalize="none", cache=cache)
    for i in range(len(ds)):
        item = ds[i]
        assert set(item) == {"image", "label", "group"}
        assert item["image"].shape == (3, 24, 24)
        assert item["image"].dtype == torch.float32
        assert item["label"].dtype == torch.int64 and item["label"].dim() == 0
        assert item["label"].item() == ds.labels[i]
        assert item["group"].item() == -1 and item["group"].dtype == torch.int64
    red = ds[ds.paths.index("cat/a.png")]["image"]
    torch.testing.assert_close(red[:, 5, 5], torch.tensor([1.0, 0.0, 0.0]))
    gray = ds[ds.paths.index("dog/gray.png")]["image"]
    torch.testing.assert_close(gray[:, 0, 0], torch.full((3,), 128 / 255))


def test_img_folder_default_normalisation_uses_cifar_constants(folder: Path) -> None:
    ds = ImageFolderDataset(folder)
    raw = ImageFolderDataset(folder, normalize="none")
    mean = torch.tensor(CIFAR10_MEAN).view(3, 1, 1)
    std = torch.tensor(CIFAR10_STD).view(3, 1, 1)
    torch.testing.assert_close(ds[0]["image"], (raw[0]["image"] - mean) / std)


def test_img_folder_computed_stats_standardise_the_folder(folder: Path) -> None:
    ds = ImageFolderDataset(folder, normalize="compute")
    x = torch.stack([ds[i]["image"] for i in range(len(ds))])
    torch.testing.assert_close(x.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-4, rtol=0)
    torch.testing.assert_close(
        x.std(dim=(0, 2, 3), unbiased=False), torch.ones(3), atol=1e-3, rtol=0
    )
    held_out = ImageFolderDataset(folder, files=["cat/a.png"], normalize=(ds.mean, ds.std))
    torch.testing.assert_close(held_out[0]["image"], ds[ds.paths.index("cat/a.png")]["image"])


def test_img_folder_files_restrict_items_but_keep_the_label_mapping(folder: Path) -> None:
    ds = ImageFolderDataset(folder, files=["dog/gray.png", "cat/a.png"])
    assert ds.paths == ["dog/gray.png", "cat/a.png"]
    assert ds.labels.tolist() == [2, 1]
    assert ds.label_names == ["airplane", "cat", "dog"]
    with pytest.raises(DataError, match="'cat/missing.png' does not exist"):
        ImageFolderDataset(folder, files=["cat/missing.png"])
    with pytest.raises(DataError, match="not in a class folder"):
        ImageFolderDataset(folder, files=["horse/x.png"])


def test_img_folder_skips_corrupt_file_with_a_warning_naming_it(folder: Path) -> None:
    (folder / "cat" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable image.*cat/broken\.png"):
        ds = ImageFolderDataset(folder)
    assert ds.skipped == 1
    assert "cat/broken.png" not in ds.paths
    assert len(ds) == 6


def test_img_folder_without_cache_skips_files_that_are_not_images(folder: Path) -> None:
    (folder / "cat" / "text.jpg").write_text("hello")
    with pytest.warns(UserWarning, match=r"cat/text\.jpg"):
        ds = ImageFolderDataset(folder, cache=False)
    assert ds.skipped == 1 and len(ds) == 6


def test_img_folder_errors_are_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist") as missing:
        ImageFolderDataset(tmp_path / "nope")
    assert "\n" not in str(missing.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="has no class subfolders") as no_classes:
        ImageFolderDataset(empty)
    assert str(empty) in str(no_classes.value)
    (empty / "cat").mkdir()
    (empty / "cat" / "readme.txt").write_text("x")
    with pytest.raises(DataError, match=r"no readable images .*\*\.png, \*\.jpg, \*\.jpeg"):
        ImageFolderDataset(empty)


def test_img_folder_only_corrupt_files_raise(tmp_path: Path) -> None:
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "bad.png").write_bytes(b"junk")
    with (
        pytest.warns(UserWarning, match="bad.png"),
        pytest.raises(DataError, match="no readable images.*1 unreadable"),
    ):
        ImageFolderDataset(tmp_path)


def test_img_folder_cache_holds_uint8_and_augment_runs_after_it(folder: Path) -> None:
    ds = ImageFolderDataset(folder, augment=ImageAugment(seed=0), normalize="none")
    assert ds._images is not None and ds._images.dtype == np.uint8
    before = ds._images.copy()
    items = [ds[0]["image"] for _ in range(3)]
    assert np.array_equal(ds._images, before)
    assert all(x.shape == (3, 32, 32) for x in items)
    assert not torch.equal(items[0], items[1]) or not torch.equal(items[1], items[2])


def test_img_image_to_tensor_accepts_paths_arrays_and_pil(folder: Path) -> None:
    from_path = image_to_tensor(folder / "cat" / "a.png", 32)
    assert from_path.shape == (3, 32, 32)
    hwc = np.zeros((40, 40, 3), dtype=np.uint8)
    hwc[..., 0] = 255
    torch.testing.assert_close(image_to_tensor(hwc, 32), from_path)
    torch.testing.assert_close(image_to_tensor(hwc.transpose(2, 0, 1) / 255.0, 32), from_path)
    torch.testing.assert_close(image_to_tensor(Image.fromarray(hwc), 32), from_path)
    assert image_to_tensor(np.zeros((10, 12)), 8).shape == (3, 8, 8)
    with pytest.raises(DataError, match="got shape"):
        image_to_tensor(np.zeros((2, 2, 2, 2)), 8)
    with pytest.raises(DataError, match="cannot read image"):
        image_to_tensor(folder / "airplane" / "notes.txt", 8)
