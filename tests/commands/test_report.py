"""`cpckit report`: every figure and number of a run folder (with `cpckit evaluate` results)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import numpy as np
import pytest

from cpckit.evaluation.plots import plot_training_curve
from cpckit.evaluation.report import flatten_metrics, format_value
from helpers.cli import REGEX, make_run, run, write_wavs


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("report")
    folder = make_run(base / "run", "conv")
    write_wavs(base / "wav")
    (folder / "config.yaml").write_text("model:\n  z_dim: 16\n")
    rng = np.random.default_rng(0)
    lines = ["step,epoch,loss,accuracy,acc_k1,acc_k2"]
    for step in range(1, 9):
        loss = 3.0 - 0.2 * step + 0.01 * rng.standard_normal()
        lines.append(
            f"{step},{(step - 1) // 4},{loss:.5f},{0.1 * step:.3f},{0.1 * step:.3f},{0.05 * step:.3f}"
        )
    (folder / "losses.csv").write_text("\n".join(lines) + "\n")
    plot_training_curve(folder / "losses.csv", folder / "training_curve.png")
    metrics = {
        "final_loss": 1.4321,
        "alignment": 0.3456,
        "uniformity": -2.5,
        "probe": {"train_accuracy": 0.875, "test_accuracy": 0.8125},
        "baselines": [
            {
                "name": "CPC",
                "features": "context (pooled)",
                "protocol": "fixed split",
                "train_accuracy": 0.875,
                "test_accuracy": 0.8125,
            }
        ],
    }
    (folder / "metrics.json").write_text(json.dumps(metrics))
    code, _, err = run(
        "evaluate",
        "--checkpoint",
        folder,
        "--audio-root",
        base / "wav",
        "--label-regex",
        REGEX,
        "--label-key",
        "digit",
        "--protocol",
        "kfold",
        "--folds",
        "3",
        "--no-progress",
    )
    assert code == 0, err
    return folder


def test_report_command_writes_every_figure_and_number(run_dir: Path) -> None:
    code, stdout, err = run("report", run_dir)
    assert code == 0, err
    html_path, md_path = run_dir / "report.html", run_dir / "report.md"
    assert f"wrote {html_path}" in stdout and f"wrote {md_path}" in stdout
    html, md = html_path.read_text(), md_path.read_text()
    pngs = sorted(p.name for p in run_dir.glob("*.png"))
    assert pngs == ["training_curve.png", "tsne_eval_audio.png"]
    for name in pngs:
        data = base64.b64encode((run_dir / name).read_bytes()).decode("ascii")
        assert data in html, name
        assert f"]({name})" in md, name
    assert 'src="http' not in html and "<link" not in html
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    numbers = {
        **flatten_metrics(metrics),
        **{f"evaluation.{k}": v for k, v in flatten_metrics(evaluation).items()},
    }
    for key, value in numbers.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            assert key in html and format_value(value) in html, key
            assert key in md and format_value(value) in md, key
    # the evaluation table puts CPC and each baseline side by side
    assert "## Evaluation" in md and "| CPC | context (pooled) |" in md
    assert "| random init | context (pooled) |" in md and "| MFCC statistics | input |" in md
    for row in evaluation["rows"]:
        assert f"{row['test_accuracy']:.4f}" in md and f"{row['train_accuracy']:.4f}" in html


def test_report_of_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    code, stdout, err = run("report", tmp_path / "nope")
    assert code == 1 and stdout == ""
    assert err.strip() == f"error: run folder not found: {tmp_path / 'nope'}"


def test_report_latex_writes_one_document_of_the_runs_given(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, stdout, err = run("report", "--format", "latex", run_dir, run_dir)
    tex_path = Path("report") / "cpc_report.tex"  # the EE782 project's report file
    assert code == 0, err
    assert stdout.splitlines() == [
        f"wrote {tex_path}",
        "compile: cd report && pdflatex cpc_report.tex",
    ]
    tex = tex_path.read_text()
    assert tex.count(r"\section{Run ") == 1  # a folder given twice is reported once
    for name in ("training_curve.png", "tsne_eval_audio.png"):
        path = Path(os.path.relpath(run_dir / name, tex_path.parent)).as_posix()
        assert f"{{{path}}}" in tex and (tex_path.parent / path).is_file(), name
    # the results table and the `cpckit evaluate` rows, as in the HTML report
    assert r"& 1.4321 & 0.8125 & n/a & n/a & 0.3456 & -2.5000 \\" in tex
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    assert r"\cpccaptionof{table}{run: Probe accuracy}" in tex
    for row in evaluation["rows"]:
        assert f"{row['test_accuracy']:.4f}" in tex


def test_report_errors_name_the_flag(run_dir: Path, tmp_path: Path) -> None:
    code, stdout, err = run("report", run_dir, "--out", tmp_path / "r.tex")
    assert code == 2 and stdout == ""
    assert err.strip() == (
        f"error: --out {tmp_path / 'r.tex'} is for --format latex; the HTML report is written "
        "into each run folder (report.html, report.md)"
    )
    code, _, err = run("report", "--format", "latex", run_dir, "--out", tmp_path / "r.pdf")
    assert code == 2 and err.strip().startswith(f"error: the LaTeX report {tmp_path / 'r.pdf'}")
