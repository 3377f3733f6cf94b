"""Tiny `cpckit train` runs for the training and train-command tests (in-process or as a subprocess)."""

from __future__ import annotations

import contextlib
import csv
import io
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from cpckit.cli import main

# A small conv encoder on 80 ms of synthetic audio: a step takes milliseconds.
TINY = [
    "model.z_dim=16",
    "model.c_dim=16",
    "model.prediction_steps=3",
    "audio_encoder.kind=conv",
    "audio_encoder.conv_layers=[[1,16,10,5,3,1],[16,16,8,4,2,1]]",
    "data.full_duration=0.08",
    "data.n_test=32",
    "negatives.n_negatives=8",
    "train.threads=1",
    "train.log_every_n_steps=1",
    "eval.max_examples=64",
    "eval.probe=false",
    "eval.tsne=false",
    "eval.geometry=false",
    "eval.baselines=false",
    "eval.report=false",
]


def train_args(out: Path, *extra: str) -> list[str]:
    """``cpckit train`` arguments of a tiny run in ``out``; ``extra`` mixes flags and overrides.

    Flags (``--name value``) go first and ``key=value`` overrides last, as
    argparse reads overrides as one run of positional arguments.
    """
    flags: list[str] = ["--out-dir", str(out), "--modality", "audio", "--use-mock-data", "true"]
    overrides = list(TINY)
    items = iter(extra)
    for item in items:
        if item.startswith("--"):
            flags += [item, next(items)]
        else:
            overrides.append(item)
    return ["train", *flags, *overrides]


def train_in_process(out: Path, *extra: str) -> tuple[int, str]:
    """Run ``cpckit train`` through the CLI's ``main`` in this process; return (exit code, stdout).

    The thread count that ``train.threads`` sets is put back afterwards.
    """
    threads = torch.get_num_threads()
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            code = main(train_args(out, *extra))
    finally:
        torch.set_num_threads(threads)
    return code, buf.getvalue()


def cli_command(args: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "cpckit", *args]


def run_cli(args: Sequence[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli_command(args), capture_output=True, text=True, timeout=timeout)


def read_losses(out: Path) -> list[dict[str, str]]:
    """Rows of ``losses.csv`` (empty when it does not exist yet)."""
    path = out / "losses.csv"
    if not path.exists():
        return []
    with path.open() as fh:
        return list(csv.DictReader(fh))


def steps_of(rows: list[dict[str, str]]) -> list[int]:
    return [int(r["step"]) for r in rows]


def losses_of(rows: list[dict[str, str]]) -> list[float]:
    return [float(r["loss"]) for r in rows]
