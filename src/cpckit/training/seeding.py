"""Random draws of each training batch from ``(seed, rank, epoch, batch)`` alone."""

from __future__ import annotations

import random
from typing import Any

import lightning as L
import numpy as np
import torch

__all__ = ["StepSeeds", "seed_batch"]


def seed_batch(seed: int, rank: int, epoch: int, batch_idx: int) -> int:
    """Seed torch, numpy and ``random`` for one batch of one process; return the seed."""
    value = int(np.random.SeedSequence([seed, rank, epoch, batch_idx]).generate_state(1)[0])
    torch.manual_seed(value)
    np.random.seed(value)
    random.seed(value)
    return value


class StepSeeds(L.Callback):
    """Reseed before every training batch.

    A batch's negatives (and dropout) then depend only on the run's seed,
    the process's rank, the epoch and the batch index: not on what ran
    before. Two runs with the same seed draw the same numbers, a run resumed
    from a checkpoint draws what the uninterrupted run drew, and the
    processes of a DDP run draw different negatives.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        seed_batch(self.seed, trainer.global_rank, trainer.current_epoch, batch_idx)
