"""``cpckit compare``: train one config once per negatives mode and compare the runs."""

from __future__ import annotations

import argparse
import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["COLUMNS", "add_parser", "cmd_compare", "compare_row", "write_comparison"]

DEFAULT_MODES = "inbatch,queue,queue+synthetic"
DEFAULT_OUT = "./outputs_compare"

# (CSV column, Markdown header)
COLUMNS: list[tuple[str, str]] = [
    ("mode", "negatives.mode"),
    ("final_loss", "final loss"),
    ("probe_test_accuracy", "probe test accuracy"),
    ("alignment", "alignment"),
    ("uniformity", "uniformity"),
    ("seconds_per_epoch", "seconds / epoch"),
]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from cpckit.commands.train import TRAIN_FLAGS, add_config_args

    p: argparse.ArgumentParser = subparsers.add_parser(
        "compare",
        help="train the same config once per negatives mode; table and loss plot side by side",
        description="Train one config once for each negatives mode in --neg-mode, with the same "
        "seed, each in its own subfolder of --out-dir; then write comparison.md and "
        "comparison.csv (final loss, probe test accuracy, alignment, uniformity, seconds per "
        "epoch) and loss_comparison.png (the loss curves together) in --out-dir.",
    )
    flags = {f: v for f, v in TRAIN_FLAGS.items() if f != "--neg-mode"}
    add_config_args(p, flags)
    p.add_argument(
        "--neg-mode",
        default=DEFAULT_MODES,
        metavar="MODE,MODE,...",
        help=f"comma-separated negatives modes to compare [default: {DEFAULT_MODES}]",
    )
    p.set_defaults(func=cmd_compare)
    return p


def _modes(text: str) -> list[str]:
    from cpckit.errors import ConfigError

    modes = [m.strip() for m in text.split(",") if m.strip()]
    if not modes:
        raise ConfigError(
            f"--neg-mode = {text!r}: give modes separated by commas, e.g. {DEFAULT_MODES}"
        )
    if len(set(modes)) != len(modes):
        raise ConfigError(f"--neg-mode = {text!r} names a mode twice")
    return modes


def _folder(mode: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "+-_." else "_" for ch in mode)


def cmd_compare(args: argparse.Namespace) -> int:
    from cpckit.training.process import tune_process

    tune_process()  # as `cpckit train` does, before torch starts its thread pool
    from cpckit.build import load_checked_config
    from cpckit.commands.train import TRAIN_FLAGS, flag_values
    from cpckit.config import TrainConfig
    from cpckit.training.run import train

    modes = _modes(args.neg_mode)
    flags = flag_values(args, {f: v for f, v in TRAIN_FLAGS.items() if f != "--neg-mode"})
    base = load_checked_config(args.config, args.overrides, flags)
    root = Path(base.train.out_dir)
    if args.out_dir is None and base.train.out_dir == TrainConfig().out_dir:
        root = Path(DEFAULT_OUT)
    configs = []
    for mode in modes:  # resolve every config first, so a bad mode fails before training
        run_flags = {**flags, "negatives.mode": mode, "train.out_dir": str(root / _folder(mode))}
        configs.append(load_checked_config(args.config, args.overrides, run_flags))
    rows: list[dict[str, Any]] = []
    for mode, cfg in zip(modes, configs):
        print(f"== negatives.mode = {mode} -> {cfg.train.out_dir}", flush=True)
        result = train(cfg)
        if not result.metrics:  # not the main process of a multi-process run
            return 0
        rows.append(compare_row(mode, result.metrics, Path(result.out_dir), cfg.train.epochs))
    md = write_comparison(rows, root)
    print(md)
    print(
        f"comparison: {root / 'comparison.md'}, {root / 'comparison.csv'}, "
        f"{root / 'loss_comparison.png'}"
    )
    return 0


def _metric(metrics: dict[str, Any], *path: str) -> float:
    """A metric at ``path``; for multimodal runs, the mean over the modalities' values."""

    def get(d: Any) -> float | None:
        for key in path:
            if not isinstance(d, dict) or key not in d:
                return None
            d = d[key]
        return float(d) if isinstance(d, (int, float)) and not isinstance(d, bool) else None

    top = get(metrics)
    if top is not None:
        return top
    values = [v for m in ("audio", "image") if (v := get(metrics.get(m))) is not None]
    return sum(values) / len(values) if values else math.nan


def _train_seconds(metrics: dict[str, Any], run_dir: Path) -> float:
    """Seconds spent training: ``metrics['train_seconds']``, else from the run folder's files.

    The fallback is the time from writing ``config.yaml`` (the start of the
    run) to the last row of ``losses.csv`` (the last optimizer step), so it
    includes building the data and the model, not evaluation.
    """
    if "train_seconds" in metrics:
        return float(metrics["train_seconds"])
    config, losses = run_dir / "config.yaml", run_dir / "losses.csv"
    if config.exists() and losses.exists():
        return losses.stat().st_mtime - config.stat().st_mtime
    return math.nan


def compare_row(mode: str, metrics: dict[str, Any], run_dir: Path, epochs: int) -> dict[str, Any]:
    """One row of the comparison from a run's metrics and folder."""
    return {
        "mode": mode,
        "final_loss": _metric(metrics, "final_loss"),
        "probe_test_accuracy": _metric(metrics, "probe", "test_accuracy"),
        "alignment": _metric(metrics, "alignment"),
        "uniformity": _metric(metrics, "uniformity"),
        "seconds_per_epoch": _train_seconds(metrics, run_dir) / max(1, epochs),
        "run_dir": str(run_dir),
    }


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return (
            "n/a" if math.isnan(value) else f"{value:.4f}" if abs(value) < 100 else f"{value:.1f}"
        )
    return str(value)


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    header = "| " + " | ".join(title for _, title in COLUMNS) + " |"
    rule = "| --- |" + " ---: |" * (len(COLUMNS) - 1)
    body = ["| " + " | ".join(_fmt(r[key]) for key, _ in COLUMNS) + " |" for r in rows]
    return "\n".join([header, rule, *body])


def write_comparison(rows: Sequence[dict[str, Any]], root: Path) -> str:
    """Write ``comparison.md``, ``comparison.csv`` and ``loss_comparison.png``; return the table."""
    from cpckit.evaluation.plots import plot_loss_comparison, read_losses

    root.mkdir(parents=True, exist_ok=True)
    table = markdown_table(rows)
    (root / "comparison.md").write_text(
        "# Negatives modes compared\n\nSame config and seed; one run per mode "
        "(subfolders of this folder). Loss curves: loss_comparison.png.\n\n" + table + "\n"
    )
    with (root / "comparison.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[key for key, _ in COLUMNS] + ["run_dir"])
        writer.writeheader()
        writer.writerows(rows)
    curves = {}
    for r in rows:
        path = Path(r["run_dir"]) / "losses.csv"
        if path.exists():
            log = read_losses(path)
            if len(log["loss"]):
                curves[str(r["mode"])] = (log["step"], log["loss"])
    if curves:
        plot_loss_comparison(
            curves, root / "loss_comparison.png", title="InfoNCE loss by negatives mode"
        )
    return table
