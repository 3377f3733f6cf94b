"""``load_weights_only``: plain files load, a file crafted to run code is refused before it runs."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from cpckit.errors import UnsafeFileError
from cpckit.safe_load import load_weights_only
from helpers.unsafe import unsafe_checkpoint, unsafe_model_file


@pytest.mark.parametrize("raw", [False, True], ids=["torch-zip", "raw-pickle"])
def test_the_crafted_file_runs_code_when_trusted_and_is_refused_here(
    raw: bool, tmp_path: Path
) -> None:
    marker = tmp_path / "MARKER"
    path = unsafe_model_file(tmp_path / "evil.pth", marker, raw=raw)
    with pytest.raises(UnsafeFileError) as err:
        load_weights_only(path, mmap=True)
    assert not marker.exists()
    assert str(err.value).startswith(
        f"refusing to load '{path}': it is not a plain file of tensors and values "
        "(it asks to import posix.system); "
    )
    assert str(err.value).endswith(
        "cpckit reads model files and checkpoints with torch.load(weights_only=True), "
        "which never runs code from the file"
    )
    # the file is what it claims to be: unpickled without the allow-list, it runs
    if raw:
        pickle.loads(path.read_bytes())
    else:
        torch.load(path, weights_only=False)  # what cpckit.load did before
    assert marker.exists()


def test_tensors_and_plain_values_load(tmp_path: Path) -> None:
    blob = {
        "config": {"model": {"z_dim": 8, "kind": "gru", "layers": [1, 2]}, "x": None},
        "state_dict": {"w": torch.arange(6.0).view(2, 3)},
        "step": 7,
        "lr": 1e-3,
    }
    torch.save(blob, tmp_path / "ok.pth")
    for mmap in (False, True):
        back = load_weights_only(tmp_path / "ok.pth", mmap=mmap)
        assert back["config"] == blob["config"] and back["step"] == 7
        assert torch.equal(back["state_dict"]["w"], blob["state_dict"]["w"])


def test_a_truncated_file_is_not_called_unsafe(tmp_path: Path) -> None:
    unsafe_checkpoint(tmp_path / "a.ckpt", tmp_path / "MARKER")
    data = (tmp_path / "a.ckpt").read_bytes()
    (tmp_path / "b.ckpt").write_bytes(data[: len(data) // 2])
    with pytest.raises(RuntimeError, match="zip archive"):
        load_weights_only(tmp_path / "b.ckpt")


def test_the_environment_cannot_turn_the_check_off(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` only changes a ``torch.load`` that leaves it unset."""
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    marker = tmp_path / "MARKER"
    path = unsafe_checkpoint(tmp_path / "evil.ckpt", marker)
    with pytest.raises(UnsafeFileError):
        load_weights_only(path)
    assert not marker.exists()
