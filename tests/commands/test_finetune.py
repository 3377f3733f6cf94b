"""`cpckit finetune`: a linear head on the pooled context, trained end to end; the model it writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import cpckit
from helpers.cli import REGEX, make_run, run, write_pngs, write_wavs


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("finetune")
    write_wavs(base / "wav")
    write_pngs(base / "png")
    return {
        "base": base,
        "wav": base / "wav",
        "png": base / "png",
        "run": make_run(base / "run", "conv"),
        "image": make_run(base / "run_img", "image"),
    }


def test_finetune_writes_a_loadable_model_and_its_accuracy(data: dict[str, Path]) -> None:
    code, stdout, err = run(
        "finetune",
        "--checkpoint",
        data["run"],
        "--audio-root",
        data["wav"],
        "--label-regex",
        REGEX,
        "--label-key",
        "digit",
        "--epochs",
        "6",
        "--lr",
        "0.01",
        "--batch-size",
        "6",
        "--test-fraction",
        "0.25",
        "--no-progress",
    )
    assert code == 0, err
    out = data["run"] / "finetune"
    summary = json.loads((out / "finetune.json").read_text())
    assert summary["label_names"] == ["0", "1"] and summary["from_scratch"] is False
    assert summary["n_train"] + summary["n_test"] == 18 and summary["n_test"] == 5
    assert 0.0 <= summary["train_accuracy"] <= 1.0 and 0.0 <= summary["test_accuracy"] <= 1.0
    assert [h["epoch"] for h in summary["history"]] == list(range(1, 7))
    assert summary["history"][-1]["loss"] < summary["history"][0]["loss"]
    assert summary["encoder_lr"] == pytest.approx(0.001)
    assert f"train accuracy {summary['train_accuracy']:.4f}" in stdout
    # the fine-tuned encoder + context load with cpckit.load; the head travels with them
    tuned = cpckit.load(out)
    original = cpckit.load(data["run"])
    wave = np.sin(np.arange(1600) / 5).astype(np.float32)
    assert not np.allclose(
        tuned.embed(wave, sample_rate=16000).context,
        original.embed(wave, sample_rate=16000).context,
    )
    blob = torch.load(out / "cpc_model.pth", weights_only=True)
    head = blob["classifier"]
    assert head["label_names"] == ["0", "1"] and head["label_key"] == "digit"
    assert head["state_dict"]["weight"].shape == (2, 16)


def test_finetune_from_scratch_on_images_with_a_test_root(
    data: dict[str, Path], tmp_path: Path
) -> None:
    test = tmp_path / "test"
    write_pngs(test, per_class=2, seed=3)
    out = tmp_path / "sup"
    code, stdout, err = run(
        "finetune",
        "--checkpoint",
        data["image"],
        "--image-root",
        data["png"],
        "--test-root",
        test,
        "--from-scratch",
        "--epochs",
        "2",
        "--out-dir",
        out,
        "--no-progress",
    )
    assert code == 0, err
    summary = json.loads((out / "finetune.json").read_text())
    assert summary["from_scratch"] is True and summary["label_key"] == "folder"
    assert (summary["n_train"], summary["n_test"]) == (12, 4)
    assert summary["encoder_lr"] == summary["lr"]
    assert "trained from scratch" in stdout


@pytest.mark.parametrize(
    ("extra", "status", "message"),
    [
        (["--label-regex", REGEX], 2, "--label-regex needs --label-key"),
        (["--label-key", "digit"], 1, "--label-key 'digit' is not a label"),  # not in the data
        (
            ["--label-regex", REGEX, "--label-key", "digit", "--epochs", "0"],
            2,
            "epochs = 0 must be >= 1",
        ),
    ],
)
def test_finetune_bad_input_is_one_line(
    data: dict[str, Path], extra: list[str], status: int, message: str
) -> None:
    code, _, err = run(
        "finetune",
        "--checkpoint",
        data["run"],
        "--audio-root",
        data["wav"],
        "--no-progress",
        *extra,
    )
    assert code == status and err.startswith("error: ") and message in err
    assert len(err.strip().splitlines()) == 1
