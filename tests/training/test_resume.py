"""Resume after SIGKILL in the middle of an epoch; reproducibility of a seeded run; what a resume
accepts (the same batch layout mid-epoch, a state that fits the model).

One uninterrupted reference run (in this process) is compared with a second
identical run (same seed: identical ``losses.csv``) and with a run that is
killed mid-epoch as a subprocess and resumed with ``--resume auto``: it must
end at the same step with ``losses.csv`` holding steps 1..N exactly once and
the very same losses as the uninterrupted run.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from cpckit.errors import ConfigError
from cpckit.training.checkpoints import (
    checkpoint_step,
    newest_valid_checkpoint,
)
from cpckit.training.resume import check_mid_epoch, check_state_fits
from helpers.training import cli_command, read_losses, steps_of, train_args, train_in_process

# 96 examples in batches of 4: 24 steps per epoch, 48 in all; a checkpoint every 3 steps.
RUN = [
    "--epochs",
    "2",
    "data.n_train=96",
    "train.batch_size=4",
    "train.lr=3e-3",
    "train.checkpoint_every_n_steps=3",
]
STEPS_PER_EPOCH = 24
TOTAL = 48


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reference") / "run"
    code, _ = train_in_process(out, *RUN)
    assert code == 0
    return out


def test_train_same_seed_gives_identical_losses(reference: Path, tmp_path: Path) -> None:
    code, _ = train_in_process(tmp_path / "again", *RUN)
    assert code == 0
    assert (tmp_path / "again" / "losses.csv").read_text() == (reference / "losses.csv").read_text()
    assert steps_of(read_losses(reference)) == list(range(1, TOTAL + 1))


def _kill_mid_epoch(out: Path) -> int:
    """Start a run, SIGKILL it a few steps past a checkpoint in epoch 1; return the rows seen."""
    proc = subprocess.Popen(
        cli_command(train_args(out, *RUN)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 240
    try:
        while True:
            rows = len(read_losses(out))
            if rows >= 7 and rows % 3:  # at least 2 checkpoints, and steps past the last
                break
            if proc.poll() is not None:
                pytest.fail(f"the run ended before it was killed: {proc.stderr.read()[-2000:]}")  # type: ignore[union-attr]
            if time.monotonic() > deadline:
                pytest.fail("the run did not reach step 7 in time")
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    return rows


def test_train_resume_after_sigkill_continues_the_same_curve(
    reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "killed"
    seen = _kill_mid_epoch(out)
    assert seen < STEPS_PER_EPOCH, "killed too late to test a mid-epoch resume"
    newest = newest_valid_checkpoint(out / "checkpoints")
    assert newest is not None
    resumed_at = checkpoint_step(newest)
    assert resumed_at is not None and 3 <= resumed_at < len(read_losses(out))
    assert resumed_at % STEPS_PER_EPOCH, "the checkpoint must be mid-epoch"

    code, printed = train_in_process(out, *RUN, "--resume", "auto")
    assert code == 0
    assert f"resume: from {newest} (step {resumed_at})" in printed

    rows = read_losses(out)
    assert steps_of(rows) == list(range(1, TOTAL + 1))  # no gap, no duplicate
    assert rows == read_losses(reference)  # the same curve as without the crash
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["global_step"] == TOTAL
    assert [s["status"] for s in manifest["sessions"]] == ["running", "finished"]
    assert manifest["sessions"][1]["start_step"] == resumed_at
    assert not list((out / "checkpoints").glob(".*.tmp"))


def test_train_mid_epoch_resume_needs_the_same_batch_layout() -> None:
    pos = {"epoch": 1, "batches": 5, "batch_size": 8, "world_size": 2, "accumulate_grad_batches": 1}
    check_mid_epoch(pos, 8, 2, 1)
    check_mid_epoch({**pos, "batches": 0}, 16, 1, 4)  # at an epoch boundary anything goes
    with pytest.raises(ConfigError, match=r"middle of epoch 2 with train.batch_size 8 -> 16"):
        check_mid_epoch(pos, 16, 2, 1)
    with pytest.raises(ConfigError, match=r"processes \(devices x nodes\) 2 -> 1"):
        check_mid_epoch(pos, 8, 1, 1)


def test_train_state_that_does_not_fit_names_the_changed_keys() -> None:
    saved = {"a.weight": (16, 4), "a.bias": (16,)}
    check_state_fits(saved, dict(saved), {"train.lr": (1e-3, 1e-4)})
    expected = (
        r"a.weight has shape \[16, 4\] in the checkpoint, \[8, 4\] now and 1 more\): "
        r"model.c_dim = 16 in the checkpoint, 8 now"
    )
    with pytest.raises(ConfigError, match=expected):
        check_state_fits(
            saved,
            {"a.weight": (8, 4), "a.bias": (8,)},
            {"train.lr": (1e-3, 1e-4), "model.c_dim": (16, 8)},
        )
