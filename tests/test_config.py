"""Config schema: defaults, YAML, overrides, one clear line for each bad value; the ready image
configs (configs/cifar10.yaml, configs/multimodal.yaml)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cpckit.build import load_checked_config
from cpckit.config import (
    Config,
    config_from_dict,
    config_to_dict,
    iter_fields,
    load_config,
    parse_override,
)
from cpckit.data.datamodule import build_datasets
from cpckit.data.image_bundle import check_image_grid
from cpckit.errors import ConfigError


def test_every_field_has_help() -> None:
    missing = [key for key, _, _, help_text in iter_fields(Config) if not help_text]
    assert not missing


def test_defaults_round_trip_through_dict() -> None:
    cfg = load_checked_config()
    assert config_from_dict(config_to_dict(cfg)) == cfg


def test_yaml_then_flags_then_overrides(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  epochs: 3\n  lr: 0.01\nmodel:\n  kind: lstm\n")
    cfg = load_checked_config(path, ["train.lr=3e-4"], {"train.epochs": 5})
    assert cfg.train.epochs == 5
    assert cfg.train.lr == pytest.approx(3e-4)
    assert cfg.model.kind == "lstm"


def test_override_values_are_read_as_yaml() -> None:
    assert parse_override("a.b=true") == ("a.b", True)
    assert parse_override("a.b=1e-3") == ("a.b", 1e-3)
    assert parse_override("a.b=[1, 2]") == ("a.b", [1, 2])
    assert parse_override("a.b=queue+synthetic") == ("a.b", "queue+synthetic")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["train.epochz=3"], "unknown config key 'train.epochz' (did you mean 'epochs'?)"),
        (
            ["trian.epochs=3"],
            "unknown config section 'trian' in 'trian.epochs' (did you mean 'train'?)",
        ),
        (["train.epochs=ten"], "train.epochs = 'ten' is not valid: expected an integer"),
        (["train.epochs=0"], "train.epochs = 0 is not valid: expected an integer >= 1"),
        (
            ["data.modality=video"],
            "data.modality = 'video' is not valid: expected one of 'audio', 'image', 'multimodal'",
        ),
        (
            ["data.use_mock_data=maybe"],
            "data.use_mock_data = 'maybe' is not valid: expected true or false",
        ),
        (["negatives.mode=inbatch+bogus"], "negatives.mode names an unknown sampler 'bogus'"),
        (["loss.debiased=true"], "loss.debiased = true needs loss.similarity = 'cosine'"),
        (
            ["model.kind=transformer", "model.c_dim=30", "model.heads=4"],
            "model.c_dim = 30 must be divisible by model.heads = 4",
        ),
        (
            ["data.full_duration=0.05"],
            "data.full_duration = 0.05 s at 16000 Hz gives 6 latent steps with the encoder's 160x downsampling, "
            "but model.prediction_steps = 12 needs at least 13: raise data.full_duration to >= 0.12",
        ),
        (
            [
                "data.sample_rate=8000",
                "data.full_duration=0.03",
                "model.prediction_steps=3",
                "audio_encoder.n_fft=200",
                "audio_encoder.win_length=200",
                "audio_encoder.hop_length=80",
                "audio_encoder.mel_layers=1",
            ],
            # 4 latent steps for K = 3, but only the first one is valid: nothing to predict
            "data.full_duration = 0.03 s at 8000 Hz gives 240 samples, but the log-mel encoder "
            "(audio_encoder.n_fft = 200, hop_length = 80, mel_layers = 1) needs 260 samples "
            "(0.0325 s) for 2 valid latent steps, the fewest that give one prediction: raise "
            "data.full_duration to >= 0.033 s, or use a smaller audio_encoder.n_fft, hop_length "
            "or mel_layers",
        ),
        (
            ["audio_encoder.conv_layers=[[1,8,4,2,1]]"],
            "audio_encoder.conv_layers[0] = [1, 8, 4, 2, 1] must have 6 values [in, out, kernel, stride, padding, dilation]",
        ),
        (
            ["audio_encoder.conv_layers=[[1,8,4,2,1,1],[4,8,4,2,1,1]]"],
            "audio_encoder.conv_layers[1] takes 4 channels but layer 0 gives 8",
        ),
        (
            ["data.use_mock_data=false"],
            "data.use_mock_data = false with data.modality = 'audio' needs data.audio_root",
        ),
        (
            ["loss.step_weights=[1,2]"],
            "loss.step_weights has 2 values but model.prediction_steps = 12",
        ),
        (["train.resume"], "override 'train.resume' must look like section.key=value"),
    ],
)
def test_bad_config_messages(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_checked_config(None, overrides)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_yaml_file_messages(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="is not valid YAML at line"):
        load_checked_config(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_checked_config(tmp_path / "missing.yaml")
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must hold a mapping of sections"):
        load_checked_config(listy)


REPO = Path(__file__).resolve().parents[1]


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


def test_a_data_root_means_real_data(tmp_path: Path) -> None:
    root = str(tmp_path)
    flags = {"data.audio_root": root}
    assert load_checked_config(None, [], flags).data.use_mock_data is False
    assert load_checked_config(None, [f"data.audio_root={root}"]).data.use_mock_data is False
    yaml_true = tmp_path / "mock.yaml"
    yaml_true.write_text("data:\n  use_mock_data: true\n")
    # a root given after the file's use_mock_data: true wins
    assert load_checked_config(yaml_true, [], flags).data.use_mock_data is False
    # no root: the synthetic default stays
    assert load_checked_config().data.use_mock_data is True


@pytest.mark.parametrize("where", ["flags", "yaml"])
def test_use_mock_data_true_with_a_root_is_an_error(tmp_path: Path, where: str) -> None:
    root = str(tmp_path)
    message = (
        f"data.use_mock_data = true trains on the built-in synthetic data, but data.audio_root "
        f"= {root} is given: a data root means real data"
    )
    with pytest.raises(ConfigError, match=re.escape(message)):
        if where == "flags":
            load_checked_config(None, [], {"data.audio_root": root, "data.use_mock_data": "true"})
        else:
            cfg_file = tmp_path / "real.yaml"
            cfg_file.write_text(f"data:\n  audio_root: {root}\n")
            load_checked_config(cfg_file, ["data.use_mock_data=true"])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.threads=-2", "train.threads = -2 is not valid: expected an integer >= 0"),
        (
            "train.grad_clip=-1",
            "train.grad_clip = -1.0 is not valid: expected a number >= 0 (0: off)",
        ),
        (
            "train.weight_decay=-0.1",
            "train.weight_decay = -0.1 is not valid: expected a number >= 0",
        ),
        ("train.seed=-1", "train.seed = -1 is not valid: expected an integer >= 0"),
        ("data.num_workers=-1", "data.num_workers = -1 is not valid: expected an integer >= 0"),
        ("data.n_train=-5", "data.n_train = -5 is not valid: expected an integer >= 0"),
        (
            "negatives.momentum=1.5",
            "negatives.momentum = 1.5 is not valid: expected a number in [0, 1)",
        ),
    ],
)
def test_out_of_range_values_are_refused_at_load(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_checked_config(None, [override])
