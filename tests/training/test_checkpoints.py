"""Checkpoints: the newest valid one, those past a resume's start set aside, read weights-only."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from cpckit.errors import UnsafeFileError
from cpckit.training.checkpoints import (
    AtomicCheckpointIO,
    checkpoint_step,
    newest_valid_checkpoint,
    set_aside_newer,
    set_aside_unreadable,
)
from cpckit.training.run_folder import remove_stale_temp_files
from helpers.unsafe import unsafe_checkpoint


def _ckpt(path: Path, step: int) -> Path:
    torch.save({"global_step": step, "state_dict": {"w": torch.zeros(2)}}, path)
    return path


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


def test_lightning_reads_checkpoints_through_the_weights_only_loader(tmp_path: Path) -> None:
    """``Trainer.fit(ckpt_path=...)`` loads with the strategy's checkpoint IO: this one."""
    good = _ckpt(tmp_path / "good.ckpt", 5)
    marker = tmp_path / "MARKER"
    evil = unsafe_checkpoint(tmp_path / "evil.ckpt", marker)
    io = AtomicCheckpointIO()
    assert io.load_checkpoint(good, weights_only=False)["global_step"] == 5
    with pytest.raises(UnsafeFileError, match=f"^refusing to load '{evil}': "):
        io.load_checkpoint(evil, weights_only=False)  # Lightning's default is False
    assert not marker.exists()


def test_a_checkpoint_that_runs_code_is_skipped_and_set_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = _ckpt(tmp_path / "step00000006.ckpt", 6)
    marker = tmp_path / "MARKER"
    unsafe_checkpoint(tmp_path / "step00000009.ckpt", marker, step=9)
    with caplog.at_level(logging.WARNING):
        assert newest_valid_checkpoint(tmp_path) == good
    assert f"refusing to load '{tmp_path / 'step00000009.ckpt'}'" in caplog.text
    assert [p.name for p in set_aside_unreadable(tmp_path)] == ["step00000009.ckpt"]
    assert not marker.exists()
