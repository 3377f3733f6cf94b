"""Result rows of `cpckit evaluate` and their Markdown tables."""

from __future__ import annotations

import numpy as np
import pytest

from cpckit.evaluation.probe import ProbeResult
from cpckit.evaluation.table import markdown_tables, mean_row, probe_row


def test_a_probe_row_holds_the_result_as_plain_numbers() -> None:
    res = ProbeResult(0.9, 0.75, 12, 6, "split", "linear", n_classes=2, chance_accuracy=0.5)
    row = probe_row("CPC", "context (pooled)", "utterance", "split (0.2 held out)", res, "linear")
    assert row == {
        "name": "CPC",
        "features": "context (pooled)",
        "level": "utterance",
        "protocol": "split (0.2 held out)",
        "classifier": "linear",
        "train_accuracy": 0.9,
        "test_accuracy": 0.75,
        "std": None,
        "n_train": 12,
        "n_test": 6,
        "n_classes": 2,
        "chance_accuracy": 0.5,
    }


def test_mean_row_over_folds_is_the_mean_with_std_and_every_test_row() -> None:
    scores = [(1.0, 0.5, 10, 5), (0.8, 1.0, 11, 4), (0.9, 0.75, 10, 5)]
    row = mean_row("CPC", "latent frames", "frame", "kfold (3 folds)", "mlp", scores, 3, 0.4)
    assert row["train_accuracy"] == pytest.approx(0.9)
    assert row["test_accuracy"] == pytest.approx(0.75)
    assert row["std"] == pytest.approx(float(np.std([0.5, 1.0, 0.75])))
    assert (row["n_train"], row["n_test"], row["n_classes"]) == (10, 14, 3)
    assert row["chance_accuracy"] == 0.4 and row["classifier"] == "mlp"
    one = mean_row("CPC", "context frames", "frame", "split", "linear", scores[:1], 3, 0.4)
    assert one["std"] is None and (one["n_train"], one["n_test"]) == (10, 5)


def test_markdown_tables_list_rows_and_geometry() -> None:
    row = mean_row(
        "CPC", "context (pooled)", "image", "split", "linear", [(1.0, 0.5, 4, 2)], 2, 0.5
    )
    geo = {"name": "CPC", "features": "context (pooled)", "alignment": 0.25, "uniformity": None}
    md = markdown_tables({"rows": [row], "geometry": [{**geo, "n": 6}]})
    lines = md.splitlines()
    assert (
        lines[2]
        == "| CPC | context (pooled) | image | split | linear | 1.0000 | 0.5000 |  | 4 | 2 | 0.5000 |"
    )
    assert lines[-1] == "| CPC | context (pooled) | 0.2500 |  | 6 |"
