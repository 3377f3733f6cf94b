"""Stop a run whose loss is no longer finite, with advice."""

from __future__ import annotations

from cpckit.errors import CpckitError

__all__ = ["DivergenceError"]


class DivergenceError(CpckitError):
    """The loss became NaN or infinite."""

    def __init__(self, step: int, value: float) -> None:
        self.step = step
        self.value = value
        super().__init__(
            f"training diverged: the loss is {value} at step {step}. The last good checkpoint is kept "
            "in the run folder's checkpoints/. Try a lower train.lr, train.grad_clip=1.0, "
            "train.precision=32, or loss.similarity=cosine"
        )
