"""Config schema: defaults, YAML, overrides, and one clear line for each bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from cpckit.build import load_checked_config
from cpckit.config import (
    Config,
    config_from_dict,
    config_to_dict,
    iter_fields,
    parse_override,
)
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
