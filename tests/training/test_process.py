"""Process settings of training (malloc, OpenMP, threads): what they do and who applies them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cpckit.training import process


def _run_python(code: str, **env: str) -> str:
    """Run ``code`` in a fresh interpreter (torch not yet imported) and return its stdout."""
    unset = (
        "OMP_WAIT_POLICY",
        "CPCKIT_PROCESS_TUNING",
        "MALLOC_MMAP_THRESHOLD_",
        "MALLOC_TRIM_THRESHOLD_",
    )
    full = {k: v for k, v in os.environ.items() if k not in unset}
    full.update(env)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=full, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


CHECK = (
    "from cpckit.training.process import tune_process, process_settings\n"
    "applied = tune_process()\n"
    "import torch\n"
    "s = process_settings()\n"
    "print(applied['omp_passive'], s['omp_wait_policy'], s['malloc_thresholds'])"
)


def test_train_process_tuning_sets_omp_passive_before_torch_loads() -> None:
    out = _run_python(CHECK)
    assert out.startswith("True PASSIVE")
    if sys.platform.startswith("linux"):
        assert out.endswith("raised")


def test_train_process_tuning_can_be_turned_off_and_respects_the_environment() -> None:
    assert _run_python(CHECK, CPCKIT_PROCESS_TUNING="0") == "False (OpenMP default) glibc default"
    assert _run_python(CHECK, OMP_WAIT_POLICY="ACTIVE").startswith("False ACTIVE")


def test_train_process_tuning_after_torch_leaves_openmp_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert process.tune_process()["omp_passive"] is False  # torch is loaded here: too late
    assert "OMP_WAIT_POLICY" not in os.environ
    assert set(process.process_settings()) == {"omp_wait_policy", "malloc_thresholds"}


def test_train_set_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    before = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    try:
        process.set_threads(0)
        assert torch.get_num_threads() == before
        process.set_threads(1)
        assert torch.get_num_threads() == 1
        assert "OMP_NUM_THREADS" not in os.environ
        process.set_threads(1, world=2)
        assert os.environ["OMP_NUM_THREADS"] == "1"
    finally:
        torch.set_num_threads(before)


def test_train_command_applies_the_process_tuning(
    monkeypatch: pytest.MonkeyPatch, train_tiny: object, tmp_path: Path
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(process, "tune_process", lambda: calls.append("tuned") or {})
    code, _ = train_tiny(tmp_path / "run", "train.max_steps=1")  # type: ignore[operator]
    assert code == 0
    assert calls == ["tuned"]
