"""``cpckit config`` (commands/config.py): flags and overrides resolved, bad values in one line."""

from __future__ import annotations

import pytest
import yaml

from cpckit.cli import main


def test_cmd_config_resolves_flags_and_overrides(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "--batch-size", "7", "--lr", "0.01", "model.kind=lstm"]) == 0
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert cfg["train"]["batch_size"] == 7 and cfg["train"]["lr"] == 0.01
    assert cfg["model"]["kind"] == "lstm"
    assert main(["config", "--keys"]) == 0
    assert "train.batch_size = 32" in capsys.readouterr().out


def test_cmd_config_bad_value_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "--batch-size", "many"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "train.batch_size" in err and len(err.splitlines()) == 1


def test_the_tf_framework_names_k_and_n_set_the_cpckit_keys(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["config", "--k", "3", "--N", "9"]) == 0
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert cfg["model"]["prediction_steps"] == 3 and cfg["negatives"]["n_negatives"] == 9
    assert main(["config", "--N", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: negatives.n_negatives = 0 is not valid: expected an integer >= 1"
