"""The Lightning module: drives a plain CPCModel and CPCObjective."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from torch import Tensor

from cpckit.model import CPCModel
from cpckit.objective import CPCObjective, ObjectiveResult
from cpckit.training.guard import check_step

__all__ = ["OPTIMIZERS", "CPCLightningModule", "warmup_cosine"]

OPTIMIZERS = ("adam", "adamw", "sgd")
"""``train.optimizer`` choices: Adam, AdamW (decoupled weight decay), SGD with momentum."""


class CPCLightningModule(L.LightningModule):
    """Training step, logging and optimizer for CPC.

    Args:
        model: the CPC model (encoders, context, predictors).
        objective: samplers + similarity + InfoNCE.
        lr: Adam learning rate.
        weight_decay: weight decay (decoupled with ``adamw``).
        optimizer: ``adam``, ``adamw`` or ``sgd`` (:data:`OPTIMIZERS`).
        momentum: SGD momentum.
        augment: ``(audio, lengths) -> (audio, lengths)`` applied to the
            audio of training batches only (:mod:`cpckit.data.audio_augment`);
            when it has ``apply_to == "past"``, only the context's input is
            augmented and the predictions are scored against the clean latents.
        lr_schedule: ``constant`` or ``cosine`` (linear warmup over
            ``warmup_steps``, then cosine decay to 0 at the last step).
        warmup_steps: warmup steps of the cosine schedule.
    """

    def __init__(
        self,
        model: CPCModel,
        objective: CPCObjective,
        *,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        augment: Callable[[Tensor, Tensor | None], tuple[Tensor, Tensor]] | None = None,
        lr_schedule: str = "constant",
        warmup_steps: int = 0,
        optimizer: str = "adam",
        momentum: float = 0.9,
    ) -> None:
        super().__init__()
        if lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"lr_schedule = {lr_schedule!r}: expected 'constant' or 'cosine'")
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer = {optimizer!r}: expected one of {', '.join(OPTIMIZERS)}")
        self.optimizer_name = optimizer
        self.momentum = momentum
        self.model = model
        self.objective = objective
        self.lr = lr
        self.weight_decay = weight_decay
        self.augment = augment
        self.lr_schedule = lr_schedule
        self.warmup_steps = warmup_steps

    def compute_loss(self, batch: dict[str, Tensor]) -> ObjectiveResult:
        """Forward pass and objective for one batch (the body of every step).

        A batch holding ``audio_target`` (the clean window, see
        :meth:`training_batch`) is scored against that window's latents: the
        context and predictions come from ``audio`` (augmented), the positives
        and negatives from the encoder's output for the clean window. An
        image encoder with ``augment_past_only`` (``patch_augment_to: past``)
        encodes the images a second time without its per-patch augmentation,
        for the positives and negatives, in training mode.
        """
        out = self.model(batch)
        if "audio_target" in batch:
            z, valid = self.model.encode(
                "audio", batch["audio_target"], batch.get("audio_target_length")
            )
            aug = out["audio"]
            if valid is None or aug.valid is None:
                valid = aug.valid if valid is None else valid
            else:
                valid = valid & aug.valid
            out["audio"] = dataclasses.replace(aug, z=z, valid=valid)
        image_encoder = self.model.encoders["image"] if "image" in out else None
        if self.training and getattr(image_encoder, "augment_past_only", False):
            assert image_encoder is not None
            out["image"] = dataclasses.replace(
                out["image"], z=image_encoder(batch["image"], augment=False)
            )
        return self.objective(out, batch.get("group"))

    def training_batch(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """``batch`` as a training step sees it: its audio augmented when ``augment`` is set.

        With an augmentation applied to the past only, the clean window stays
        in the batch as ``audio_target`` (and ``audio_target_length``).
        """
        if self.augment is None or "audio" not in batch:
            return batch
        audio, lengths = self.augment(batch["audio"], batch.get("audio_length"))
        out = {**batch, "audio": audio, "audio_length": lengths}
        if getattr(self.augment, "apply_to", "both") == "past":
            out["audio_target"] = batch["audio"]
            if "audio_length" in batch:
                out["audio_target_length"] = batch["audio_length"]
        return out

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> dict[str, Any]:
        batch = self.training_batch(batch)
        result = self.compute_loss(batch)
        check_step(result, batch, self)
        acc = result.step_accuracy
        # the loss per step and per epoch, the accuracy per step, both in the progress bar
        self._log_pair(
            "train", result.loss.detach(), acc.mean(), batch, on_step=True, prog_bar=True
        )
        return {
            "loss": result.loss,
            "step_accuracy": acc,
            "queries": result.queries,
            "batch": batch,
        }

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        result = self.compute_loss(batch)
        self._log_pair("val", result.loss, result.step_accuracy.mean(), batch)

    def _log_pair(
        self,
        stage: str,
        loss: Tensor,
        accuracy: Tensor,
        batch: dict[str, Tensor],
        *,
        on_step: bool = False,
        prog_bar: bool = False,
    ) -> None:
        """``<stage>/loss`` (per epoch, and per step with ``on_step``) and ``<stage>/accuracy``."""
        size, sync = _batch_size(batch), self.trainer.world_size > 1
        self.log(
            f"{stage}/loss",
            loss,
            prog_bar=prog_bar,
            on_step=on_step,
            on_epoch=True,
            batch_size=size,
            sync_dist=sync,
        )
        # the training accuracy is logged per step only, the validation one per epoch
        self.log(
            f"{stage}/accuracy",
            accuracy,
            prog_bar=prog_bar,
            on_step=on_step,
            on_epoch=not on_step,
            batch_size=size,
            sync_dist=sync,
        )

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if isinstance(outputs, dict) and "queries" in outputs:
            # batch and model are used only with a momentum key encoder, which
            # encodes the batch the queries came from (augmented, if it was)
            self.objective.update(outputs["queries"], outputs.get("batch", batch), self.model)

    def optimization(
        self, total_steps: int
    ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR | None]:
        """The optimizer over the trainable parameters, and the per-step schedule over ``total_steps``."""
        params = [p for p in self.parameters() if p.requires_grad]
        # On CPU the fused kernel updates each tensor in one pass (no per-op loop);
        # elsewhere torch picks (and Lightning's AMP gradient clipping stays possible).
        fused = bool(params) and all(
            p.device.type == "cpu" and p.is_floating_point() for p in params
        )
        opt: torch.optim.Optimizer
        if self.optimizer_name == "sgd":
            opt = torch.optim.SGD(
                params, lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay
            )
        else:
            kind = torch.optim.AdamW if self.optimizer_name == "adamw" else torch.optim.Adam
            opt = kind(params, lr=self.lr, weight_decay=self.weight_decay, fused=fused or None)
        if self.lr_schedule == "constant":
            return opt, None
        total = max(1, int(total_steps))
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda step: warmup_cosine(step, self.warmup_steps, total)
        )
        return opt, sched

    def configure_optimizers(self) -> Any:
        # estimated_stepping_batches is inf without max_steps and a sized loader
        total = 0 if self.lr_schedule == "constant" else self.trainer.estimated_stepping_batches
        opt, sched = self.optimization(int(min(total, 2**31)))
        if sched is None:
            return opt
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def warmup_cosine(step: int, warmup: int, total: int) -> float:
    """Learning-rate factor at ``step``: linear from 0 over ``warmup`` steps, then cosine to 0."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def _batch_size(batch: dict[str, Tensor]) -> int:
    for key in ("audio", "image"):
        if key in batch:
            return int(batch[key].shape[0])
    return 1
