"""``cpckit compare``: one run per mode, same config and seed; table, CSV and plot."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path
from typing import Any

import pytest

from cpckit.commands import compare
from cpckit.errors import ConfigError
from helpers.cli import run_ok
from helpers.configs import TINY_RUN


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cpckit")
    compare.add_parser(parser.add_subparsers(dest="command"))
    return parser


def test_neg_compare_trains_each_mode_and_writes_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cpckit.training.run as run

    seen: list[Any] = []

    def fake_train(cfg: Any) -> run.TrainResult:
        out = Path(cfg.train.out_dir)
        out.mkdir(parents=True)
        (out / "config.yaml").write_text("")
        loss = 5.0 - len(seen)
        (out / "losses.csv").write_text(
            "step,epoch,loss,accuracy\n" + "".join(f"{s},0,{loss - s / 10},0.5\n" for s in range(5))
        )
        seen.append(cfg)
        metrics = {
            "final_loss": loss,
            "probe": {"test_accuracy": 0.5 + len(seen) / 10, "train_accuracy": 1.0},
            "alignment": 0.25,
            "uniformity": -2.0,
            "train_seconds": 6.0,
        }
        return run.TrainResult(out, metrics, 7.0)

    monkeypatch.setattr(run, "train", fake_train)
    args = _parser().parse_args(
        ["compare", "--out-dir", str(tmp_path), "--epochs", "3", "--seed", "7", "train.lr=0.01"]
    )
    assert args.func(args) == 0
    assert [c.negatives.mode for c in seen] == ["inbatch", "queue", "queue+synthetic"]
    assert {c.train.seed for c in seen} == {7} and {c.train.lr for c in seen} == {0.01}
    assert [Path(c.train.out_dir).name for c in seen] == ["inbatch", "queue", "queue+synthetic"]
    md = (tmp_path / "comparison.md").read_text()
    assert "| queue+synthetic | 3.0000 | 0.8000 | 0.2500 | -2.0000 | 2.0000 |" in md
    with (tmp_path / "comparison.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["mode"] for r in rows] == ["inbatch", "queue", "queue+synthetic"]
    assert float(rows[0]["probe_test_accuracy"]) == pytest.approx(0.6)
    assert (tmp_path / "loss_comparison.png").stat().st_size > 0


def test_neg_compare_rejects_a_bad_mode_before_training(monkeypatch: pytest.MonkeyPatch) -> None:
    import cpckit.training.run as run

    def fail(cfg: Any) -> None:
        raise AssertionError("no run should start")

    monkeypatch.setattr(run, "train", fail)
    args = _parser().parse_args(["compare", "--neg-mode", "inbatch,moco"])
    with pytest.raises(ConfigError, match="unknown sampler 'moco'"):
        args.func(args)


def test_neg_compare_row_averages_modalities() -> None:
    metrics = {
        "final_loss": 2.0,
        "audio": {"probe": {"test_accuracy": 0.6}, "alignment": 1.0, "uniformity": -1.0},
        "image": {"probe": {"test_accuracy": 0.8}, "alignment": 3.0, "uniformity": -3.0},
        "train_seconds": 10.0,
    }
    row = compare.compare_row("inbatch", metrics, Path("."), epochs=5)
    assert row["probe_test_accuracy"] == pytest.approx(0.7)
    assert (row["alignment"], row["uniformity"], row["seconds_per_epoch"]) == (2.0, -2.0, 2.0)


def test_neg_compare_end_to_end_on_tiny_audio(tmp_path: Path) -> None:
    printed = run_ok("compare", "--neg-mode", "inbatch,queue+synthetic", "--out-dir", str(tmp_path),
                   "--epochs", "1", "--use-mock-data", "true", *TINY_RUN)  # fmt: skip
    with (tmp_path / "comparison.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["mode"] for r in rows] == ["inbatch", "queue+synthetic"]
    for row in rows:
        assert 0.0 <= float(row["probe_test_accuracy"]) <= 1.0
        assert float(row["final_loss"]) > 0
    assert rows[0]["final_loss"] != rows[1]["final_loss"]  # different negatives, different loss
    assert (tmp_path / "comparison.md").read_text().count("\n| ") >= 3
    assert (tmp_path / "loss_comparison.png").stat().st_size > 0
    assert "queue+synthetic" in printed
