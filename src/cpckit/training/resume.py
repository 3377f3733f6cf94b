"""Resuming a run: where the data loader stood, and what may change between the two runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightning as L

from cpckit.config import Config, config_to_dict
from cpckit.errors import ConfigError
from cpckit.training.callbacks import TrainBatchCallback
from cpckit.training.sampling import EpochSampler

__all__ = [
    "FIXED_SECTIONS",
    "LoaderPosition",
    "OptimizerSettings",
    "check_mid_epoch",
    "check_state_fits",
    "compare_configs",
]

# Config sections that shape the weights and buffers, named first when a
# checkpoint does not fit the model built now.
FIXED_SECTIONS = ("model", "audio_encoder", "image_encoder", "negatives")
POSITION_KEY = "cpckit_position"


class LoaderPosition(TrainBatchCallback):
    """The training loader's position (epoch, batches done), kept in each checkpoint.

    On resume the sampler is set to the stored epoch and skips the batches
    already trained on, so a run resumed in the middle of an epoch sees the
    same batches as an uninterrupted one. Also shards every given sampler
    over the Trainer's processes.

    Args:
        sampler: the training loader's sampler.
        batch_size: examples per batch and process.
        others: other samplers to shard (validation).
    """

    def __init__(
        self, sampler: EpochSampler, batch_size: int, others: Sequence[EpochSampler] = ()
    ) -> None:
        self.sampler = sampler
        self.batch_size = batch_size
        self.others = list(others)
        self.world_size = 1
        self.epoch = 0
        self.batches = 0

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self.world_size = trainer.world_size
        for sampler in [self.sampler, *self.others]:
            sampler.set_replicas(trainer.world_size, trainer.global_rank)

    def after_train_batch(self, trainer: L.Trainer, outputs: Any, batch_idx: int) -> None:
        self.epoch, self.batches = trainer.current_epoch, batch_idx + 1
        if self.batches >= trainer.num_training_batches:
            self.epoch, self.batches = self.epoch + 1, 0

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # After an epoch-end checkpoint the Trainer resumes with the next epoch,
        # also when the epoch was cut short by train.max_steps.
        self.epoch, self.batches = trainer.current_epoch + 1, 0

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        checkpoint[POSITION_KEY] = {
            "epoch": self.epoch,
            "batches": self.batches,
            "batch_size": self.batch_size,
            "world_size": self.world_size,
            "accumulate_grad_batches": trainer.accumulate_grad_batches,
        }

    def on_load_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        pos = checkpoint.get(POSITION_KEY)
        if not pos:
            return
        check_mid_epoch(pos, self.batch_size, self.world_size, trainer.accumulate_grad_batches)
        self.epoch, self.batches = int(pos["epoch"]), int(pos["batches"])
        self.sampler.set_epoch(self.epoch)
        self.sampler.skip_next(self.batches * self.batch_size)


def check_mid_epoch(pos: dict[str, Any], batch_size: int, world_size: int, accumulate: int) -> None:
    """A checkpoint taken mid-epoch resumes only with the same batch layout."""
    if not pos.get("batches"):
        return
    now = {
        "train.batch_size": batch_size,
        "processes (devices x nodes)": world_size,
        "train.accumulate_grad_batches": accumulate,
    }
    then = {
        "train.batch_size": pos.get("batch_size"),
        "processes (devices x nodes)": pos.get("world_size"),
        "train.accumulate_grad_batches": pos.get("accumulate_grad_batches"),
    }
    changed = [
        f"{k} {then[k]} -> {now[k]}" for k in now if then[k] is not None and then[k] != now[k]
    ]
    if changed:
        raise ConfigError(
            f"cannot resume in the middle of epoch {int(pos['epoch']) + 1} with "
            f"{', '.join(changed)}: keep them as they were until the epoch ends, or resume "
            "from an epoch-end checkpoint"
        )


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and prefix == "":
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def compare_configs(saved: dict[str, Any] | None, cfg: Config) -> dict[str, tuple[Any, Any]]:
    """``{key: (value in the checkpoint, value now)}`` for every config value that differs."""
    if not saved:
        return {}
    old = _flatten(saved)
    new = _flatten(config_to_dict(cfg))
    skip = {"train.resume", "train.out_dir"}  # a copied run folder resumes quietly
    return {k: (old[k], new[k]) for k in new if k in old and old[k] != new[k] and k not in skip}


def check_state_fits(
    saved: dict[str, tuple[int, ...]],
    now: dict[str, tuple[int, ...]],
    changed: dict[str, tuple[Any, Any]],
) -> None:
    """Raise ConfigError when the checkpoint's tensors do not fit the model built now.

    Args:
        saved: tensor name -> shape in the checkpoint.
        now: tensor name -> shape in the module built from this run's config.
        changed: the config differences (:func:`compare_configs`), to name the cause.
    """
    problems = [f"{k} is missing from the checkpoint" for k in now if k not in saved]
    problems += [f"{k} is in the checkpoint but not in this model" for k in saved if k not in now]
    problems += [
        f"{k} has shape {list(saved[k])} in the checkpoint, {list(now[k])} now"
        for k in now
        if k in saved and tuple(saved[k]) != tuple(now[k])
    ]
    if not problems:
        return
    shaping = [k for k in changed if k.split(".")[0] in FIXED_SECTIONS or k == "data.modality"]
    keys = shaping or list(changed)
    cause = (
        "; ".join(
            f"{k} = {changed[k][0]!r} in the checkpoint, {changed[k][1]!r} now" for k in keys[:3]
        )
        if keys
        else "the config is the same, so the code that builds the model differs"
    )
    raise ConfigError(
        f"cannot resume: the checkpoint does not fit this model ({problems[0]}"
        f"{f' and {len(problems) - 1} more' if len(problems) > 1 else ''}): {cause}. Resume "
        "with the checkpoint's values (the run folder's config.yaml) or start a new run in "
        "another --out-dir"
    )


class OptimizerSettings(L.Callback):
    """Apply this run's learning rate and weight decay after the optimizer state is restored.

    Lightning restores the optimizer's hyperparameters with its state; a
    resume after lowering ``train.lr`` (the usual answer to a divergence)
    must use the new value.
    """

    def __init__(self, lr: float, weight_decay: float) -> None:
        self.lr = lr
        self.weight_decay = weight_decay

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        for optimizer in trainer.optimizers:
            for group in optimizer.param_groups:
                group["lr"] = self.lr
                group["weight_decay"] = self.weight_decay
