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
