"""A real 2-process DDP run on CPU (gloo) through the CLI, against one process.

Both runs see the same global batches: one process with batches of 16, or
two with batches of 8 each, where EpochSampler gives process r the indices
r, r + 2, ... of the same permutation (so the two halves of a DDP step are
exactly the single process's batch; test_train_sampling checks that). DDP
averages the two halves' gradients, which equals the gradient of the mean
loss over the 16 examples, and ``losses.csv`` holds the mean loss over the
processes. The curves still differ a little, and legitimately: in-batch
negatives are drawn within each process's 8 sequences rather than among 16,
and each process draws its own random indices. Measured on this config:
max |difference| 0.043 (2.4 %), mean 0.016 over 16 steps; a single process
with batches of 8 (what unsynchronised processes would trace) strays by up
to 0.17 (11 %). The test allows 5 % per step.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np

from helpers.training import (
    cli_command,
    losses_of,
    read_losses,
    steps_of,
    train_args,
    train_in_process,
)

RUN = ["--epochs", "4", "--neg-mode", "inbatch", "data.n_train=64", "train.lr=1e-2"]
STEPS = 16  # 64 examples / 16 per global batch * 4 epochs
RTOL = 0.05


def test_train_ddp_two_processes_match_one_process(tmp_path: Path) -> None:
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    args = train_args(ddp, *RUN, "--devices", "2", "--accelerator", "cpu", "train.batch_size=8")
    proc = subprocess.Popen(
        cli_command(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:  # the single-process run goes on while the DDP processes start
        code, _ = train_in_process(single, *RUN, "--accelerator", "cpu", "train.batch_size=16")
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        proc.kill()
        proc.wait()
    assert code == 0
    assert proc.returncode == 0, stderr[-3000:]

    # one run folder, written once by rank 0
    assert stdout.count("data: train examples: 64") == 1
    assert stdout.count("run folder:") == 1
    for name in ("config.yaml", "cpc_model.pth", "losses.csv", "metrics.json", "manifest.json"):
        assert (ddp / name).is_file(), name
    manifest = json.loads((ddp / "manifest.json").read_text())
    assert manifest["world_size"] == 2 and manifest["status"] == "finished"
    assert manifest["global_step"] == STEPS
    assert sorted(p.name for p in (ddp / "checkpoints").glob("*.ckpt")) == [
        "last.ckpt",
        "step00000012.ckpt",
        "step00000016.ckpt",
    ]

    a, b = read_losses(single), read_losses(ddp)
    assert steps_of(a) == steps_of(b) == list(range(1, STEPS + 1))
    la, lb = np.array(losses_of(a)), np.array(losses_of(b))
    assert np.all(np.abs(la - lb) <= RTOL * la), np.round(np.stack([la, lb]), 3)
    assert la[-1] < la[0] - 0.3  # the curves fall well beyond the tolerance

    # rank 0 saved the trained weights: they are the ones in the final checkpoint
    import torch

    saved = torch.load(ddp / "cpc_model.pth", weights_only=False)["state_dict"]
    ckpt = torch.load(ddp / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    for key, value in saved.items():
        assert torch.equal(value, ckpt[f"model.{key}"]), key
