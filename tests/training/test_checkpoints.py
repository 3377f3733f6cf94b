"""Atomic writes, the newest valid checkpoint, trimming losses.csv, what a resume accepts."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from cpckit.errors import ConfigError
from cpckit.training.callbacks import LossRecorder
from cpckit.training.checkpoints import (
    checkpoint_step,
    newest_valid_checkpoint,
    set_aside_newer,
)
from cpckit.training.resume import check_mid_epoch, check_state_fits
from cpckit.training.run_folder import atomic_save, remove_stale_temp_files


def _ckpt(path: Path, step: int) -> Path:
    torch.save({"global_step": step, "state_dict": {"w": torch.zeros(2)}}, path)
    return path


class _Unpicklable:
    def __reduce__(self) -> Any:
        raise RuntimeError("fails halfway through the write")


def test_train_atomic_save_keeps_the_old_file_when_a_write_fails(tmp_path: Path) -> None:
    path = tmp_path / "model.pth"
    atomic_save({"v": 1}, path)
    with pytest.raises(RuntimeError, match="halfway"):
        atomic_save({"v": 2, "bad": _Unpicklable()}, path)
    assert torch.load(path)["v"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["model.pth"]


def test_train_newest_valid_checkpoint_skips_broken_files(tmp_path: Path) -> None:
    _ckpt(tmp_path / "step00000003.ckpt", 3)
    good = _ckpt(tmp_path / "step00000006.ckpt", 6)
    (tmp_path / "last.ckpt").write_bytes(good.read_bytes())
    full = _ckpt(tmp_path / "step00000009.ckpt", 9).read_bytes()
    (tmp_path / "step00000009.ckpt").write_bytes(full[: len(full) // 2])  # cut short
    (tmp_path / "notes.ckpt").write_text("not a checkpoint")
    assert newest_valid_checkpoint(tmp_path) == good  # the step file, not last.ckpt
    assert checkpoint_step(tmp_path / "step00000009.ckpt") is None
    assert newest_valid_checkpoint(tmp_path / "missing") is None


def test_train_checkpoints_past_the_start_are_set_aside(tmp_path: Path) -> None:
    for step in (2, 4, 6):
        _ckpt(tmp_path / f"step{step:08d}.ckpt", step)
    _ckpt(tmp_path / "last.ckpt", 6)
    (tmp_path / ".last.ckpt.x.tmp").write_bytes(b"half")
    moved = set_aside_newer(tmp_path, 4)
    assert sorted(p.name for p in moved) == ["last.ckpt", "step00000006.ckpt"]
    assert newest_valid_checkpoint(tmp_path) == tmp_path / "step00000004.ckpt"
    assert remove_stale_temp_files(tmp_path) == 1


def test_train_loss_log_keeps_whole_rows_up_to_the_restored_step(tmp_path: Path) -> None:
    path = tmp_path / "losses.csv"
    recorder = LossRecorder(path, steps=2)
    header = ",".join(recorder.header)
    rows = [f"{s},0,1.0,0.5,0.5,0.5" for s in (1, 2, 3, 4, 5)]
    path.write_text("\n".join([header, *rows, "6,0,1."]) + "\n")  # the last row cut short
    trainer = SimpleNamespace(global_rank=0, global_step=4)
    recorder.on_train_start(trainer, None)  # type: ignore[arg-type]
    assert path.read_text().splitlines() == [header, *rows[:4]]


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
