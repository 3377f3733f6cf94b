"""Stop a run whose loss or weights are no longer finite, or whose batch predicts nothing, with advice."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from cpckit.errors import CpckitError, DataError

if TYPE_CHECKING:
    from cpckit.objective import ObjectiveResult

__all__ = [
    "DivergenceError",
    "NoValidPredictionError",
    "check_finite_loss",
    "check_predictions",
    "first_nonfinite",
]


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


class NoValidPredictionError(DataError):
    """A training batch has no valid prediction for a modality: its clips are too short.

    The loss of such a batch is 0 by construction (a mean over nothing) and
    has no gradient, so training on would report a perfect loss and learn
    nothing.
    """


def _describe_clips(modality: str, result: ObjectiveResult, batch: Mapping[str, Any]) -> str:
    """What the batch's clips of ``modality`` hold: their count, valid steps and samples."""
    valid = result.queries[modality].valid
    n_clips = int(valid.shape[0]) if valid is not None else 0
    steps = 0 if valid is None else int(valid.sum(1).max())
    what = f"its {n_clips} clip(s) give at most {steps} valid latent step(s)"
    lengths = batch.get(f"{modality}_length")
    if isinstance(lengths, Tensor) and lengths.numel():
        what += f" (from at most {int(lengths.max())} valid samples)"
    return what


def check_predictions(result: ObjectiveResult, batch: Mapping[str, Any], module: Any) -> None:
    """Raise :class:`NoValidPredictionError` when a modality of a training batch predicts nothing.

    Evaluation may score a batch without any valid prediction (its loss is
    then 0 and means nothing); training must not, so only the training step
    calls this. Under DDP every process takes the same decision, as in
    :func:`check_finite_loss`.
    """
    empty = [m for m, r in result.per_modality.items() if int(r.n_valid.sum()) == 0]
    trainer = getattr(module, "_trainer", None)
    everywhere = not empty
    if trainer is not None and trainer.world_size > 1:
        everywhere = trainer.strategy.reduce_boolean_decision(not empty, all=True)
    if everywhere:
        return
    step = int(module.global_step) + 1
    if not empty:
        raise NoValidPredictionError(
            f"training step {step}: a batch on another process has no valid prediction (its "
            "clips are too short for the encoder); see that process's error"
        )
    modality = empty[0]
    raise NoValidPredictionError(
        f"training step {step}: the batch has no valid prediction for {modality}: "
        f"{_describe_clips(modality, result, batch)}, and one prediction needs 2, so its loss "
        "would be a constant 0 that trains nothing: give longer clips (data.audio_root and a "
        "cached data.pairs_csv leave such clips out when loaded), a smaller "
        "audio_augment.pitch_semitones (a pitch shift can shorten a clip), or an encoder that "
        "needs fewer samples (audio_encoder.n_fft, hop_length, mel_layers or conv_layers)"
    )
