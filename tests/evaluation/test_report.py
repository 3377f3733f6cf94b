"""The run report: every figure and every number of a synthetic run folder."""

from __future__ import annotations

import base64
import csv
import json
import re
from pathlib import Path

import pytest
from PIL import Image

from cpckit.errors import CpckitError
from cpckit.evaluation.report import flatten_metrics, write_report

BASELINES = [
    {
        "name": "CPC (context)",
        "features": "context (pooled)",
        "protocol": "fixed split",
        "train_accuracy": 0.9875,
        "test_accuracy": 0.9125,
    },
    {
        "name": "CPC (latent)",
        "features": "latent (pooled)",
        "protocol": "fixed split",
        "train_accuracy": 0.9625,
        "test_accuracy": 0.8375,
    },
    {
        "name": "random init",
        "features": "context (pooled)",
        "protocol": "fixed split",
        "train_accuracy": 0.6125,
        "test_accuracy": 0.4375,
    },
    {
        "name": "MFCC",
        "features": "input",
        "protocol": "fixed split",
        "train_accuracy": 0.8125,
        "test_accuracy": 0.7625,
    },
    {
        "name": "raw pixels",
        "features": "input",
        "protocol": "fixed split",
        "train_accuracy": 0.5125,
        "test_accuracy": 0.3875,
    },
    {
        "name": "supervised <end-to-end>",
        "features": "logits",
        "protocol": "fixed split",
        "train_accuracy": 0.9975,
        "test_accuracy": 0.9525,
    },
]

METRICS = {
    "final_loss": 1.2345,
    "probe": {"train_accuracy": 0.9875, "test_accuracy": 0.9125, "n_train": 800, "n_test": 200},
    "latent_probe": {"train_accuracy": 0.9625, "test_accuracy": 0.8375},
    "alignment": 0.4321,
    "uniformity": -3.2109,
    "audio": {"probe": {"test_accuracy": 0.7654}, "alignment": 0.5432, "uniformity": -2.8765},
    "image": {"probe": {"test_accuracy": 0.6543}, "alignment": 0.6789, "uniformity": -1.9876},
    "note": "<script>alert(1)</script>",
    "baselines": BASELINES,
    "wall_time_seconds": 12.5,
}

CONFIG = 'model:\n  z_dim: 256\n  c_dim: 128\nnote: "a <b> & c"\n'
PER_K = {1: 0.9125, 2: 0.8125, 3: 0.6875}


def _png(path: Path, color: tuple[int, int, int]) -> None:
    Image.new("RGB", (6, 4), color).save(path)


def _run_folder(root: Path) -> Path:
    root.mkdir()
    (root / "metrics.json").write_text(json.dumps(METRICS))
    (root / "config.yaml").write_text(CONFIG)
    with (root / "losses.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["step", "epoch", "loss", "accuracy", "acc_k1", "acc_k2", "acc_k3"])
        w.writerow([0, 0, 3.0, 0.5, 0.6, 0.5, 0.4])
        w.writerow([1, 0, 2.5, 0.55, 0.65, 0.55, 0.45])
        for step in (2, 3):
            w.writerow([step, 1, 1.5, 0.8, PER_K[1], PER_K[2], PER_K[3]])
    (root / "val_losses.csv").write_text("epoch,loss,accuracy\n0,2.75,0.5\n1,1.8125,0.7125\n")
    _png(root / "training_curve.png", (255, 0, 0))
    _png(root / "tsne_audio.png", (0, 255, 0))
    _png(root / "tsne_image.png", (0, 0, 255))
    _png(root / "loss comparison.png", (9, 9, 9))
    return root


def _numbers(value: object) -> list[str]:
    return [str(v) for v in flatten_metrics(value).values() if isinstance(v, (int, float))]


def test_eval_report_html_is_self_contained_with_all_figures(tmp_path: Path) -> None:
    root = _run_folder(tmp_path / "run")
    html_path, md_path = write_report(root)
    assert (html_path, md_path) == (root / "report.html", root / "report.md")
    html = html_path.read_text()
    for name in ("training_curve.png", "tsne_audio.png", "tsne_image.png", "loss comparison.png"):
        data = base64.b64encode((root / name).read_bytes()).decode("ascii")
        assert f'src="data:image/png;base64,{data}"' in html
    assert len(re.findall(r"<img ", html)) == 4
    assert not re.search(r"(src|href)=\"(?!data:)", html)
    assert "http://" not in html and "https://" not in html
    assert "<style>" in html


def test_eval_report_html_has_every_number_and_escapes_text(tmp_path: Path) -> None:
    html = write_report(_run_folder(tmp_path / "run"))[0].read_text()
    for number in _numbers(METRICS):
        assert number in html, number
    for row in BASELINES:
        assert str(row["name"]).replace("<", "&lt;").replace(">", "&gt;") in html
    for key in (
        "probe.test_accuracy",
        "audio.probe.test_accuracy",
        "image.uniformity",
        "baselines.5.name",
    ):
        assert key in html
    for k, acc in PER_K.items():
        assert f'<td class="num">{k}</td><td class="num">{acc:.4f}</td>' in html
    assert "1.8125" in html  # final validation loss
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "a &lt;b&gt; &amp; c" in html and "z_dim: 256" in html


def test_eval_report_md_links_figures_and_has_every_number(tmp_path: Path) -> None:
    root = _run_folder(tmp_path / "run")
    md = write_report(root)[1].read_text()
    for link in (
        "(training_curve.png)",
        "(tsne_audio.png)",
        "(tsne_image.png)",
        "(loss%20comparison.png)",
    ):
        assert f"]{link}" in md
    assert "base64" not in md
    assert "<script>" not in md and "&lt;script&gt;" in md
    for number in _numbers(METRICS):
        assert number in md, number
    for k, acc in PER_K.items():
        assert f"| {k} | {acc:.4f} |" in md
    assert "```yaml\n" + CONFIG.rstrip() + "\n```" in md
    baseline_rows = [
        line for line in md.splitlines() if line.startswith("| CPC (") or line.startswith("| MFCC")
    ]
    assert "| CPC (context) | context (pooled) | fixed split | 0.9875 | 0.9125 |" in baseline_rows
    assert len(baseline_rows) == 3


def test_eval_report_section_order(tmp_path: Path) -> None:
    md = write_report(_run_folder(tmp_path / "run"))[1].read_text()
    titles = re.findall(r"^## (.+)$", md, flags=re.M)
    assert titles == [
        "Run summary",
        "Baselines",
        "Configuration",
        "Training curves",
        "t-SNE",
        "Other figures",
        "All metrics",
    ]


def test_eval_report_nested_baselines_without_top_level(tmp_path: Path) -> None:
    root = tmp_path / "multi"
    root.mkdir()
    metrics = {
        "audio": {
            "baselines": [
                {
                    "name": "MFCC",
                    "features": "input",
                    "protocol": "fixed split",
                    "train_accuracy": 0.8,
                    "test_accuracy": 0.7,
                }
            ]
        },
        "image": {
            "baselines": [
                {
                    "name": "raw pixels",
                    "features": "input",
                    "protocol": "fixed split",
                    "train_accuracy": 0.5,
                    "test_accuracy": 0.3,
                }
            ]
        },
    }
    (root / "metrics.json").write_text(json.dumps(metrics))
    md = write_report(root)[1].read_text()
    assert "### audio" in md and "### image" in md
    assert "| MFCC | input | fixed split | 0.8000 | 0.7000 |" in md


def test_eval_report_minimal_folder_skips_missing_files(tmp_path: Path) -> None:
    root = tmp_path / "min"
    root.mkdir()
    (root / "metrics.json").write_text(
        json.dumps({"final_loss": None, "probe": {"test_accuracy": 0.5}})
    )
    html_path, md_path = write_report(root)
    md = md_path.read_text()
    assert "probe.test_accuracy" in md and "n/a" in md
    assert "## Configuration" not in md and "## t-SNE" not in md
    assert "<img" not in html_path.read_text()


def test_eval_report_errors_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(
        CpckitError, match=f"run folder not found: {re.escape(str(tmp_path / 'nope'))}"
    ):
        write_report(tmp_path / "nope")
    with pytest.raises(CpckitError, match=re.escape(str(tmp_path / "metrics.json"))):
        write_report(tmp_path)
    (tmp_path / "metrics.json").write_text("[1, 2]")
    with pytest.raises(CpckitError, match="must hold a JSON object, got list"):
        write_report(tmp_path)
    (tmp_path / "metrics.json").write_text("{bad")
    with pytest.raises(CpckitError, match="is not valid JSON"):
        write_report(tmp_path)


def test_eval_report_unreadable_loss_log_is_noted(tmp_path: Path) -> None:
    (tmp_path / "metrics.json").write_text("{}")
    (tmp_path / "losses.csv").write_text("step,epoch,loss\n0,0,oops\n")
    md = write_report(tmp_path)[1].read_text()
    assert "losses.csv could not be read" in md


def test_eval_report_flatten_metrics() -> None:
    flat = flatten_metrics({"a": {"b": 1, "c": [{"d": 2}]}, "e": None})
    assert flat == {"a.b": 1, "a.c.0.d": 2, "e": None}
