"""Stop a run whose loss or weights are no longer finite, or whose batch predicts nothing, with advice."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    "check_step",
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


def _agree(flags: Sequence[bool], module: Any) -> list[bool]:
    """Each flag and-ed over the processes: under DDP one all-reduce for all of them.

    Every process then takes the same decision, so all stop together instead
    of one waiting for the others in the gradient all-reduce.
    """
    trainer = getattr(module, "_trainer", None)
    if trainer is None or trainer.world_size <= 1:
        return list(flags)
    votes = torch.tensor([float(f) for f in flags], device=module.device)
    total = trainer.strategy.reduce(votes, reduce_op="sum")
    return [bool(v > trainer.world_size - 0.5) for v in total.tolist()]


def check_step(result: ObjectiveResult, batch: Mapping[str, Any], module: Any) -> None:
    """The checks of a training step: a valid prediction per modality, a finite loss.

    Raises :class:`NoValidPredictionError` when a modality of the batch
    predicts nothing (its loss is a constant 0 that trains nothing;
    evaluation may score such a batch, so only the training step calls
    this), and :class:`DivergenceError` when the loss is not finite. Under
    DDP both are decided on every process together, in one all-reduce.
    ``module`` is the LightningModule; the step named is the one being
    computed (``global_step + 1``).
    """
    empty = [m for m, r in result.per_modality.items() if int(r.n_valid.sum()) == 0]
    finite = bool(torch.isfinite(result.loss.detach()).all())
    predicts_everywhere, finite_everywhere = _agree([not empty, finite], module)
    step = int(module.global_step) + 1
    if not predicts_everywhere:
        _no_prediction(step, empty, result, batch)
    if not finite_everywhere:
        value: float | str = (
            float(result.loss.detach()) if not finite else "not finite on another process"
        )
        raise DivergenceError(step, value)


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


def _no_prediction(
    step: int, empty: list[str], result: ObjectiveResult, batch: Mapping[str, Any]
) -> None:
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
