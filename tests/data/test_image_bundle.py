"""Datasets of image and multimodal runs: splits, augmentation, grid checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from PIL import Image

from cpckit.config import load_config
from cpckit.data.datamodule import build_datasets
from cpckit.data.image import ImageFolderDataset
from cpckit.data.image_augment import ImageAugment
from cpckit.data.image_bundle import check_image_grid, find_split_folders
from cpckit.errors import ConfigError, DataError

TINY = [
    "data.n_train=12",
    "data.n_test=8",
    "data.image_size=16",
    "image_encoder.patch_size=8",
    "model.prediction_steps=3",
]


def _images(root: Path, classes: dict[str, int], size: int = 16) -> None:
    rng = np.random.default_rng(0)
    for name, count in classes.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            pixels = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i:03d}.png")


def _items(ds: torch.utils.data.Dataset, n: int) -> torch.Tensor:  # type: ignore[type-arg]
    return torch.stack([ds[i]["image"] for i in range(n)])


def test_img_bundle_synthetic_images_use_two_seeds() -> None:
    bundle = build_datasets(load_config(None, ["data.modality=image", *TINY]))
    assert len(bundle.train) == 12 and len(bundle.probe_test) == 8  # type: ignore[arg-type]
    assert bundle.probe_train is bundle.train
    assert bundle.label_names == ["horizontal stripes", "vertical stripes"]
    assert not torch.equal(_items(bundle.train, 4), _items(bundle.probe_test, 4))
    assert "3x3 grid" in bundle.info["patches"] and "9 latent steps" in bundle.info["patches"]


def test_img_bundle_augments_the_cpc_training_set_only() -> None:
    bundle = build_datasets(load_config(None, ["data.modality=image", "data.augment=true", *TINY]))
    assert bundle.train is not bundle.probe_train
    assert not torch.equal(_items(bundle.train, 6), _items(bundle.probe_train, 6))
    plain = build_datasets(load_config(None, ["data.modality=image", *TINY]))
    assert torch.equal(_items(bundle.probe_train, 6), _items(plain.probe_train, 6))
    assert torch.equal(_items(bundle.probe_test, 6), _items(plain.probe_test, 6))


def test_img_bundle_folder_with_train_and_test_uses_that_split(tmp_path: Path) -> None:
    _images(tmp_path / "train", {"cat": 5, "dog": 4})
    _images(tmp_path / "test", {"cat": 2, "dog": 3})
    assert find_split_folders(tmp_path) == (tmp_path / "train", tmp_path / "test")
    cfg = load_config(
        None,
        [
            "data.modality=image",
            "data.use_mock_data=false",
            f"data.image_root={tmp_path}",
            "data.augment=true",
            *TINY,
        ],
    )
    bundle = build_datasets(cfg)
    assert isinstance(bundle.train, ImageFolderDataset)
    assert isinstance(bundle.probe_test, ImageFolderDataset)
    assert len(bundle.train) == 9 and len(bundle.probe_train) == 9 and len(bundle.probe_test) == 5
    assert bundle.label_names == ["cat", "dog"]
    assert bundle.probe_test.labels.tolist() == [0, 0, 1, 1, 1]
    assert isinstance(bundle.train.augment, ImageAugment)
    assert bundle.probe_train.augment is None and bundle.probe_test.augment is None  # type: ignore[attr-defined]
    assert "folders train/ and test/" in bundle.info["split"]


def test_img_bundle_split_folders_must_share_classes(tmp_path: Path) -> None:
    _images(tmp_path / "train", {"cat": 2, "dog": 2})
    _images(tmp_path / "test", {"cat": 2, "cow": 2})
    cfg = load_config(
        None,
        ["data.modality=image", "data.use_mock_data=false", f"data.image_root={tmp_path}", *TINY],
    )
    with pytest.raises(
        DataError, match="class folders of .* \\(cat, dog\\) and .* \\(cat, cow\\) differ"
    ):
        build_datasets(cfg)


def test_img_bundle_plain_folder_is_split_by_ratio(tmp_path: Path) -> None:
    _images(tmp_path, {"a": 10, "b": 10})
    assert find_split_folders(tmp_path) is None
    args = [
        "data.modality=image",
        "data.use_mock_data=false",
        f"data.image_root={tmp_path}",
        "data.test_fraction=0.25",
        *TINY,
    ]
    bundle = build_datasets(load_config(None, args))
    train, test = bundle.probe_train, bundle.probe_test
    assert isinstance(train, ImageFolderDataset) and isinstance(test, ImageFolderDataset)
    assert len(train) == 15 and len(test) == 5
    assert not set(train.paths) & set(test.paths)
    again = build_datasets(load_config(None, args))
    assert again.probe_test.paths == test.paths  # type: ignore[attr-defined]
    other = build_datasets(load_config(None, [*args, "train.seed=1"]))
    assert other.probe_test.paths != test.paths  # type: ignore[attr-defined]
    assert torch.equal(
        test[0]["image"],
        ImageFolderDataset(tmp_path, image_size=16)[
            ImageFolderDataset(tmp_path, image_size=16).paths.index(test.paths[0])
        ]["image"],
    )


def test_img_bundle_missing_folder_is_a_data_error(tmp_path: Path) -> None:
    cfg = load_config(
        None,
        [
            "data.modality=image",
            "data.use_mock_data=false",
            f"data.image_root={tmp_path / 'nope'}",
            *TINY,
        ],
    )
    with pytest.raises(DataError, match="data.image_root .*nope' does not exist"):
        build_datasets(cfg)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["model.prediction_steps=49"],
            "gives a 7x7 grid = 49 latent steps; model.prediction_steps = 49 needs at least 50",
        ),
        (
            ["image_encoder.patch_size=40"],
            "image_encoder.patch_size = 40 and image_encoder.stride = 4 do not fit data.image_size = 32",
        ),
    ],
)
def test_img_bundle_grid_must_fit_the_prediction_steps(overrides: list[str], message: str) -> None:
    cfg = load_config(None, ["data.modality=image", *overrides])
    with pytest.raises(ConfigError, match=message):
        check_image_grid(cfg)
    with pytest.raises(ConfigError, match=message):
        build_datasets(cfg)


def test_img_bundle_synthetic_pairs_hold_both_modalities() -> None:
    cfg = load_config(None, ["data.modality=multimodal", "data.full_duration=0.2", *TINY])
    bundle = build_datasets(cfg)
    item = bundle.train[3]
    assert item["audio"].shape == (1, 3200) and item["image"].shape == (3, 16, 16)
    assert len(bundle.probe_test) == 8  # type: ignore[arg-type]
    assert not torch.equal(bundle.train[0]["audio"], bundle.probe_test[0]["audio"])


def test_img_bundle_csv_pairs_cut_training_windows(tmp_path: Path) -> None:
    rows = []
    for i in range(10):
        t = np.arange(int(0.4 * 16000)) / 16000
        sf.write(
            tmp_path / f"{i}.wav", np.sin(2 * np.pi * (200 + 50 * i) * t).astype(np.float32), 16000
        )
        Image.new("RGB", (16, 16), (20 * i, 0, 0)).save(tmp_path / f"{i}.png")
        rows.append(f"{i}.wav,{i}.png,{'low' if i < 5 else 'high'}")
    (tmp_path / "pairs.csv").write_text("audio,image,label\n" + "\n".join(rows) + "\n")
    cfg = load_config(
        None,
        [
            "data.modality=multimodal",
            "data.use_mock_data=false",
            f"data.pairs_csv={tmp_path / 'pairs.csv'}",
            "data.full_duration=0.2",
            "data.test_fraction=0.3",
            *TINY,
        ],
    )
    bundle = build_datasets(cfg)
    assert len(bundle.train) == 7 and len(bundle.probe_test) == 3  # type: ignore[arg-type]
    assert bundle.train[0]["audio"].shape == (1, 3200)  # a 0.2 s window
    assert bundle.probe_train[0]["audio"].shape == (1, 6400)  # the whole clip
    assert bundle.label_names == ["high", "low"]
    cfg_group = load_config(
        None,
        [
            "data.modality=multimodal",
            "data.use_mock_data=false",
            f"data.pairs_csv={tmp_path / 'pairs.csv'}",
            "data.split=group",
            *TINY,
        ],
    )
    with pytest.raises(ConfigError, match="no 'group' column"):
        build_datasets(cfg_group)


def test_img_bundle_csv_pairs_with_too_short_audio_are_dropped_when_cached(
    tmp_path: Path,
) -> None:
    rows = []
    for i in range(8):
        n = 100 if i < 2 else 3200  # the default log-mel encoder needs 840 samples
        sf.write(tmp_path / f"{i}.wav", np.full(n, 0.1, dtype=np.float32), 16000)
        Image.new("RGB", (16, 16), (20 * i, 0, 0)).save(tmp_path / f"{i}.png")
        rows.append(f"{i}.wav,{i}.png,{'low' if i % 2 else 'high'}")
    (tmp_path / "pairs.csv").write_text("audio,image,label\n" + "\n".join(rows) + "\n")
    overrides = [
        "data.modality=multimodal",
        "data.use_mock_data=false",
        f"data.pairs_csv={tmp_path / 'pairs.csv'}",
        "data.full_duration=0.2",
        "data.test_fraction=0.3",
        *TINY,
    ]
    bundle = build_datasets(load_config(None, overrides))
    assert bundle.info["too-short clips"] == (
        "dropped 2 of 8 clips shorter than 840 samples (0.0525 s at 16000 Hz), too short for one "
        "valid prediction: line 2 (0.wav), line 3 (1.wav)"
    )
    assert len(bundle.probe_train) + len(bundle.probe_test) == 6  # type: ignore[arg-type]
    lazy = build_datasets(load_config(None, [*overrides, "data.cache=false"]))
    assert "too-short clips" not in lazy.info  # not decoded: the training step checks instead


def test_img_bundle_image_folder_views_share_labels(tmp_path: Path) -> None:
    _images(tmp_path, {"a": 3, "b": 3})
    ds = ImageFolderDataset(tmp_path, image_size=16)
    sub = ds.subset([4, 1])
    assert sub.paths == [ds.paths[4], ds.paths[1]] and sub.labels.tolist() == [1, 0]
    assert torch.equal(sub[0]["image"], ds[4]["image"])
    aug = ds.with_augment(ImageAugment(seed=0, grayscale_p=1.0))
    assert ds.augment is None and aug.augment is not None
    assert not torch.equal(aug[0]["image"], ds[0]["image"])
    with pytest.raises(IndexError):
        ds.subset([6])
