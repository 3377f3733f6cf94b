"""Stop a run whose loss or weights are no longer finite, with advice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from cpckit.errors import CpckitError

__all__ = ["DivergenceError", "check_finite_loss", "first_nonfinite"]


class DivergenceError(CpckitError):
    """The loss (or a weight) became NaN or infinite.

    Args:
        step: the optimizer step (1-based, as in ``losses.csv``) at which it was seen.
        value: the offending value, or a description.
        what: what was not finite: ``"the loss"`` or a weight's name.
        checkpoint: the last good checkpoint, when known.
        lr: the learning rate of the run, when known (for the advice).
        searched: the run folder was searched for ``checkpoint`` (None: there is none).
    """

    def __init__(
        self,
        step: int,
        value: float | str,
        *,
        what: str = "the loss",
        checkpoint: Path | None = None,
        lr: float | None = None,
        searched: bool = False,
    ) -> None:
        self.step = step
        self.value = value
        self.what = what
        self.checkpoint = checkpoint
        self.lr = lr
        if checkpoint is not None:
            kept = f"The last good checkpoint is kept: {checkpoint}."
        elif searched:
            kept = "No checkpoint was written before it (see train.checkpoint_every_n_steps)."
        else:
            kept = "The last good checkpoint is kept in the run folder's checkpoints/."
        lower = "a lower train.lr" + (f" (now {lr:g})" if lr is not None else "")
        super().__init__(
            f"training diverged at step {step}: {what} is {value}. {kept} Resume with "
            f"--resume auto after changing the config: try {lower}, train.grad_clip=1.0, "
            "train.precision=32, or loss.similarity=cosine"
        )

    def in_run(self, checkpoint: Path | None, lr: float) -> DivergenceError:
        """The same error, naming the run's last good checkpoint and learning rate."""
        return DivergenceError(
            self.step, self.value, what=self.what, checkpoint=checkpoint, lr=lr, searched=True
        )


def check_finite_loss(loss: Tensor, module: Any) -> None:
    """Raise :class:`DivergenceError` when ``loss`` is not finite on any process.

    Under DDP every process takes the same decision (one all-reduce of a
    flag), so all stop together instead of one waiting for the others in
    the gradient all-reduce. ``module`` is the LightningModule; the step
    named is the one being computed (``global_step + 1``).
    """
    finite = bool(torch.isfinite(loss.detach()).all())
    trainer = getattr(module, "_trainer", None)
    everywhere = finite
    if trainer is not None and trainer.world_size > 1:
        everywhere = trainer.strategy.reduce_boolean_decision(finite, all=True)
    if not everywhere:
        value: float | str = float(loss.detach()) if not finite else "not finite on another process"
        raise DivergenceError(int(module.global_step) + 1, value)


def first_nonfinite(module: nn.Module) -> str | None:
    """Name of the first floating-point tensor of ``module.state_dict()`` holding NaN or inf.

    The state dict is what a checkpoint saves: the parameters and the
    persistent buffers (a queue of negatives, say), not scratch buffers.
    """
    for name, tensor in module.state_dict().items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            return name
    return None
