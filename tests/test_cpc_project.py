"""``python cpc_project.py`` (the EE782 project's training script) is ``cpckit train``: the
project's image command runs on the two classes ``prepare_cifar10.py`` wrote, and its
LaTeX report finds the run's figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from helpers.archives import ServeArchive, cifar_archive
from helpers.cli import run_script
from helpers.runs import check_files

if TYPE_CHECKING:
    from helpers.server import FileServer

WRITE_UP_FLAGS = (
    "--modality",
    "--use-mock-data",
    "--image-root",
    "--audio-root",
    "--out-dir",
    "--epochs",
    "--neg-mode",
    "--batch-size",
    "--z-dim",
    "--c-dim",
    "--queue-size",
)
"""The flags the EE782 write-up lists for ``cpc_project.py``."""

# Small enough for seconds: 16x16 images in a 3x3 grid of patches, tiny widths.
TINY = [
    "data.image_size=16",
    "image_encoder.patch_size=8",
    "image_encoder.stride=4",
    "image_encoder.width=8",
    "image_encoder.depth=1",
    "model.prediction_steps=2",
    "negatives.n_negatives=8",
    "negatives.n_queue=8",
    "negatives.n_synthetic=4",
    "eval.max_examples=48",
    "eval.report=false",
    "train.logger=none",
]


def test_help_lists_every_flag_of_the_write_up() -> None:
    code, out = run_script("cpc_project.py", "--help")
    assert code == 0
    for flag in WRITE_UP_FLAGS:
        assert flag in out, flag


@pytest.mark.slow
def test_the_image_command_runs_on_the_prepared_classes(
    server: FileServer,
    serve_archive: ServeArchive,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cpckit.cli import main

    labels = (0, 1, 2) * 16  # 16 airplanes, 16 automobiles and 16 birds to leave out
    serve_archive("cifar-10-python.tar.gz", cifar_archive(train_labels=labels)[0])
    monkeypatch.chdir(tmp_path)
    assert run_script("prepare_cifar10.py", "--base-url", server.url)[0] == 0
    # the write-up's command, with one epoch and a small model
    code, out = run_script(
        "cpc_project.py",
        *("--modality", "image", "--use-mock-data", "false", "--image-root", "./data/images"),
        *("--out-dir", "./outputs_image", "--epochs", "1", "--neg-mode", "queue+synthetic"),
        *("--batch-size", "8", "--z-dim", "16", "--c-dim", "16", "--queue-size", "32"),
        *TINY,
    )
    assert code == 0, out
    assert "data: classes: 2 (class0, class1)" in out
    run = tmp_path / "outputs_image"
    check_files(run, ["training_curve.png", "tsne_image.png", "cpc_model.pth", "metrics.json"])
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["probe"]["n_train"] + metrics["probe"]["n_test"] == 32
    # the project's report: report/cpc_report.tex, its figures found from report/
    assert main(["report", "--format", "latex", "outputs_image"]) == 0
    tex = (tmp_path / "report" / "cpc_report.tex").read_text()
    for name in ("training_curve.png", "tsne_image.png"):
        assert f"{{../outputs_image/{name}}}" in tex and (run / name).is_file()
