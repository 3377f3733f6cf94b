"""The bare training step (no Lightning) and random batches to time it on."""

from __future__ import annotations

import torch
from torch import Tensor

from cpckit.config import Config

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
    """Forward, loss, backward and optimizer step, as ``cpckit train`` runs them.

    Model, objective and optimizer come from the same builders as training
    (:func:`cpckit.build.build_model`, :func:`cpckit.build.build_objective`
    and :meth:`CPCLightningModule.configure_optimizers`), so a change to any
    of them is timed here too.
    """

    def __init__(self, cfg: Config) -> None:
        from cpckit.build import build_model, build_objective
        from cpckit.training.module import CPCLightningModule

        self.cfg = cfg
        self.module = CPCLightningModule(
            build_model(cfg),
            build_objective(cfg),
            lr=cfg.train.lr,
            weight_decay=cfg.train.weight_decay,
        )
        self.module.train()
        self.optimizer = self.module.configure_optimizers()

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        """Forward pass and loss (no backward)."""
        return self.module.compute_loss(batch).loss

    def __call__(self, batch: dict[str, Tensor]) -> float:
        """One optimizer step on ``batch``; returns the loss."""
        result = self.module.compute_loss(batch)
        self.optimizer.zero_grad(set_to_none=True)
        result.loss.backward()
        self.optimizer.step()
        # What the Lightning module does after each step (queue updates).
        self.module.on_train_batch_end({"queries": result.queries}, batch, 0)
        return float(result.loss.detach())
