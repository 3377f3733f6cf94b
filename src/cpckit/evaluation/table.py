"""The results of ``cpckit evaluate``: table rows, Markdown tables, evaluation.json and .md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from cpckit.evaluation.probe import ProbeResult

__all__ = [
    "EVALUATION_JSON",
    "EVALUATION_MD",
    "markdown_tables",
    "mean_row",
    "probe_row",
    "write_evaluation",
]

EVALUATION_JSON = "evaluation.json"
EVALUATION_MD = "evaluation.md"


def probe_row(
    name: str, features: str, level: str, protocol: str, res: ProbeResult, classifier: str
) -> dict[str, Any]:
    """One row of the results table: a probe's accuracies and sizes."""
    return {
        "name": name,
        "features": features,
        "level": level,
        "protocol": protocol,
        "classifier": classifier,
        "train_accuracy": float(res.train_accuracy),
        "test_accuracy": float(res.test_accuracy),
        "std": None if res.std is None else float(res.std),
        "n_train": int(res.n_train),
        "n_test": int(res.n_test),
        "n_classes": int(res.n_classes),
        "chance_accuracy": float(res.chance_accuracy),
    }


def mean_row(
    name: str,
    features: str,
    level: str,
    protocol: str,
    classifier: str,
    scores: list[tuple[float, float, int, int]],
    n_classes: int,
    chance: float,
) -> dict[str, Any]:
    """The row of fits on several splits: ``(train acc, test acc, n train, n test)`` each.

    Over several folds: the mean accuracies, the std of the test accuracies
    and every fold's test rows; over one split, that split's figures.
    """
    test = np.array([s[1] for s in scores])
    kfold = len(scores) > 1
    res = ProbeResult(
        train_accuracy=float(np.mean([s[0] for s in scores])),
        test_accuracy=float(test.mean()),
        n_train=int(round(float(np.mean([s[2] for s in scores])))),
        n_test=int(sum(s[3] for s in scores)) if kfold else int(scores[0][3]),
        protocol=protocol,
        classifier=classifier,
        std=float(test.std()) if kfold else None,
        n_classes=n_classes,
        chance_accuracy=chance,
    )
    return probe_row(name, features, level, protocol, res, classifier)


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


def markdown_tables(result: dict[str, Any]) -> str:
    """The accuracy and geometry tables of an evaluation, as Markdown."""
    lines = [
        "| name | features | level | protocol | classifier | train acc | test acc | std "
        "| n train | n test | chance |",
        "| --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in result.get("rows", []):
        lines.append(
            "| "
            + " | ".join(
                _fmt(r.get(k))
                for k in (
                    "name",
                    "features",
                    "level",
                    "protocol",
                    "classifier",
                    "train_accuracy",
                    "test_accuracy",
                    "std",
                    "n_train",
                    "n_test",
                    "chance_accuracy",
                )
            )
            + " |"
        )
    geo = result.get("geometry", [])
    if geo:
        lines += [
            "",
            "| name | features | alignment | uniformity | n |",
            "| --- | --- | ---: | ---: | ---: |",
        ]
        for g in geo:
            lines.append(
                f"| {g['name']} | {g['features']} | {_fmt(g.get('alignment'))} | "
                f"{_fmt(g.get('uniformity'))} | {g['n']} |"
            )
    return "\n".join(lines)


def write_evaluation(result: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write ``evaluation.json`` and ``evaluation.md`` (header, tables, figures) into ``out_dir``."""
    from cpckit.training.run_folder import atomic_write_text

    out_dir.mkdir(parents=True, exist_ok=True)
    js = out_dir / EVALUATION_JSON
    md = out_dir / EVALUATION_MD
    atomic_write_text(json.dumps(result, indent=2) + "\n", js)
    src = result["data"]
    where = src.get("embeddings") or src.get("root")
    head = [
        "# Evaluation",
        "",
        f"- checkpoint: `{result['checkpoint']}`",
        f"- data: `{where}` ({src['rows']} rows, {result['modality']})"
        + (
            f"; test: `{src.get('test_root') or src.get('test_embeddings')}`"
            if src.get("test_rows")
            else ""
        ),
        f"- labels: {result['label_key']} ({len(result['label_names'])} classes)"
        if result.get("label_key")
        else "- labels: none (frame-level only)",
        f"- protocol: {result['protocol']['name']}; classifier: {result['classifier']}; "
        f"seed {result['protocol']['seed']}",
        "",
        markdown_tables(result),
    ]
    if result.get("figures"):
        head += [""] + [f"![{f}]({f})" for f in result["figures"]]
    atomic_write_text("\n".join(head) + "\n", md)
    return js, md
