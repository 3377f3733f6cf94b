"""Run-folder files: an atomic write keeps the old file when the new one fails halfway."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from cpckit.training.run_folder import atomic_save


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
