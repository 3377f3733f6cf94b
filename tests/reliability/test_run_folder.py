"""Faults around the run folder, end to end through ``cpckit train``: a rerun over a finished run,
two runs into one folder, stale locks, output paths that cannot be written, endings during the
final evaluation, truncated checkpoints and a disk that fills while a checkpoint is written.

Each refusal checks the exit code, the one line the user reads, that no traceback escapes, and
that nothing in the pre-existing run folder changed.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from helpers.cli import run
from helpers.configs import TINY_CONV

TINY = [
    *TINY_CONV,
    "--epochs", "1", "data.n_train=8", "data.n_test=8", "train.batch_size=4",
    "train.threads=1", "train.logger=none", "eval.probe=false", "eval.tsne=false",
    "eval.geometry=false", "eval.baselines=false", "eval.report=false",
]  # fmt: skip


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _train(out: Path, *extra: object) -> tuple[int, str, str]:
    return run("train", "--out-dir", out, *TINY, *extra)


def _one_error(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if not line.startswith("warning:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "done"
    code, _, err = _train(out)
    assert code == 0, err
    return out


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_a_rerun_into_a_finished_folder_is_refused_and_changes_nothing(
    finished: Path, tmp_path: Path
) -> None:
    out = _copy(finished, tmp_path / "run")
    before = _snapshot(out)
    code, _, err = _train(out)
    assert code == 2
    assert _one_error(err) == (
        f"error: train.out_dir '{out}' already holds a run (finished, step 2): pass --resume "
        "auto to continue it, --overwrite to replace it, or another --out-dir (e.g. --out-dir "
        "'runs/{modality}-{time}' for a fresh folder each run)"
    )
    assert _snapshot(out) == before


def test_overwrite_replaces_the_runs_outputs_and_keeps_other_files(
    finished: Path, tmp_path: Path
) -> None:
    out = _copy(finished, tmp_path / "run")
    (out / "notes.txt").write_text("mine")
    manifest = json.loads((out / "manifest.json").read_text())
    code, stdout, err = _train(out, "--overwrite", "train.seed=5")
    assert code == 0, err
    assert "overwrite: removed the earlier run's manifest.json, cpc_model.pth" in stdout
    assert (out / "notes.txt").read_text() == "mine"
    fresh = json.loads((out / "manifest.json").read_text())
    assert fresh["status"] == "finished" and fresh["seed"] == 5
    assert fresh["start_time"] >= manifest["start_time"] and len(fresh["sessions"]) == 1
    assert not (out / "checkpoints" / "abandoned").exists()


def test_a_second_run_into_a_folder_in_use_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "busy"
    out.mkdir()
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock = {"pid": owner.pid, "host": os.uname().nodename, "started": "2026-01-01T00:00:00"}
        (out / ".cpckit.lock").write_text(json.dumps(lock))
        before = _snapshot(out)
        code, _, err = _train(out)
        assert code == 1
        assert _one_error(err) == (
            f"error: train.out_dir '{out}' is in use by the run of pid {owner.pid} on "
            f"{lock['host']}, since 2026-01-01T00:00:00: wait for it to end, or give another "
            "--out-dir"
        )
        assert _snapshot(out) == before
    finally:
        owner.kill()
        owner.wait()


def test_a_lock_of_another_host_is_refused_naming_the_file(tmp_path: Path) -> None:
    out = tmp_path / "shared"
    out.mkdir()
    lock = out / ".cpckit.lock"
    lock.write_text(json.dumps({"pid": 1, "host": "elsewhere", "started": "then"}))
    code, _, err = _train(out)
    assert code == 1
    assert _one_error(err) == (
        f"error: train.out_dir '{out}' is in use by a run of pid 1 on elsewhere, since then "
        f"(lock file {lock}); if no run is active there, delete that file"
    )


def test_a_stale_lock_of_a_killed_run_is_taken_over(tmp_path: Path) -> None:
    out = tmp_path / "stale"
    out.mkdir()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    host = os.uname().nodename
    (out / ".cpckit.lock").write_text(json.dumps({"pid": gone.pid, "host": host, "started": "t"}))
    code, stdout, err = _train(out)
    assert code == 0, err
    assert f"lock: took over the stale lock of pid {gone.pid} on {host}, since t" in stdout
    assert not (out / ".cpckit.lock").exists()  # released at the end
    assert json.loads((out / "manifest.json").read_text())["status"] == "finished"


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("file", "error: train.out_dir '{out}' is a file, not a folder: give a folder path"),
        ("file/run", "error: train.out_dir '{out}' cannot be made: '{base}/file' is a file"),
    ],
)
def test_an_out_dir_that_cannot_be_a_folder_is_one_line(
    tmp_path: Path, where: str, message: str
) -> None:
    (tmp_path / "file").write_text("x")
    out = tmp_path / where
    code, stdout, err = _train(out)
    assert code == 1
    assert _one_error(err) == message.format(out=out, base=tmp_path)
    assert "data:" not in stdout  # refused before any data loaded
    assert (tmp_path / "file").read_text() == "x"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through any permission")
def test_an_unwritable_out_dir_is_one_line(tmp_path: Path) -> None:
    locked = tmp_path / "ro"
    locked.mkdir(mode=0o555)
    code, _, err = _train(locked / "run")
    assert code == 1
    assert _one_error(err) == (
        f"error: train.out_dir '{locked / 'run'}' is not writable: no write permission in '{locked}'"
    )


@pytest.mark.parametrize(
    ("raised", "status", "error"),
    [
        (KeyboardInterrupt(), "interrupted", "KeyboardInterrupt"),
        (RuntimeError("probe broke"), "failed", "RuntimeError: probe broke"),
    ],
)
def test_the_manifest_records_an_ending_during_the_final_evaluation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raised: BaseException, status: str, error: str
) -> None:
    from cpckit.evaluation import pipeline

    def broken(*args: object, **kwargs: object) -> None:
        raise raised

    monkeypatch.setattr(pipeline, "evaluate_model", broken)
    out = tmp_path / "run"
    if isinstance(raised, KeyboardInterrupt):
        code, _, err = _train(out)
        assert code == 130 and err.strip() == "interrupted"
    else:
        with pytest.raises(RuntimeError, match="probe broke"):
            _train(out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["status"], manifest["error"], manifest["global_step"]) == (status, error, 2)
    assert manifest["sessions"][-1]["status"] == status
    assert not (out / ".cpckit.lock").exists()


def test_resume_auto_over_truncated_checkpoints_keeps_the_new_runs_files(tmp_path: Path) -> None:
    """Truncated step files with high numbers used to win the pruning over fresh valid ones."""
    out = tmp_path / "run"
    ckpts = out / "checkpoints"
    ckpts.mkdir(parents=True)
    for step in (900, 950):
        (ckpts / f"step{step:08d}.ckpt").write_bytes(b"PK\x03\x04 truncated")
    (out / "losses.csv").write_text("step,loss\n")
    code, stdout, err = _train(
        out, "--resume", "auto", "--checkpoint-every-n-steps", "1", "train.keep_checkpoints=1"
    )
    assert code == 0, err
    assert f"resume: no checkpoint in {ckpts}, starting at step 0" in stdout
    assert (
        f"checkpoints: 2 that do not load (step00000900.ckpt...) moved to {ckpts / 'unreadable'}"
        in stdout
    )
    assert sorted(p.name for p in ckpts.glob("*.ckpt")) == ["last.ckpt", "step00000002.ckpt"]
    assert sorted(p.name for p in (ckpts / "unreadable").iterdir()) == [
        "step00000900.ckpt",
        "step00000950.ckpt",
    ]


def test_a_full_disk_while_checkpointing_keeps_the_last_good_one_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cpckit.training import run_folder

    out = tmp_path / "run"
    real_save = torch.save
    calls = {"n": 0}

    def save(obj: object, fh: object, *args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the second checkpoint: half written, then the disk is full
            fh.write(b"partial")  # type: ignore[attr-defined]
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_save(obj, fh, *args, **kwargs)

    monkeypatch.setattr(run_folder.torch, "save", save)
    code, _, err = _train(out, "--epochs", "2", "--checkpoint-every-n-steps", "1")
    ckpts = out / "checkpoints"
    assert code == 1
    assert _one_error(err) == (
        f"error: cannot write checkpoint {ckpts / 'step00000002.ckpt'}: No space left on device; "
        f"the checkpoints already in {ckpts} are intact: free some space and run again with "
        "--resume auto"
    )
    assert sorted(p.name for p in ckpts.iterdir()) == ["last.ckpt", "step00000001.ckpt"]
    assert torch.load(ckpts / "last.ckpt", weights_only=True)["global_step"] == 1
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "No space left" in manifest["error"]

    monkeypatch.setattr(run_folder.torch, "save", real_save)
    code, stdout, err = _train(
        out, "--epochs", "2", "--checkpoint-every-n-steps", "1", "--resume", "auto"
    )
    assert code == 0, err
    assert f"resume: from {ckpts / 'step00000001.ckpt'} (step 1)" in stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["global_step"] == 4
    assert [s["status"] for s in manifest["sessions"]] == ["failed", "finished"]
