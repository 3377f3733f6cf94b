"""The README's figure: probe accuracy of CPC beside its same-run baselines (FSDD, CIFAR).

Reads the JSON that ``benchmarks/fsdd_unseen.py --json`` writes (leave-one-
speaker-out digit accuracy of the CPC context, random weights, MFCC
statistics) and a CIFAR run's ``metrics.json`` (CPC context, random init,
raw pixels), and draws one group of bars per task.

    python benchmarks/results_figure.py --fsdd /tmp/fsdd.json --cifar RUN/metrics.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def cifar_rows(metrics: dict) -> dict[str, float]:
    out = {}
    for row in metrics["baselines"]:
        if row["features"].startswith("context") or row["features"] == "input":
            label = {"CPC": "CPC context", "random init": "random weights"}.get(row["name"])
            out[label or row["name"]] = row["test_accuracy"]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--fsdd", required=True, help="JSON of benchmarks/fsdd_unseen.py")
    p.add_argument("--cifar", required=True, help="metrics.json of a configs/cifar10.yaml run")
    p.add_argument("--out", default="docs/figures/results.png")
    args = p.parse_args(argv)
    fsdd = json.loads(Path(args.fsdd).read_text())["rows"]
    groups = {
        "FSDD digit, unseen speaker\n(leave one speaker out)": {
            "CPC context": fsdd["cpc"]["loso_digit"]["mean"],
            "random weights": fsdd["random"]["loso_digit"]["mean"],
            "MFCC statistics": fsdd["mfcc"]["loso_digit"]["mean"],
        },
        "CIFAR-10 airplane vs automobile\n(test/)": cifar_rows(
            json.loads(Path(args.cifar).read_text())
        ),
    }
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    colours = ["#1f77b4", "#aaaaaa", "#dddddd"]
    for ax, (title, rows) in zip(axes, groups.items()):
        names, values = list(rows), list(rows.values())
        bars = ax.bar(range(len(names)), values, color=colours[: len(names)])
        for bar, v in zip(bars, values):
            ax.text(
                bar.get_x() + bar.get_width() / 2, v + 0.01, f"{v:.3f}", ha="center", fontsize=8
            )
        ax.set_xticks(range(len(names)), names, fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.set_title(title, fontsize=9)
    axes[0].set_ylabel("linear probe accuracy")
    fig.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
