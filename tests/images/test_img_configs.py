"""The ready image configs: configs/cifar10.yaml and configs/multimodal.yaml."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from cpckit.config import load_config
from cpckit.data.datamodule import build_datasets
from cpckit.data.image_bundle import check_image_grid

REPO = Path(__file__).resolve().parents[2]
CIFAR_CONFIG = REPO / "configs" / "cifar10.yaml"
MULTIMODAL_CONFIG = REPO / "configs" / "multimodal.yaml"


def _cifar_like(root: Path, per_class: dict[str, int]) -> None:
    """32x32 jpg files in root/<class>/, as in the CIFAR-10 airplane/automobile folders."""
    rng = np.random.default_rng(0)
    for name, count in per_class.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            pixels = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i:04d}.jpg")


def test_img_cifar_config_loads_with_a_7x7_grid() -> None:
    cfg = load_config(CIFAR_CONFIG)
    assert cfg.data.modality == "image" and not cfg.data.use_mock_data
    assert cfg.data.image_root == "../shared/data/cifar10-airplane-automobile"
    assert check_image_grid(cfg) == (7, 7)
    assert cfg.model.prediction_steps < 49
    assert cfg.train.threads == 1
    # The probe is fit on every train/ image (2,000 per class), not a subset.
    assert cfg.eval.max_examples >= 4000


def test_img_cifar_config_uses_the_train_and_test_folders(tmp_path: Path) -> None:
    _cifar_like(tmp_path / "train", {"airplane": 5, "automobile": 4})
    _cifar_like(tmp_path / "test", {"airplane": 2, "automobile": 3})
    cfg = load_config(CIFAR_CONFIG, [f"data.image_root={tmp_path}"])
    bundle = build_datasets(cfg)
    assert bundle.label_names == ["airplane", "automobile"]
    assert len(bundle.probe_train) == 9 and len(bundle.probe_test) == 5  # type: ignore[arg-type]
    # CPC trains on augmented train/ images; the probe sets are not augmented.
    assert bundle.train is not bundle.probe_train
    assert bundle.val is None
    assert tuple(bundle.probe_test[0]["image"].shape) == (3, 32, 32)


def test_img_multimodal_config_is_the_demo_with_a_lighter_patch_cnn() -> None:
    cfg = load_config(MULTIMODAL_CONFIG)
    default = load_config(None, ["data.modality=multimodal"])
    assert cfg.data.modality == "multimodal" and cfg.data.use_mock_data
    assert cfg.image_encoder.stem_stride == 2
    assert cfg.negatives.mode == "queue+synthetic"
    assert cfg.train.epochs == 10
    assert cfg.audio_encoder == default.audio_encoder
