"""Loss-log reading and the PNG figures (sizes, contents that can be checked)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cpckit.errors import CpckitError
from cpckit.evaluation.plots import (
    epoch_means,
    final_epoch_step_accuracy,
    plot_loss_comparison,
    plot_training_curve,
    plot_tsne,
    read_losses,
    step_accuracy_columns,
)

K = 4


def write_losses(path: Path, epochs: int = 3, steps_per_epoch: int = 10, k: int = K) -> None:
    """A synthetic losses.csv: loss falls, accuracy rises, acc_k falls with k."""
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            ["step", "epoch", "loss", "accuracy"] + [f"acc_k{i}" for i in range(1, k + 1)]
        )
        step = 0
        for epoch in range(epochs):
            for _ in range(steps_per_epoch):
                acc = [round(0.9 - 0.1 * i + 0.01 * epoch, 6) for i in range(k)]
                loss = 5.0 - 0.05 * step
                writer.writerow([step, epoch, f"{loss:.6f}", f"{np.mean(acc):.6f}"] + acc)
                step += 1


def write_val_losses(path: Path, epochs: int = 3) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["epoch", "loss", "accuracy"])
        for e in range(epochs):
            writer.writerow([e, 4.8 - 0.4 * e, 0.5 + 0.1 * e])


def _png_size(path: Path) -> tuple[int, int]:
    assert path.is_file() and path.stat().st_size > 1000
    with Image.open(path) as im:
        assert im.format == "PNG"
        return im.size


def test_eval_plots_read_losses_columns_and_types(tmp_path: Path) -> None:
    write_losses(tmp_path / "losses.csv")
    losses = read_losses(tmp_path / "losses.csv")
    assert list(losses)[:4] == ["step", "epoch", "loss", "accuracy"]
    assert losses["step"].dtype == np.int64 and losses["loss"].dtype == np.float64
    assert len(losses["loss"]) == 30
    assert losses["loss"][3] == pytest.approx(4.85)
    assert step_accuracy_columns(losses) == [
        (1, "acc_k1"),
        (2, "acc_k2"),
        (3, "acc_k3"),
        (4, "acc_k4"),
    ]


def test_eval_plots_epoch_means_and_final_epoch_per_k(tmp_path: Path) -> None:
    write_losses(tmp_path / "losses.csv")
    losses = read_losses(tmp_path / "losses.csv")
    epochs, last, means = epoch_means(losses, "loss")
    assert epochs.tolist() == [0, 1, 2]
    assert last.tolist() == [9, 19, 29]
    assert means[0] == pytest.approx(np.mean(5.0 - 0.05 * np.arange(10)))
    per_k = final_epoch_step_accuracy(losses)
    assert per_k == pytest.approx({1: 0.92, 2: 0.82, 3: 0.72, 4: 0.62})


def test_eval_plots_read_losses_header_only_and_errors(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("step,epoch,loss,accuracy\n")
    assert len(read_losses(tmp_path / "empty.csv")["loss"]) == 0
    with pytest.raises(CpckitError, match="loss log not found"):
        read_losses(tmp_path / "missing.csv")
    (tmp_path / "bad.csv").write_text("step,epoch,loss\n0,0,abc\n")
    with pytest.raises(CpckitError, match="line 2: loss='abc' is not a number"):
        read_losses(tmp_path / "bad.csv")
    (tmp_path / "short.csv").write_text("step,epoch,loss\n0,0\n")
    with pytest.raises(CpckitError, match="line 2 has 2 values, the header has 3"):
        read_losses(tmp_path / "short.csv")
    (tmp_path / "noloss.csv").write_text("step,acc\n0,1\n")
    with pytest.raises(CpckitError, match="has no 'loss' column"):
        read_losses(tmp_path / "noloss.csv")
    with pytest.raises(CpckitError, match="losses has no rows to plot"):
        plot_training_curve(tmp_path / "empty.csv", tmp_path / "x.png")


def test_eval_plots_training_curve_png_size(tmp_path: Path) -> None:
    write_losses(tmp_path / "losses.csv")
    write_val_losses(tmp_path / "val_losses.csv")
    out = plot_training_curve(
        tmp_path / "losses.csv", tmp_path / "sub" / "training_curve.png", title="CPC (audio)"
    )
    assert _png_size(out) == (1500, 450)
    out2 = plot_training_curve(
        read_losses(tmp_path / "losses.csv"),
        tmp_path / "with_val.png",
        val_losses=tmp_path / "val_losses.csv",
        figsize=(9.0, 3.0),
        dpi=50,
    )
    assert _png_size(out2) == (450, 150)


def test_eval_plots_training_curve_without_accuracy_columns(tmp_path: Path) -> None:
    losses = {
        "step": np.arange(5),
        "epoch": np.zeros(5, dtype=np.int64),
        "loss": np.linspace(3, 1, 5),
    }
    assert _png_size(plot_training_curve(losses, tmp_path / "c.png")) == (1500, 450)


def test_eval_plots_tsne_png_size_and_legend_limits(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(200, 2))
    labels = rng.integers(-1, 3, size=200)
    out = plot_tsne(
        pts, labels, tmp_path / "tsne_audio.png", "t-SNE", label_names=["zero", "one", "two"]
    )
    assert _png_size(out) == (800, 650)
    many = plot_tsne(pts, np.arange(200) % 30, tmp_path / "many.png", "30 classes")
    assert _png_size(many) == (800, 650)
    strings = plot_tsne(pts, np.array(["a", "b"] * 100), tmp_path / "str.png", "strings", dpi=50)
    assert _png_size(strings) == (400, 325)
    with pytest.raises(CpckitError, match=r"points must have shape \(N, 2\)"):
        plot_tsne(rng.normal(size=(5, 3)), np.zeros(5), tmp_path / "bad.png")
    with pytest.raises(CpckitError, match=r"labels must have shape \(5,\)"):
        plot_tsne(rng.normal(size=(5, 2)), np.zeros(4), tmp_path / "bad.png")


def test_eval_plots_loss_comparison_png_size(tmp_path: Path) -> None:
    steps = np.arange(100)
    curves = {"in-batch": (steps, 5 - 0.02 * steps), "queue": (steps, 5 - 0.03 * steps)}
    out = plot_loss_comparison(curves, tmp_path / "cmp.png")
    assert _png_size(out) == (800, 500)
    with pytest.raises(CpckitError, match="'queue' has 100 steps and 99 losses"):
        plot_loss_comparison({"queue": (steps, steps[:-1])}, tmp_path / "bad.png")
    with pytest.raises(CpckitError, match="at least one curve"):
        plot_loss_comparison({}, tmp_path / "bad.png")
