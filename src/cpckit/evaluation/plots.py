"""Figures of a run: training curves, t-SNE maps, loss comparisons.

Figures are drawn on ``matplotlib.figure.Figure`` objects rendered by the
Agg backend (no pyplot global state, no display needed) and saved as PNG at
``figsize * dpi`` pixels exactly.

The per-step log ``losses.csv`` has the header
``step,epoch,loss,accuracy,acc_k1,...,acc_kK``: one row per optimizer step,
the InfoNCE loss (van den Oord et al. 2018, eq. 4) and the contrastive
accuracy of predicting ``k`` steps ahead (``accuracy`` is the mean over k).
A validation log ``val_losses.csv`` has ``epoch,loss,accuracy``.
"""

from __future__ import annotations

import csv
import math
import re
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from cpckit.errors import CpckitError

__all__ = [
    "epoch_means",
    "final_epoch_step_accuracy",
    "plot_loss_comparison",
    "plot_training_curve",
    "plot_tsne",
    "read_losses",
    "step_accuracy_columns",
]

_INT_COLUMNS = ("step", "epoch")
_K_COLUMN = re.compile(r"^acc_k(\d+)$")
MAX_LEGEND_CLASSES = 20
"""t-SNE plots with more classes than this get no legend (it would hide the map)."""

LEGEND_WRAP = 24
"""Characters per line of a t-SNE legend entry (the legend sits right of the map)."""


def read_losses(path: str | Path) -> dict[str, np.ndarray]:
    """Read a ``losses.csv`` (or ``val_losses.csv``) into one array per column.

    ``step`` and ``epoch`` become int64, every other column float64 (an empty
    cell becomes NaN). A file with only the header gives empty arrays.

    Args:
        path: the CSV file.

    Returns:
        ``{column: (rows,) array}`` in the file's column order.

    Raises:
        CpckitError: when the file is missing, has no header, lacks a ``loss``
            column, or holds a row of the wrong length or a non-numeric value.
    """
    path = Path(path)
    if not path.is_file():
        raise CpckitError(f"loss log not found: {path}")
    with path.open(newline="") as fh:
        rows = [r for r in csv.reader(fh) if r]
    if not rows:
        raise CpckitError(
            f"loss log {path} is empty (expected a header such as step,epoch,loss,accuracy)"
        )
    header = [h.strip() for h in rows[0]]
    if "loss" not in header:
        raise CpckitError(
            f"loss log {path} has no 'loss' column; its columns are {', '.join(header)}"
        )
    columns: dict[str, list[float]] = {h: [] for h in header}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise CpckitError(
                f"loss log {path} line {line} has {len(row)} values, the header has {len(header)}"
            )
        for name, cell in zip(header, row):
            cell = cell.strip()
            try:
                columns[name].append(float(cell) if cell else math.nan)
            except ValueError:
                raise CpckitError(
                    f"loss log {path} line {line}: {name}={cell!r} is not a number"
                ) from None
    out: dict[str, np.ndarray] = {}
    for name, values in columns.items():
        arr = np.asarray(values, dtype=np.float64)
        out[name] = arr.astype(np.int64) if name in _INT_COLUMNS and np.isfinite(arr).all() else arr
    return out


def step_accuracy_columns(losses: Mapping[str, np.ndarray]) -> list[tuple[int, str]]:
    """``[(k, "acc_k<k>"), ...]`` sorted by k."""
    found = [(int(m.group(1)), name) for name in losses if (m := _K_COLUMN.match(name))]
    return sorted(found)


def epoch_means(
    losses: Mapping[str, np.ndarray], column: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-epoch mean of ``column``: ``(epochs, last step of each epoch, means)``.

    Without an ``epoch`` column the whole log counts as epoch 0; without a
    ``step`` column rows are numbered from 0.
    """
    values = np.asarray(losses[column], dtype=np.float64)
    epochs = np.asarray(losses.get("epoch", np.zeros(len(values), dtype=np.int64)))
    steps = np.asarray(losses.get("step", np.arange(len(values))))
    uniq = np.unique(epochs)
    means = np.array([_nanmean(values[epochs == e]) for e in uniq])
    last = np.array([steps[epochs == e].max() for e in uniq])
    return uniq, last, means


def _nanmean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else math.nan


def _epoch_centres(losses: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    """Mean step of each epoch (where an epoch's mean is drawn)."""
    epochs = np.asarray(losses.get("epoch", np.zeros(n, dtype=np.int64)))
    steps = np.asarray(losses.get("step", np.arange(n)), dtype=np.float64)
    return np.array([steps[epochs == e].mean() for e in np.unique(epochs)])


def final_epoch_step_accuracy(losses: Mapping[str, np.ndarray]) -> dict[int, float]:
    """Mean accuracy of each prediction step k over the rows of the last epoch."""
    cols = step_accuracy_columns(losses)
    if not cols or len(losses["loss"]) == 0:
        return {}
    epochs = np.asarray(losses.get("epoch", np.zeros(len(losses["loss"]), dtype=np.int64)))
    last = epochs == epochs.max()
    return {k: _nanmean(np.asarray(losses[name], dtype=np.float64)[last]) for k, name in cols}


def _moving_average(values: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or len(values) < window:
        return values
    kernel = np.ones(window) / window
    head = np.cumsum(values[: window - 1]) / np.arange(1, window)
    return np.concatenate([head, np.convolve(values, kernel, mode="valid")])


def _save(fig: Figure, out_png: str | Path, dpi: int) -> Path:
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(out, dpi=dpi, format="png")
    return out


def _as_losses(
    losses: Mapping[str, np.ndarray] | str | Path, what: str
) -> Mapping[str, np.ndarray]:
    data = read_losses(losses) if isinstance(losses, (str, Path)) else losses
    if "loss" not in data:
        raise CpckitError(f"{what} has no 'loss' column; it has {', '.join(data) or 'none'}")
    if len(data["loss"]) == 0:
        raise CpckitError(f"{what} has no rows to plot")
    return data


def _plot_epochs(
    ax: Axes,
    losses: Mapping[str, np.ndarray],
    column: str,
    val: Mapping[str, np.ndarray] | None,
) -> None:
    """Per-epoch means of ``column``, and its validation value at each epoch's last step."""
    epochs, last, means = epoch_means(losses, column)
    centres = _epoch_centres(losses, len(losses[column]))
    ax.plot(centres, means, "o-", color="tab:red", markersize=4, linewidth=1.5, label="epoch mean")
    if val is not None and column in val:
        v_epochs = np.asarray(val.get("epoch", np.arange(len(val[column]))))
        lookup = dict(zip(epochs.tolist(), last.tolist()))
        x = [lookup.get(int(e), math.nan) for e in v_epochs]
        ax.plot(
            x,
            val[column],
            "s--",
            color="tab:green",
            markersize=4,
            label="validation (end of epoch)",
        )


def _plot_loss_panel(
    ax: Axes, losses: Mapping[str, np.ndarray], val: Mapping[str, np.ndarray] | None
) -> None:
    loss = np.asarray(losses["loss"], dtype=np.float64)
    steps = np.asarray(losses.get("step", np.arange(len(loss))))
    ax.plot(steps, loss, color="tab:blue", alpha=0.3, linewidth=0.8, label="per step")
    window = max(1, len(loss) // 50)
    if window > 1:
        ax.plot(
            steps,
            _moving_average(loss, window),
            color="tab:blue",
            linewidth=1.2,
            label=f"moving mean ({window} steps)",
        )
    _plot_epochs(ax, losses, "loss", val)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("InfoNCE loss")
    ax.set_title("(a) loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def _plot_k_panel(ax: Axes, losses: Mapping[str, np.ndarray]) -> None:
    per_k = final_epoch_step_accuracy(losses)
    ax.set_title("(b) accuracy per prediction step (final epoch)")
    if not per_k:
        ax.text(0.5, 0.5, "no acc_k columns", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    ks = list(per_k)
    ax.bar(ks, [per_k[k] for k in ks], color="tab:purple")
    ax.set_xticks(ks)
    ax.set_xlabel("steps ahead k")
    ax.set_ylabel("contrastive accuracy")
    ax.set_ylim(0.0, 1.0)
    ax.grid(alpha=0.3, axis="y")


def _plot_accuracy_panel(
    ax: Axes, losses: Mapping[str, np.ndarray], val: Mapping[str, np.ndarray] | None
) -> None:
    ax.set_title("(c) accuracy over training")
    if "accuracy" not in losses:
        ax.text(0.5, 0.5, "no accuracy column", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    acc = np.asarray(losses["accuracy"], dtype=np.float64)
    steps = np.asarray(losses.get("step", np.arange(len(acc))))
    ax.plot(steps, acc, color="tab:orange", alpha=0.3, linewidth=0.8, label="mean over k, per step")
    _plot_epochs(ax, losses, "accuracy", val)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("contrastive accuracy")
    ax.set_ylim(0.0, 1.0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def plot_training_curve(
    losses: Mapping[str, np.ndarray] | str | Path,
    out_png: str | Path,
    title: str | None = None,
    val_losses: Mapping[str, np.ndarray] | str | Path | None = None,
    *,
    figsize: tuple[float, float] = (15.0, 4.5),
    dpi: int = 100,
) -> Path:
    """Training curves of a CPC run in three panels.

    (a) InfoNCE loss per step, a moving mean and the per-epoch mean (plus
    the validation loss per epoch when given); (b) contrastive accuracy for
    each prediction step k, averaged over the final epoch (it falls with k:
    the far future is harder to predict, van den Oord et al. 2018, fig. 3);
    (c) accuracy (mean over k) per step and per epoch.

    Args:
        losses: the columns of ``losses.csv`` (see :func:`read_losses`) or its path.
        out_png: output file (folders are created).
        title: figure title.
        val_losses: the columns of ``val_losses.csv`` or its path (optional).
        figsize: inches; the PNG is ``figsize * dpi`` pixels.
        dpi: pixels per inch.

    Returns:
        The path of the PNG.

    Raises:
        CpckitError: when the log is missing, has no ``loss`` column or no rows.
    """
    data = _as_losses(losses, "losses")
    val = None if val_losses is None else _as_losses(val_losses, "validation losses")
    fig = Figure(figsize=figsize, dpi=dpi)
    axes = fig.subplots(1, 3)
    _plot_loss_panel(axes[0], data, val)
    _plot_k_panel(axes[1], data)
    _plot_accuracy_panel(axes[2], data, val)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, out_png, dpi)


def _label_text(label: Any, label_names: list[str] | None) -> str:
    if isinstance(label, (int, np.integer)):
        if label < 0:
            return "unlabelled"
        if label_names is not None and label < len(label_names):
            return str(label_names[label])
    return str(label)


def plot_tsne(
    embedding_2d: Any,
    labels: Any,
    out_png: str | Path,
    title: str = "t-SNE",
    label_names: list[str] | None = None,
    *,
    figsize: tuple[float, float] = (8.0, 6.5),
    dpi: int = 100,
) -> Path:
    """Scatter a 2-D map coloured by label, with a legend.

    Args:
        embedding_2d: ``(N, 2)`` points (e.g. from :func:`cpckit.evaluation.tsne.tsne_2d`).
        labels: ``(N,)`` labels; integer label ``i`` is shown as
            ``label_names[i]`` when names are given, ``-1`` as "unlabelled".
        out_png: output file (folders are created).
        title: figure title.
        label_names: class names indexed by integer label.
        figsize: inches; the PNG is ``figsize * dpi`` pixels.
        dpi: pixels per inch.

    Returns:
        The path of the PNG.

    Raises:
        CpckitError: when the points are not ``(N, 2)`` or the labels not ``(N,)``.
    """
    if hasattr(embedding_2d, "detach"):
        embedding_2d = embedding_2d.detach().cpu().numpy()
    if hasattr(labels, "detach"):
        labels = labels.detach().cpu().numpy()
    pts = np.asarray(embedding_2d, dtype=np.float64)
    lab = np.asarray(labels)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise CpckitError(f"plot_tsne points must have shape (N, 2), got shape {tuple(pts.shape)}")
    if lab.shape != (pts.shape[0],):
        raise CpckitError(
            f"plot_tsne labels must have shape ({pts.shape[0]},), got shape {tuple(lab.shape)}"
        )
    classes = np.unique(lab)
    fig = Figure(figsize=figsize, dpi=dpi)
    ax = fig.add_axes((0.06, 0.07, 0.68, 0.85))
    names = [_label_text(c.item() if hasattr(c, "item") else c, label_names) for c in classes]
    n_labelled = sum(name != "unlabelled" for name in names)
    cmap = matplotlib.colormaps["tab10" if n_labelled <= 10 else "tab20"]
    size = float(np.clip(3000.0 / max(1, len(pts)), 2.0, 30.0))
    rank = 0
    for cls, name in zip(classes, names):
        mask = lab == cls
        if name == "unlabelled":
            color: Any = (0.6, 0.6, 0.6, 1.0)
        else:
            color = cmap(rank % cmap.N)
            rank += 1
        ax.scatter(
            pts[mask, 0],
            pts[mask, 1],
            s=size,
            color=color,
            alpha=0.8,
            linewidths=0,
            # wrapped so long class names stay inside the figure, beside the map
            label="\n".join(textwrap.wrap(f"{name} ({int(mask.sum())})", LEGEND_WRAP)),
        )
    ax.set_xticks([])
    ax.set_yticks([])
    shown = title
    if len(classes) > MAX_LEGEND_CLASSES:
        shown = f"{title} ({len(classes)} classes)"
    else:
        ax.legend(
            loc="upper left",
            bbox_to_anchor=(1.02, 1.0),
            fontsize=8,
            markerscale=max(1.0, 20.0 / size),
            frameon=False,
            title="label (count)",
        )
    ax.set_title(shown)
    return _save(fig, out_png, dpi)


def plot_loss_comparison(
    curves: Mapping[str, tuple[Any, Any]],
    out_png: str | Path,
    title: str = "InfoNCE loss",
    *,
    smooth: int | None = None,
    figsize: tuple[float, float] = (8.0, 5.0),
    dpi: int = 100,
) -> Path:
    """Loss curves of several runs on one plot.

    Args:
        curves: ``{run name: (steps (S,), losses (S,))}``.
        out_png: output file (folders are created).
        title: figure title.
        smooth: moving-mean window in steps; ``None`` = about 1/50 of the
            longest curve (raw values are drawn faintly behind).
        figsize: inches; the PNG is ``figsize * dpi`` pixels.
        dpi: pixels per inch.

    Returns:
        The path of the PNG.

    Raises:
        CpckitError: when ``curves`` is empty or a curve's steps and losses
            differ in length or are empty.
    """
    if not curves:
        raise CpckitError("plot_loss_comparison needs at least one curve")
    arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, pair in curves.items():
        if len(pair) != 2:
            raise CpckitError(f"plot_loss_comparison curve {name!r} must be a pair (steps, losses)")
        steps = np.asarray(pair[0], dtype=np.float64).ravel()
        loss = np.asarray(pair[1], dtype=np.float64).ravel()
        if len(steps) != len(loss) or len(loss) == 0:
            raise CpckitError(
                f"plot_loss_comparison curve {name!r} has {len(steps)} steps and {len(loss)} losses "
                "(they must match and be non-empty)"
            )
        arrays[name] = (steps, loss)
    longest = max(len(v[1]) for v in arrays.values())
    window = smooth if smooth is not None else max(1, longest // 50)
    cmap = matplotlib.colormaps["tab10"]
    fig = Figure(figsize=figsize, dpi=dpi)
    ax = fig.subplots()
    for i, (name, (steps, loss)) in enumerate(arrays.items()):
        color = cmap(i % cmap.N)
        if window > 1:
            ax.plot(steps, loss, color=color, alpha=0.2, linewidth=0.8)
        ax.plot(steps, _moving_average(loss, window), color=color, linewidth=1.5, label=name)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss")
    ax.set_title(title if window <= 1 else f"{title} (moving mean over {window} steps)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9)
    fig.tight_layout()
    return _save(fig, out_png, dpi)
