"""End-to-end `cpckit train` through the CLI on tiny images and audio + image pairs."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cpckit.cli import main
from helpers.runs import check_files, check_final_loss, check_geometry

# 16x16 images, 8x8 patches at stride 4: a 3x3 grid, 9 latent steps, K = 2.
TINY_IMAGE = [
    "data.image_size=16",
    "image_encoder.patch_size=8",
    "image_encoder.stride=4",
    "image_encoder.width=8",
    "image_encoder.depth=1",
    "image_encoder.stem_stride=2",
    "model.z_dim=16",
    "model.c_dim=16",
    "model.prediction_steps=2",
    "negatives.n_negatives=8",
    "negatives.n_queue=8",
    "negatives.queue_size=64",
    "negatives.n_synthetic=4",
    "negatives.n_crossmodal=8",
    "train.batch_size=16",
    "eval.max_examples=48",
    "eval.report=false",
    "train.logger=none",
]
TINY_AUDIO = [
    "data.full_duration=0.08",
    "audio_encoder.mel_channels=16",
    "audio_encoder.mel_layers=1",
]
RUN_FILES = [
    "config.yaml",
    "cpc_model.pth",
    "losses.csv",
    "losses.npy",
    "training_curve.png",
    "metrics.json",
]


def _train(*args: str) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["train", "--epochs", "1", *args])
    assert code == 0
    return buf.getvalue()


def _check_files(out: Path, names: list[str]) -> None:
    check_files(out, names)
    assert any((out / "checkpoints").glob("*.ckpt"))


def _check_section(section: dict, baseline_features: str) -> None:  # type: ignore[type-arg]
    assert 0.0 <= section["probe"]["test_accuracy"] <= 1.0
    check_geometry(section)
    rows = {row["name"]: row for row in section["baselines"]}
    assert {"CPC", "random init", baseline_features} <= set(rows)


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """train/ and test/ folders of two classes: reddish and bluish noise."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for split, count in (("train", 16), ("test", 8)):
        for cls, channel in (("red", 0), ("blue", 2)):
            folder = root / split / cls
            folder.mkdir(parents=True)
            for i in range(count):
                pixels = rng.integers(0, 120, size=(16, 16, 3), dtype=np.uint8)
                pixels[:, :, channel] += 120
                Image.fromarray(pixels).save(folder / f"{i:03d}.png")
    return root


def test_img_e2e_synthetic_images(tmp_path: Path) -> None:
    out = tmp_path / "outputs_image"
    printed = _train(
        "--modality",
        "image",
        "--use-mock-data",
        "true",
        "--out-dir",
        str(out),
        "--neg-mode",
        "queue+synthetic",
        "data.n_train=32",
        "data.n_test=24",
        "data.augment=true",
        *TINY_IMAGE,
    )
    _check_files(out, [*RUN_FILES, "tsne_image.png"])
    metrics = json.loads((out / "metrics.json").read_text())
    _check_section(metrics, "raw pixels")
    check_final_loss(out, metrics)
    assert "data: augmentation: ImageAugment(" in printed and "3x3 grid" in printed


def test_img_e2e_image_folder(tmp_path: Path, image_folder: Path) -> None:
    out = tmp_path / "outputs_image"
    printed = _train(
        "--modality",
        "image",
        "--use-mock-data",
        "false",
        "--image-root",
        str(image_folder),
        "--out-dir",
        str(out),
        "--neg-mode",
        "inbatch",
        *TINY_IMAGE,
        "eval.pool=grid",
        "eval.classifier=linear-cv",
    )
    _check_files(out, [*RUN_FILES, "tsne_image.png"])
    metrics = json.loads((out / "metrics.json").read_text())
    _check_section(metrics, "raw pixels")
    assert metrics["probe"]["n_train"] == 32 and metrics["probe"]["n_test"] == 16
    # the mean of each quadrant of the 3 x 3 grid of 16-dim contexts
    assert metrics["probe"]["n_features"] == 64
    assert metrics["probe"]["pool"] == "grid" and metrics["probe"]["classifier"] == "linear-cv"
    assert "folders train/ and test/: 32 train, 0 validation" in printed


def test_img_e2e_multimodal_pairs(tmp_path: Path) -> None:
    import cpckit

    out = tmp_path / "outputs_multimodal"
    _train(
        "--modality",
        "multimodal",
        "--use-mock-data",
        "true",
        "--out-dir",
        str(out),
        "--neg-mode",
        "inbatch+crossmodal",
        "data.n_train=32",
        "data.n_test=24",
        *TINY_IMAGE,
        *TINY_AUDIO,
    )
    _check_files(out, [*RUN_FILES, "tsne_audio.png", "tsne_image.png"])
    metrics = json.loads((out / "metrics.json").read_text())
    check_final_loss(out, metrics)
    _check_section(metrics["audio"], "MFCC statistics")
    _check_section(metrics["image"], "raw pixels")
    names = {row["name"] for row in metrics["baselines"]}
    assert {"CPC [audio]", "CPC [image]", "raw pixels [image]"} <= names
    model = cpckit.load(out)
    assert model.modalities == ["audio", "image"]
    emb = model.embed(torch.rand(3, 16, 16), modality="image")
    assert emb.context.shape == (16,) and emb.context_frames.shape == (9, 16)
    wave = np.sin(np.arange(1280) / 3).astype(np.float32)
    assert model.embed(wave, sample_rate=16000).context.shape == (16,)
