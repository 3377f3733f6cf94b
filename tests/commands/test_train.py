"""End-to-end `cpckit train` through the CLI on tiny synthetic audio."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from cpckit.cli import main
from helpers.runs import RUN_FILES, check_files, check_final_loss, check_geometry

TINY = [
    "model.z_dim=16",
    "model.c_dim=16",
    "model.prediction_steps=3",
    "audio_encoder.conv_layers=[[1,16,10,5,3,1],[16,16,8,4,2,1]]",
    "data.full_duration=0.08",
    "data.n_train=48",
    "data.n_test=32",
    "negatives.n_negatives=8",
    "train.batch_size=16",
    "eval.max_examples=64",
]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("run") / "outputs_audio"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(
            [
                "train",
                "--modality",
                "audio",
                "--use-mock-data",
                "true",
                "--out-dir",
                str(out),
                "--epochs",
                "2",
                "--neg-mode",
                "inbatch",
                *TINY,
            ]
        )
    assert code == 0
    return out, buf.getvalue()


def test_train_writes_every_file_of_the_run_folder(tiny_run: tuple[Path, str]) -> None:
    out, _ = tiny_run
    check_files(out, [*RUN_FILES, "tsne_audio.png", "report.html"])


def test_train_metrics_and_losses_are_consistent(tiny_run: tuple[Path, str]) -> None:
    out, printed = tiny_run
    metrics = json.loads((out / "metrics.json").read_text())
    check_final_loss(out, metrics)
    check_geometry(metrics)
    assert 0.0 <= metrics["probe"]["test_accuracy"] <= 1.0
    assert 0.0 <= metrics["probe"]["train_accuracy"] <= 1.0
    with (out / "losses.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    steps = [int(r["step"]) for r in rows]
    assert steps == list(range(1, 7))  # 48 examples / 16 per batch * 2 epochs
    assert set(rows[0]) >= {"step", "epoch", "loss", "accuracy", "acc_k1", "acc_k3"}
    npy = np.load(out / "losses.npy")
    assert np.allclose(npy, [float(r["loss"]) for r in rows], atol=1e-5)
    assert "probe.test_accuracy" in printed
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert cfg["train"]["epochs"] == 2 and cfg["model"]["z_dim"] == 16


def test_saved_model_reloads_with_same_outputs(tiny_run: tuple[Path, str]) -> None:
    import cpckit

    out, _ = tiny_run
    model = cpckit.load(out / "cpc_model.pth")
    wave = np.sin(np.arange(1280) / 3).astype(np.float32)
    a = model.embed(wave, sample_rate=16000)
    b = cpckit.load(out).embed(wave, sample_rate=16000)
    assert a.context.shape == (16,) and a.latent.shape == (16,)
    assert np.allclose(a.context, b.context)


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cpckit", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["train", "--epochs", "ten"],
            "error: train.epochs = 'ten' is not valid: expected an integer",
        ),
        (
            ["train", "--neg-mode", "bogus"],
            "error: negatives.mode names an unknown sampler 'bogus'",
        ),
        (
            ["train", "model.prediction_steps=70"],
            "error: data.full_duration = 0.64 s at 16000 Hz gives 65 latent steps",
        ),
        (["train", "train.nope=1"], "error: unknown config key 'train.nope'"),
        (
            ["train", "--config", "/nonexistent.yaml"],
            "error: config file '/nonexistent.yaml' does not exist",
        ),
    ],
)
def test_bad_config_exits_2_with_one_line(args: list[str], message: str) -> None:
    proc = _run_cli(*args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_help_lists_commands_and_flags() -> None:
    proc = _run_cli("--help")
    assert proc.returncode == 0 and "train" in proc.stdout
    proc = _run_cli("train", "--help")
    for flag in (
        "--modality",
        "--use-mock-data",
        "--out-dir",
        "--epochs",
        "--neg-mode",
        "--resume",
        "KEY=VALUE",
    ):
        assert flag in proc.stdout
    assert "default: 10" in proc.stdout
