"""The bare training step (no Lightning) and random batches to time it on."""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch import Tensor

from cpckit.config import Config
from cpckit.errors import ConfigError

__all__ = ["TrainStep", "batch_items", "synthetic_batch"]


def synthetic_batch(cfg: Config, batch_size: int, generator: torch.Generator) -> dict[str, Tensor]:
    """A batch of random inputs with the keys and shapes of ``docs/contracts.md``.

    Audio ``(B, 1, S)`` with ``S = round(full_duration * sample_rate)``;
    images ``(B, 3, H, W)`` with ``H = W = image_size``; both for multimodal.
    """
    batch: dict[str, Tensor] = {}
    modality = cfg.data.modality
    if modality in ("audio", "multimodal"):
        samples = int(round(cfg.data.full_duration * cfg.data.sample_rate))
        batch["audio"] = torch.randn(batch_size, 1, samples, generator=generator)
    if modality in ("image", "multimodal"):
        side = cfg.data.image_size
        batch["image"] = torch.randn(batch_size, 3, side, side, generator=generator)
    batch["label"] = torch.zeros(batch_size, dtype=torch.long)
    batch["group"] = torch.full((batch_size,), -1, dtype=torch.long)
    return batch


def batch_items(cfg: Config, batch: dict[str, Tensor]) -> dict[str, float]:
    """What one batch holds: ``audio_seconds`` and / or ``images``."""
    out: dict[str, float] = {}
    if "audio" in batch:
        audio = batch["audio"]
        out["audio_seconds"] = audio.shape[0] * audio.shape[-1] / cfg.data.sample_rate
    if "image" in batch:
        out["images"] = float(batch["image"].shape[0])
    return out


class TrainStep:
    """Forward, loss, backward and optimizer step, as ``cpckit train`` runs them on the CPU.

    The module (model, objective with its momentum key encoder, optimizer)
    is the one training builds (:func:`cpckit.training.trainer.build_module`
    and :meth:`CPCLightningModule.optimization`), so a change to any of them
    is timed here too: the batch goes through the module's
    ``training_batch`` (audio augmentation) and the learning-rate schedule
    steps as in training (over ``train.max_steps``, or 1,000 steps). Like the Trainer, the step honours
    ``train.precision`` (``bf16-mixed``: forward and loss under CPU
    autocast; ``64``: float64 weights and inputs) and ``train.grad_clip``
    (gradient norm clipping). Every call is one optimizer step: gradient
    accumulation is not modelled.
    """

    def __init__(self, cfg: Config) -> None:
        from cpckit.training.trainer import build_module

        precision = cfg.train.precision
        if precision not in ("32", "bf16-mixed", "64"):
            raise ConfigError(
                f"train.precision = {precision!r}: the bench runs on the CPU; use 32, "
                "bf16-mixed or 64"
            )
        self.cfg = cfg
        self.module = build_module(cfg)
        self.dtype = torch.float64 if precision == "64" else None
        if self.dtype is not None:
            self.module.to(self.dtype)
        self.module.train()
        total = cfg.train.max_steps if cfg.train.max_steps and cfg.train.max_steps > 0 else 1000
        self.optimizer, self.schedule = self.module.optimization(total)
        self.params = [p for p in self.module.parameters() if p.requires_grad]

    def _context(self) -> contextlib.AbstractContextManager[Any]:
        if self.cfg.train.precision == "bf16-mixed":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _input(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        if self.dtype is None:
            return batch
        return {k: v.to(self.dtype) if v.is_floating_point() else v for k, v in batch.items()}

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        """Forward pass and loss (no backward)."""
        with self._context():
            return self.module.compute_loss(self._input(batch)).loss

    def __call__(self, batch: dict[str, Tensor]) -> float:
        """One optimizer step on ``batch``; returns the loss."""
        batch = self.module.training_batch(self._input(batch))
        with self._context():
            result = self.module.compute_loss(batch)
        self.optimizer.zero_grad(set_to_none=True)
        result.loss.backward()
        if self.cfg.train.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.params, self.cfg.train.grad_clip)
        self.optimizer.step()
        if self.schedule is not None:
            self.schedule.step()
        # What the Lightning module does after each step (queue and key encoder updates).
        self.module.on_train_batch_end({"queries": result.queries}, batch, 0)
        return float(result.loss.detach())
