"""Value checks on a finished run folder, shared by the end-to-end training tests."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

RUN_FILES = [
    "config.yaml",
    "cpc_model.pth",
    "checkpoints/last.ckpt",
    "losses.csv",
    "losses.npy",
    "training_curve.png",
    "metrics.json",
    "report.md",
]
"""Files every finished run folder holds."""


def check_files(out: Path, names: list[str]) -> None:
    """Each file exists and holds what its kind promises (a decodable PNG, parseable JSON...)."""
    for name in names:
        path = out / name
        assert path.is_file() and path.stat().st_size > 0, name
        if name.endswith(".png"):
            with Image.open(path) as img:
                assert img.format == "PNG" and min(img.size) >= 100, (name, img.size)
        elif name.endswith(".json"):
            assert isinstance(json.loads(path.read_text()), dict), name
        elif name.endswith(".html"):
            assert "<html" in path.read_text().lower(), name


def check_final_loss(out: Path, metrics: dict[str, Any]) -> None:
    """``final_loss`` is the mean of the last tenth of ``losses.csv``'s losses."""
    with (out / "losses.csv").open() as fh:
        losses = [float(r["loss"]) for r in csv.DictReader(fh)]
    tail = losses[-max(1, len(losses) // 10) :]
    assert isinstance(metrics["final_loss"], float)
    assert math.isclose(metrics["final_loss"], float(np.mean(tail)), rel_tol=1e-5)
    assert 0.0 < metrics["final_loss"] < 20.0


def check_geometry(section: dict[str, Any]) -> None:
    """Alignment of unit vectors lies in [0, 4]; uniformity (t = 2) in [-8, 0]."""
    assert 0.0 <= section["alignment"] <= 4.0, section["alignment"]
    assert -8.0 <= section["uniformity"] <= 0.0, section["uniformity"]
