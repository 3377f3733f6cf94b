"""Checkpoints for resuming: written atomically, every N steps and at epoch ends; the newest found.

A checkpoint is written to a temporary file and renamed (never half
written, even when the process is killed while saving), and only while
every weight is finite: a run that diverges keeps its last good checkpoint.
Checkpoints hold only tensors and plain values (the config as a dict, the
optimizer's state, the loader position), so every read, Lightning's own on
resume included (:meth:`AtomicCheckpointIO.load_checkpoint`), is
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

import lightning as L
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import Checkpoint

from cpckit.errors import CpckitError, UnsafeFileError
from cpckit.safe_load import load_weights_only
from cpckit.training.callbacks import TrainBatchCallback
from cpckit.training.guard import DivergenceError, first_nonfinite
from cpckit.training.run_folder import TEMP_SUFFIX, atomic_save

__all__ = [
    "LAST",
    "AtomicCheckpointIO",
    "RunCheckpoint",
    "checkpoint_step",
    "is_valid_checkpoint",
    "newest_valid_checkpoint",
    "set_aside_newer",
    "set_aside_unreadable",
]

log = logging.getLogger(__name__)

LAST = "last.ckpt"
_STEP_FILE = re.compile(r"^step(\d+)\.ckpt$")


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer and reader: atomic writes, reads with ``weights_only=True``.

    ``Trainer.fit(ckpt_path=...)`` reads the checkpoint through the strategy's
    checkpoint IO, which is this one: whatever ``weights_only`` Lightning
    passes (its default is False), a local checkpoint is read by
    :func:`cpckit.safe_load.load_weights_only`.
    """

    def load_checkpoint(
        self, path: Any, map_location: Any | None = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        blob = load_weights_only(path)
        if not isinstance(blob, dict):
            raise CpckitError(f"{str(path)!r} is not a Lightning checkpoint (not a mapping)")
        return blob

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None or "://" in str(path):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        atomic_save(checkpoint, path)


class RunCheckpoint(TrainBatchCallback, Checkpoint):
    """Save ``stepNNNNNNNN.ckpt`` every ``every_n_steps`` optimizer steps and at each epoch end.

    ``last.ckpt`` is a hard link to (or copy of) the newest; only the newest
    ``keep`` step files are kept. Before saving, every parameter and buffer
    is checked: a non-finite one raises :class:`DivergenceError` instead of
    replacing the last good checkpoint. ``extra`` is stored in each
    checkpoint under ``"cpckit"`` (the resolved config, to check a resume).

    Args:
        dirpath: the run's ``checkpoints/`` folder.
        every_n_steps: also save every N optimizer steps (0: at epoch ends only).
        keep: step checkpoints kept (the newest ones).
        extra: stored in each checkpoint.
    """

    def __init__(
        self,
        dirpath: str | Path,
        *,
        every_n_steps: int = 0,
        keep: int = 2,
        extra: dict[str, Any] | None = None,
    ) -> None:
        if every_n_steps < 0:
            raise ValueError(f"every_n_steps = {every_n_steps} must be >= 0")
        if keep < 1:
            raise ValueError(f"keep = {keep} must be >= 1")
        self.dirpath = Path(dirpath)
        self.every_n_steps = every_n_steps
        self.keep = keep
        self.extra = extra or {}
        self._seen_step = 0
        self._saved_step = -1

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._seen_step = self._saved_step = trainer.global_step

    def after_train_batch(self, trainer: L.Trainer, outputs: Any, batch_idx: int) -> None:
        stepped = trainer.global_step != self._seen_step  # not while accumulating
        self._seen_step = trainer.global_step
        if stepped and self.every_n_steps and trainer.global_step % self.every_n_steps == 0:
            self.save(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.save(trainer)

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        checkpoint["cpckit"] = self.extra

    def save(self, trainer: L.Trainer) -> None:
        """Write the checkpoint of the current step (all processes call this; rank 0 writes)."""
        step = trainer.global_step
        if step == self._saved_step or trainer.sanity_checking:
            return
        bad = first_nonfinite(trainer.lightning_module)
        if bad is not None:
            raise DivergenceError(step, "not finite after the optimizer step", what=f"weight {bad}")
        path = self.dirpath / f"step{step:08d}.ckpt"
        try:
            trainer.save_checkpoint(path)
        except OSError as exc:
            if exc.errno not in _FULL:
                raise
            raise CpckitError(
                f"cannot write checkpoint {path}: {os.strerror(exc.errno or 0)}; the checkpoints "
                f"already in {self.dirpath} are intact: free some space and run again with "
                "--resume auto"
            ) from None
        self._saved_step = step
        if trainer.is_global_zero:
            self._link_last(path)
            self._prune()

    def _link_last(self, src: Path) -> None:
        tmp = self.dirpath / f".{LAST}.link{TEMP_SUFFIX}"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        try:
            os.link(src, tmp)
        except OSError:  # no hard links on this file system
            shutil.copyfile(src, tmp)
        os.replace(tmp, self.dirpath / LAST)

    def _prune(self) -> None:
        steps = sorted(_step_files(self.dirpath))
        for _, path in steps[: -self.keep]:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def _step_files(folder: Path) -> list[tuple[int, Path]]:
    out = []
    for path in folder.glob("step*.ckpt"):
        match = _STEP_FILE.match(path.name)
        if match:
            out.append((int(match.group(1)), path))
    return out


def checkpoint_step(path: str | Path) -> int | None:
    """The global step stored in a Lightning checkpoint, or None when it does not load.

    A file refused by ``weights_only=True`` (one that asks to run code) does
    not load either: it is skipped and set aside like a truncated one.
    """
    try:
        blob = load_weights_only(Path(path), mmap=True)
    except UnsafeFileError as exc:
        log.warning("%s", exc)
        return None
    except Exception:  # noqa: BLE001 - truncated or corrupt files are not checkpoints
        return None
    if not isinstance(blob, dict) or "global_step" not in blob or "state_dict" not in blob:
        return None
    return int(blob["global_step"])


def is_valid_checkpoint(path: Path) -> bool:
    """True when ``path`` loads as a Lightning checkpoint with a global step."""
    return checkpoint_step(path) is not None


def newest_valid_checkpoint(folder: Path) -> Path | None:
    """The checkpoint with the highest global step in ``folder`` that loads, or None.

    Unreadable files are skipped with a warning; on a tie a ``stepN.ckpt``
    file is preferred to ``last.ckpt`` (the same content, a clearer name).
    """
    if not folder.is_dir():
        return None
    best: tuple[int, bool, float, Path] | None = None
    for path in folder.glob("*.ckpt"):
        step = checkpoint_step(path)
        if step is None:
            log.warning("skipping unreadable checkpoint %s", path)
            continue
        key = (step, path.name != LAST, path.stat().st_mtime, path)
        if best is None or key[:3] > best[:3]:
            best = key
    return None if best is None else best[3]


def set_aside_newer(folder: Path, step: int) -> list[Path]:
    """Move checkpoints past ``step`` to ``folder/abandoned/``; return their new paths.

    Resuming from an older checkpoint starts a new continuation; the files of
    the abandoned one must not be taken for the newest by a later
    ``--resume auto``.
    """
    moved: list[Path] = []
    if not folder.is_dir():
        return moved
    for path in sorted(folder.glob("*.ckpt")):
        found = checkpoint_step(path)
        if found is not None and found > step:
            target = folder / "abandoned" / path.name
            target.parent.mkdir(exist_ok=True)
            os.replace(path, target)
            moved.append(target)
    return moved


def set_aside_unreadable(folder: Path) -> list[Path]:
    """Move checkpoints that do not load to ``folder/unreadable/``; return their new paths.

    A truncated ``step00000900.ckpt`` left in place would count among the
    newest when old checkpoints are pruned, and a run starting at step 0
    would delete its own fresh ones to keep it. Moved, not deleted: the
    bytes may still be worth something to whoever wrote them.
    """
    moved: list[Path] = []
    if not folder.is_dir():
        return moved
    for path in sorted(folder.glob("*.ckpt")):
        if checkpoint_step(path) is None:
            target = folder / "unreadable" / path.name
            target.parent.mkdir(exist_ok=True)
            os.replace(path, target)
            moved.append(target)
    return moved
