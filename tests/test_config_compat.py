"""Foreign config keys read into cpckit's sections (cpckit.config_compat)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cpckit.build import load_checked_config
from cpckit.errors import ConfigError

PYFLOW_CPC_YAML = """\
conv_dims:
  - [  1, 512, 10, 5, 3, 1]       # i=input channel, o=output channel, k = kernel, s = stride, p = padding, d = dilation
  - [512, 512,  8, 4, 2, 1]       # [i, o, k, s, p, d]
  - [512, 512,  4, 2, 1, 1]       # [i, o, k, s, p, d]
  - [512, 512,  4, 2, 1, 1]       # [i, o, k, s, p, d]
  - [512, 512,  4, 2, 1, 1]       # [i, o, k, s, p, d]
  - 512
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cpc.yaml"
    path.write_text(text)
    return path


def test_the_pyflow_cpc_example_config_loads_with_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, PYFLOW_CPC_YAML)
    cfg = load_checked_config(path)
    assert cfg.audio_encoder.kind == "conv"
    assert cfg.audio_encoder.conv_layers == [
        [1, 512, 10, 5, 3, 1],
        [512, 512, 8, 4, 2, 1],
        [512, 512, 4, 2, 1, 1],
        [512, 512, 4, 2, 1, 1],
        [512, 512, 4, 2, 1, 1],
    ]
    assert cfg.model.z_dim == 512
    assert capsys.readouterr().err.splitlines() == [
        f"note: config file {str(path)!r}: conv_dims (PyFlow_CPC) read as "
        "audio_encoder.conv_layers (5 layers), audio_encoder.kind = conv, model.z_dim = 512"
    ]


def test_conv_dims_sits_beside_cpckit_sections(tmp_path: Path) -> None:
    path = write(tmp_path, "conv_dims:\n  - [1, 16, 10, 5, 3, 1]\ntrain:\n  lr: 0.01\n")
    cfg = load_checked_config(path)
    assert cfg.audio_encoder.conv_layers == [[1, 16, 10, 5, 3, 1]]
    assert cfg.train.lr == 0.01
    assert cfg.model.z_dim == 128  # no output dimension given: cpckit's default


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "conv_dims: 5\n",
            "conv_dims = 5 is not valid: expected a list of rows [in, out, kernel, stride, "
            "padding, dilation], optionally ending with the output dimension",
        ),
        (
            "conv_dims:\n  - [1, 16, 10, 5]\n",
            "conv_dims[0] = [1, 16, 10, 5] is not valid: expected [in, out, kernel, stride, "
            "padding, dilation] (six integers)",
        ),
        ("conv_dims:\n  - 512\n", "conv_dims = [512] has no conv rows"),
        (
            "conv_dims:\n  - [1, 16, 10, 5, 3, 1]\naudio_encoder:\n  conv_layers: [[1, 8, 10, 5, 3, 1]]\n",
            "conv_dims and audio_encoder.conv_layers both set the conv stack: keep one "
            "(conv_dims is PyFlow_CPC's name for audio_encoder.conv_layers)",
        ),
        (
            "conv_dims:\n  - [1, 16, 10, 5, 3, 1]\n  - 16\nmodel:\n  z_dim: 32\n",
            "conv_dims ends with the output dimension 16 but model.z_dim = 32: make them equal "
            "or drop one",
        ),
    ],
)
def test_a_malformed_conv_dims_is_one_line_naming_the_file(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_checked_config(path)
    assert str(info.value).startswith(f"config file {str(path)!r}: ")
    assert message in str(info.value)


def test_other_unknown_top_level_keys_are_still_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "conv_dims:\n  - [1, 16, 10, 5, 3, 1]\nlearning_rate: 0.1\n")
    with pytest.raises(ConfigError, match="learning_rate"):
        load_checked_config(path)


def test_a_run_trains_from_a_conv_dims_file(tmp_path: Path) -> None:
    from cpckit.cli import main

    path = write(
        tmp_path,
        "conv_dims:\n  - [1, 16, 10, 5, 3, 1]\n  - [16, 16, 8, 4, 2, 1]\n  - 16\n",
    )
    out = tmp_path / "run"
    code = main(
        [
            "train", "--config", str(path), "--out-dir", str(out), "--use-mock-data", "true",
            "--max-steps", "2", "model.c_dim=16", "model.prediction_steps=3",
            "data.full_duration=0.08", "data.n_train=16", "data.n_test=16",
            "train.batch_size=8", "negatives.n_negatives=8", "train.threads=1",
            "eval.probe=false", "eval.tsne=false", "eval.geometry=false",
            "eval.baselines=false", "eval.report=false", "train.logger=none",
        ]
    )  # fmt: skip
    assert code == 0
    saved = (out / "config.yaml").read_text()
    assert "conv_dims" not in saved and "z_dim: 16" in saved
