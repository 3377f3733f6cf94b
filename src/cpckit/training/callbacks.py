"""Callbacks: the per-step loss log, plain progress lines for non-terminals, quiet Lightning.

:class:`TrainBatchCallback` is the end-of-batch hook they (and the resume and
checkpoint callbacks) share.
"""

from __future__ import annotations

import csv
import logging
import math
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import torch

from cpckit.progress import Pace

__all__ = [
    "LossRecorder",
    "PlainProgress",
    "QuietLightning",
    "TrainBatchCallback",
    "quiet_lightning",
]


def quiet_lightning() -> None:
    """Silence Lightning's informational logs and the warnings that do not apply to cpckit."""
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for pattern in (
        ".*does not have many workers.*",
        ".*GPU available but not used.*",
        ".*TPU available.*",
        ".*LeafSpec.*",
        ".*`validation_step` but have no `val_dataloader`.*",
        ".*number of training batches.*smaller than the logging interval.*",
        # LoaderPosition (training/resume.py) restores the loader's position.
        ".*resuming from a checkpoint that ended before the epoch.*",
        ".*`weights_only` was not set.*",
    ):
        warnings.filterwarnings("ignore", pattern)


class QuietLightning(L.Callback):
    """:func:`quiet_lightning` in every process (``ddp_spawn`` starts fresh interpreters)."""

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        quiet_lightning()


class TrainBatchCallback(L.Callback):
    """A callback whose end-of-batch hook is :meth:`after_train_batch`.

    Lightning's ``on_train_batch_end`` passes ``(trainer, pl_module, outputs,
    batch, batch_idx)``; cpckit's callbacks read only the trainer, the step's
    outputs and the batch index, which this hook receives.
    """

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        self.after_train_batch(trainer, outputs, batch_idx)

    def after_train_batch(self, trainer: L.Trainer, outputs: Any, batch_idx: int) -> None:
        """Called after each training batch (``outputs``: what the step returned)."""


class LossRecorder(TrainBatchCallback):
    """Append one row per optimizer step to ``losses.csv``.

    Columns: ``step,epoch,loss,accuracy,acc_k1..acc_kK``. With gradient
    accumulation a row holds the mean over the step's batches; under DDP,
    the mean over the processes (the loss of the global batch). On resume,
    rows past the restored step are dropped first, so the file has no gap
    and no duplicate step. Only global rank 0 writes.
    """

    def __init__(self, path: str | Path, steps: int) -> None:
        self.path = Path(path)
        self.steps = steps
        self._loss: list[torch.Tensor] = []
        self._acc: list[torch.Tensor] = []

    @property
    def header(self) -> list[str]:
        return ["step", "epoch", "loss", "accuracy"] + [
            f"acc_k{k}" for k in range(1, self.steps + 1)
        ]

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._loss, self._acc = [], []
        if trainer.global_rank != 0:
            return
        kept: list[list[str]] = []
        if self.path.exists():
            with self.path.open() as fh:
                rows = list(csv.reader(fh))
            # Keep whole rows up to the restored step, in order: a row cut short by
            # a killed process, or one past the checkpoint, is dropped.
            last = 0
            for row in rows[1:]:
                if len(row) != len(self.header) or not row[0].isdigit():
                    continue
                step = int(row[0])
                if last < step <= trainer.global_step:
                    kept.append(row)
                    last = step
        tmp = self.path.with_suffix(".csv.tmp")
        with tmp.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(self.header)
            writer.writerows(kept)
        tmp.replace(self.path)

    def after_train_batch(self, trainer: L.Trainer, outputs: Any, batch_idx: int) -> None:
        if not isinstance(outputs, dict):
            return
        self._loss.append(outputs["loss"].detach().float().reshape(1))
        self._acc.append(outputs["step_accuracy"].detach().float())
        accumulate = trainer.accumulate_grad_batches
        last_of_epoch = (batch_idx + 1) == trainer.num_training_batches
        if (batch_idx + 1) % accumulate and not last_of_epoch:
            return
        values = torch.cat(
            [torch.cat(self._loss).mean(0, keepdim=True), torch.stack(self._acc).mean(0)]
        )
        self._loss, self._acc = [], []
        if trainer.world_size > 1:  # every process calls this: the mean over all of them
            values = trainer.strategy.reduce(values, reduce_op="mean")
        if trainer.global_rank != 0:
            return
        values = values.cpu()
        loss, acc = float(values[0]), values[1:]
        row = [
            trainer.global_step,
            trainer.current_epoch,
            f"{loss:.6f}",
            f"{float(acc.mean()):.6f}",
        ]
        row += [f"{float(a):.6f}" for a in acc]
        with self.path.open("a", newline="") as fh:
            csv.writer(fh).writerow(row)


class PlainProgress(TrainBatchCallback):
    """Periodic one-line progress reports, for logs (``nohup ... > log &``).

    Every ``every_n_steps`` batches: epoch, batch, loss, accuracy, and what a
    terminal's bar shows: the optimizer step of the run's total, steps per
    second, the time elapsed and the time left (the steps left at the mean
    rate since this session started; a resumed run counts from its restored
    step). ``clock`` gives seconds (a fake one in tests).
    """

    def __init__(
        self,
        every_n_steps: int = 10,
        stream: Any = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.every = max(1, every_n_steps)
        self.stream = stream  # None: sys.stdout when printing (picklable for ddp_spawn)
        self.clock = clock
        self._pace = Pace(math.inf, clock=clock)
        self._epoch_t0 = 0.0
        self._losses: list[torch.Tensor] = []  # read back (one sync) when printed

    def _print(self, text: str) -> None:
        print(text, file=self.stream or sys.stdout, flush=True)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        total = trainer.estimated_stepping_batches  # min(max_steps, epochs x steps per epoch)
        self._pace = Pace(total, start=trainer.global_step, clock=self.clock)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._epoch_t0 = self.clock()
        self._losses = []

    def after_train_batch(self, trainer: L.Trainer, outputs: Any, batch_idx: int) -> None:
        if trainer.global_rank != 0 or not isinstance(outputs, dict):
            return
        self._losses.append(outputs["loss"].detach())
        if (batch_idx + 1) % self.every == 0:
            loss = float(self._losses[-1])
            acc = float(outputs["step_accuracy"].mean())
            self._print(
                f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs} "
                f"batch {batch_idx + 1}/{trainer.num_training_batches} "
                f"loss {loss:.4f} acc {acc:.3f} {self._pace.text(trainer.global_step)}"
            )

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.global_rank != 0 or not self._losses:
            return
        losses = torch.stack(self._losses).tolist()
        mean = sum(losses) / len(losses)
        took = self.clock() - self._epoch_t0
        self._print(
            f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs} done: mean loss {mean:.4f} "
            f"({took:.1f} s)"
        )
