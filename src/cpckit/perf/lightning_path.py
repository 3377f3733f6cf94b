"""The training step as ``cpckit train`` drives it: through the Lightning Trainer."""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from torch import Tensor

from cpckit.config import Config
from cpckit.training.callbacks import TrainBatchCallback

__all__ = ["lightning_step_seconds"]


def lightning_step_seconds(
    cfg: Config,
    batches: list[dict[str, Tensor]],
    steps: int,
    warmup: int,
    bare: Callable[[dict[str, Tensor]], Any] | None = None,
) -> tuple[list[float], list[float]]:
    """Seconds per step of ``steps`` Lightning training steps after ``warmup`` steps.

    Module and Trainer come from :func:`cpckit.training.trainer.build_module`
    and :func:`~cpckit.training.trainer.make_trainer`, as ``cpckit train``
    builds them (callbacks, checkpoints, logger, precision, accumulation,
    clipping), with a temporary run folder, one process on the CPU and
    plain progress lines thrown away. The Trainer makes one pass over the
    given batches in turn, so the difference with the bare step is what
    Lightning and the run's callbacks cost. A step is timed from one batch's
    end to the next (data, hooks, logging and the optimizer step included).

    With ``bare`` (a bare training step), one bare step on the same batch
    runs, timed on its own, after every Lightning step and outside its
    clock: the two paths alternate step by step, so a change in the
    machine's speed during the measurement (another process, frequency)
    affects both alike.

    Returns:
        The Lightning steps' seconds and the interleaved bare steps' seconds
        (empty without ``bare``).
    """
    from cpckit.training.run_folder import RunPaths
    from cpckit.training.trainer import build_module, make_trainer

    total = warmup + steps + 1
    loader = torch.utils.data.DataLoader(
        _Cycle(batches, total), batch_size=None, shuffle=False, num_workers=0
    )
    module = build_module(cfg)
    clock = _StepClock(bare, batches)
    with tempfile.TemporaryDirectory(prefix="cpckit-bench-") as root:
        paths = RunPaths(root)
        paths.checkpoints.mkdir()
        trainer = make_trainer(
            _one_pass_on_cpu(cfg, root),
            paths,
            tty=False,
            progress_stream=_Null(),
            callbacks=[clock],
        )
        trainer.fit(module, train_dataloaders=loader)
    return clock.lightning[warmup:], clock.bare[warmup:]


def _one_pass_on_cpu(cfg: Config, root: str) -> Config:
    """``cfg`` for one process on the CPU, one pass over the loader, in ``root``, no resume."""
    train = dataclasses.replace(
        cfg.train,
        out_dir=root,
        accelerator="cpu",
        devices=1,
        num_nodes=1,
        strategy="auto",
        epochs=1,
        max_steps=-1,
        resume=None,
    )
    return dataclasses.replace(cfg, train=train)


class _Cycle(torch.utils.data.IterableDataset[dict[str, Tensor]]):
    def __init__(self, batches: list[dict[str, Tensor]], n: int) -> None:
        self.batches, self.n = batches, n

    def __iter__(self) -> Any:
        for i in range(self.n):
            yield self.batches[i % len(self.batches)]


class _StepClock(TrainBatchCallback):
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

    def after_train_batch(self, trainer: L.Trainer, outputs: Any, batch_idx: int) -> None:
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
