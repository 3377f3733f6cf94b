"""One run per folder: a lock while a run is in it, and no rerun over a run by accident.

Two processes training into one folder destroy each other's files (the
second clears the first's temporary checkpoint files, sets its checkpoints
aside and truncates its ``losses.csv``). A plain rerun into a finished
folder replaced its weights and metrics. So before it touches anything,
``cpckit train`` (global rank 0):

- refuses a folder that already holds a run unless ``train.resume`` or
  ``train.overwrite`` says what to do with it (:func:`check_reuse`);
- takes the folder's lock file, holding the owner's pid and host
  (:class:`RunLock`). A lock whose process is gone (killed, the machine
  restarted) is stale and is taken over with a note; a live one, or one of
  another host that cannot be checked from here, is refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
from pathlib import Path
from typing import Any

from cpckit.errors import ConfigError, CpckitError
from cpckit.training.manifest import now_iso
from cpckit.training.run_folder import RunPaths

__all__ = [
    "LOCK_FILE",
    "RunLock",
    "check_reuse",
    "clear_outputs",
    "is_global_zero",
    "run_outputs",
    "run_state",
]

LOCK_FILE = ".cpckit.lock"


def run_outputs(paths: RunPaths) -> list[Path]:
    """The files a run writes at its top level besides ``config.yaml`` and the logs.

    ``--overwrite`` removes them, so that nothing of the old run is read as
    the new one's; any of them marks the folder as holding a run.
    """
    from cpckit.evaluation.report import REPORT_HTML, REPORT_MD

    return [
        paths.manifest,
        paths.model,
        paths.losses_csv,
        paths.losses_npy,
        paths.curve,
        paths.metrics,
        paths.root / REPORT_HTML,
        paths.root / REPORT_MD,
        *(paths.tsne(modality) for modality in ("audio", "image")),
    ]


def is_global_zero() -> bool:
    """True in the process that writes the run folder (before the Trainer exists).

    The launcher of a DDP run is rank 0; the processes it starts carry
    ``LOCAL_RANK`` / ``NODE_RANK`` / ``RANK`` in their environment.
    """
    return all(os.environ.get(name, "0") == "0" for name in ("RANK", "LOCAL_RANK", "NODE_RANK"))


def run_state(paths: RunPaths) -> str | None:
    """What an earlier run left in the folder (``"finished, step 40"``), or None when nothing.

    A folder counts as holding a run when it has a manifest, saved weights,
    losses or a checkpoint.
    """
    root = paths.root
    if not root.is_dir():
        return None
    present = [path.name for path in run_outputs(paths) if path.is_file()]
    checkpoints = sorted(paths.checkpoints.glob("*.ckpt")) if paths.checkpoints.is_dir() else []
    if not present and not checkpoints:
        return None
    try:
        manifest = json.loads(paths.manifest.read_text())
    except (OSError, ValueError):
        manifest = {}
    status = manifest.get("status") if isinstance(manifest, dict) else None
    step = manifest.get("global_step") if isinstance(manifest, dict) else None
    if status is None:
        what = ", ".join(present[:3]) or f"{len(checkpoints)} checkpoint(s)"
        return f"its files: {what}"
    if status == "running":
        status = "unfinished: killed or still running"
    return status if step is None else f"{status}, step {step}"


def check_reuse(paths: RunPaths, *, resume: str | None, overwrite: bool) -> None:
    """Refuse a folder holding a run unless ``resume`` or ``overwrite`` says what to do with it.

    Raises:
        ConfigError: the folder, what is in it, and the three ways on.
    """
    if resume is not None or overwrite:
        return
    state = run_state(paths)
    if state is None:
        return
    raise ConfigError(
        f"train.out_dir {str(paths.root)!r} already holds a run ({state}): pass --resume auto "
        "to continue it, --overwrite to replace it, or another --out-dir "
        "(e.g. --out-dir 'runs/{modality}-{time}' for a fresh folder each run)"
    )


def clear_outputs(paths: RunPaths) -> list[str]:
    """Remove an earlier run's outputs (``--overwrite``); return the names removed.

    Only the files a run writes: whatever else a user keeps in the folder
    stays. Checkpoints go too, so that ``--resume auto`` cannot pick the old
    run's up later.
    """
    removed = []
    for path in run_outputs(paths):
        if path.is_file():
            path.unlink()
            removed.append(path.name)
    if paths.checkpoints.is_dir():
        for path in sorted(paths.checkpoints.glob("*.ckpt")):
            path.unlink()
            removed.append(f"checkpoints/{path.name}")
        abandoned = paths.checkpoints / "abandoned"
        if abandoned.is_dir():
            shutil.rmtree(abandoned)
            removed.append("checkpoints/abandoned/")
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of another user holds that pid
        return True
    except OSError:
        return True  # cannot tell: take it as alive
    return True


class RunLock:
    """``out_dir/.cpckit.lock`` while a run writes the folder (a context manager).

    The file holds ``{"pid", "host", "started"}``; it is created with
    ``O_EXCL``, so of two runs starting together exactly one gets it.
    """

    def __init__(self, root: str | Path) -> None:
        self.path = Path(root) / LOCK_FILE
        self.held = False
        self.notes: list[str] = []

    def _owner(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        me = {"pid": os.getpid(), "host": platform.node(), "started": now_iso()}
        with os.fdopen(fd, "w") as fh:
            json.dump(me, fh)
        return True

    def acquire(self) -> None:
        """Take the lock, or raise a one-line :class:`CpckitError` naming its owner (exit 1)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            if self._create():
                self.held = True
                return
            owner = self._owner()
            pid, host = owner.get("pid"), owner.get("host")
            where = f"pid {pid} on {host}, since {owner.get('started', '?')}"
            if not isinstance(pid, int) or not owner:
                # Half-written by a process killed between creating and writing it.
                self.notes.append(f"lock: removed an unreadable lock file {self.path}")
            elif host != platform.node():
                raise CpckitError(
                    f"train.out_dir {str(self.path.parent)!r} is in use by a run of {where} "
                    f"(lock file {self.path}); if no run is active there, delete that file"
                )
            elif _alive(pid) and pid != os.getpid():
                raise CpckitError(
                    f"train.out_dir {str(self.path.parent)!r} is in use by the run of {where}: "
                    "wait for it to end, or give another --out-dir"
                )
            else:
                self.notes.append(f"lock: took over the stale lock of {where} (no such process)")
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        raise CpckitError(f"could not take the lock {self.path}: other runs keep taking it")

    def release(self) -> None:
        if self.held:
            with contextlib.suppress(FileNotFoundError):
                if self._owner().get("pid") == os.getpid():
                    self.path.unlink()
            self.held = False

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
