"""The training step as ``cpckit train`` drives it: through the Lightning Trainer."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from torch import Tensor

from cpckit.config import Config

__all__ = ["lightning_step_seconds"]


def lightning_step_seconds(
    cfg: Config,
    batches: list[dict[str, Tensor]],
    steps: int,
    warmup: int,
    bare: Callable[[dict[str, Tensor]], Any] | None = None,
) -> tuple[list[float], list[float]]:
    """Seconds per step of ``steps`` Lightning training steps after ``warmup`` steps.

    The Trainer is set up as :func:`cpckit.training.run.train` sets it up
    (loss log, plain progress lines, checkpoint callback, TensorBoard logger)
    in a temporary run folder, and fed the given batches in turn, so the
    difference with the bare step is what Lightning and the callbacks cost.
    A step is timed from one batch's end to the next (data, hooks, logging
    and the optimizer step included).

    With ``bare`` (a bare training step), one bare step on the same batch
    runs, timed on its own, after every Lightning step and outside its
    clock: the two paths alternate step by step, so a change in the
    machine's speed during the measurement (another process, frequency)
    affects both alike.

    Returns:
        The Lightning steps' seconds and the interleaved bare steps' seconds
        (empty without ``bare``).
    """
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import TensorBoardLogger

    from cpckit.build import build_model, build_objective
    from cpckit.training.callbacks import LossRecorder, PlainProgress
    from cpckit.training.module import CPCLightningModule
    from cpckit.training.run import _quiet_lightning

    _quiet_lightning()
    total = warmup + steps + 1
    loader = torch.utils.data.DataLoader(
        _Cycle(batches, total), batch_size=None, shuffle=False, num_workers=0
    )
    module = CPCLightningModule(
        build_model(cfg), build_objective(cfg), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay
    )
    clock = _StepClock(bare, batches)
    with tempfile.TemporaryDirectory(prefix="cpckit-bench-") as root:
        trainer = L.Trainer(
            default_root_dir=root,
            max_epochs=1,
            max_steps=total,
            accelerator="cpu",
            devices=1,
            precision=cfg.train.precision,  # type: ignore[arg-type]
            callbacks=[
                ModelCheckpoint(dirpath=f"{root}/checkpoints", save_last=True, save_top_k=1),
                LossRecorder(f"{root}/losses.csv", cfg.model.prediction_steps),
                PlainProgress(max(1, cfg.train.log_every_n_steps), stream=_Null()),
                clock,
            ],
            logger=TensorBoardLogger(save_dir=root, name="tensorboard", version=""),
            enable_progress_bar=False,
            enable_model_summary=False,
            log_every_n_steps=max(1, cfg.train.log_every_n_steps),
            num_sanity_val_steps=0,
        )
        trainer.fit(module, train_dataloaders=loader)
    return clock.lightning[warmup:], clock.bare[warmup:]


class _Cycle(torch.utils.data.IterableDataset[dict[str, Tensor]]):
    def __init__(self, batches: list[dict[str, Tensor]], n: int) -> None:
        self.batches, self.n = batches, n

    def __iter__(self) -> Any:
        for i in range(self.n):
            yield self.batches[i % len(self.batches)]


class _StepClock(L.Callback):
    """Seconds of each training batch, from the end of the previous one (or of its bare step)."""

    def __init__(
        self,
        bare: Callable[[dict[str, Tensor]], Any] | None,
        batches: list[dict[str, Tensor]],
    ) -> None:
        self.bare_step, self.batches = bare, batches
        self.start: float | None = None
        self.lightning: list[float] = []
        self.bare: list[float] = []

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        end = time.perf_counter()
        if self.start is not None:
            self.lightning.append(end - self.start)
            if self.bare_step is not None:
                self.bare_step(self.batches[batch_idx % len(self.batches)])
                after = time.perf_counter()
                self.bare.append(after - end)
                end = after
        self.start = end


class _Null:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass
