"""``cpckit train`` and ``cpckit config`` (commands/train.py, commands/config.py) and cli.py's dispatch."""

from __future__ import annotations

import pytest
import yaml

from cpckit import cli
from cpckit.cli import main
from cpckit.commands.train import TRAIN_FLAGS, format_metrics


def test_cmd_every_subcommand_lives_in_commands() -> None:
    assert cli.SUBCOMMAND_MODULES[:2] == ["train", "config"]
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert list(sub.choices) == cli.SUBCOMMAND_MODULES  # type: ignore[attr-defined]


def test_cmd_train_help_names_every_flag_with_its_key(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for flag, (key, _) in TRAIN_FLAGS.items():
        assert flag in text and key in text, flag


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


def test_cmd_format_metrics_dots_nested_keys_and_tabulates_baselines() -> None:
    text = format_metrics(
        {
            "final_loss": 1.23456,
            "probe": {"test_accuracy": 0.5, "n": 3},
            "baselines": [
                {"name": "random", "features": "context", "train_accuracy": 0.6,
                 "test_accuracy": 0.4},
            ],
        }
    )  # fmt: skip
    lines = text.splitlines()
    assert lines[:3] == ["final_loss: 1.2346", "probe.test_accuracy: 0.5000", "probe.n: 3"]
    assert lines[3] == "baselines:"
    assert lines[4].split() == ["random", "context", "train", "0.6000", "test", "0.4000"]
