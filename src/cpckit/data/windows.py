"""Training windows: does a window give enough latent steps, and which steps are valid.

An encoder with downsampling ``s`` (input samples per latent step) and
receptive field ``r`` (input samples one latent step sees), without padding,
gives ``L = floor((S - r) / s) + 1`` latent steps for ``S`` samples (0 when
``S < r``): the per-layer rule ``L = floor((S + 2p - d(k-1) - 1) / s) + 1``
(:func:`conv_output_length`) applied through the stack. CPC predicts ``K``
steps ahead from ``T = L - K`` context positions, so a window needs
``L >= K + min_context``. Encoders with padding pass their exact
``output_length`` to :func:`check_window`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from cpckit.errors import ConfigError

__all__ = [
    "WindowPlan",
    "check_window",
    "conv_output_length",
    "latent_length",
    "latent_valid_mask",
]


def conv_output_length(
    length: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> int:
    """Output length of one 1-d convolution: ``floor((S + 2p - d(k-1) - 1) / s) + 1`` (>= 0)."""
    return max(0, (length + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1)


def latent_length(n_samples: int, downsampling: int, receptive_field: int) -> int:
    """Latent steps of an unpadded encoder for ``n_samples`` input samples.

    The same as one convolution with kernel ``receptive_field`` and stride
    ``downsampling``; exact for a stack of unpadded convolutions.
    """
    return conv_output_length(n_samples, receptive_field, downsampling)


@dataclass(frozen=True)
class WindowPlan:
    """How a training window maps to latent steps.

    Attributes:
        window_samples: input samples per window.
        n_latent: latent steps ``L`` of a full window.
        n_context: context positions ``T = L - K`` that make predictions.
        prediction_steps: ``K``.
        sample_rate: Hz.
    """

    window_samples: int
    n_latent: int
    n_context: int
    prediction_steps: int
    sample_rate: int

    @property
    def duration_s(self) -> float:
        """Window length in seconds."""
        return self.window_samples / self.sample_rate


def _positive_int(name: str, value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} = {value!r} must be a positive whole number of {what}")
    return value


def _min_samples(n_steps: int, length_of: Callable[[int], int], start: int) -> int:
    """Smallest sample count giving at least ``n_steps`` latent steps (length_of is monotone)."""
    hi = max(1, start)
    while length_of(hi) < n_steps:
        hi *= 2
        if hi > 1 << 40:
            raise ConfigError(f"no window length gives {n_steps} latent steps with this encoder")
    lo = 0
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if length_of(mid) >= n_steps:
            hi = mid
        else:
            lo = mid
    return hi


def check_window(
    full_duration_s: float,
    sample_rate: int,
    downsampling: int,
    receptive_field: int,
    prediction_steps: int,
    min_context: int = 1,
    *,
    output_length: Callable[[int], int] | None = None,
) -> WindowPlan:
    """Check that a window gives ``prediction_steps + min_context`` latent steps.

    Args:
        full_duration_s: window length in seconds (``data.full_duration``).
        sample_rate: Hz (``data.sample_rate``).
        downsampling: the encoder's input samples per latent step.
        receptive_field: the encoder's input samples seen by one latent step.
        prediction_steps: K (``model.prediction_steps``).
        min_context: context positions needed at least.
        output_length: the encoder's exact samples -> latent steps function
            (for encoders with padding); default :func:`latent_length`.

    Raises:
        ConfigError: a value is not positive, or the window is too short; the
            message says which value to change and to what.
    """
    sample_rate = _positive_int("data.sample_rate", sample_rate, "Hz")
    downsampling = _positive_int("the encoder's downsampling", downsampling, "samples")
    receptive_field = _positive_int("the encoder's receptive_field", receptive_field, "samples")
    k = _positive_int("model.prediction_steps", prediction_steps, "steps")
    min_context = _positive_int("min_context", min_context, "steps")
    if not isinstance(full_duration_s, (int, float)) or not full_duration_s > 0:
        raise ConfigError(
            f"data.full_duration = {full_duration_s!r} must be a positive number of seconds"
        )

    def length_of(n: int) -> int:
        if output_length is not None:
            return max(0, int(output_length(n)))
        return latent_length(n, downsampling, receptive_field)

    samples = int(round(full_duration_s * sample_rate))
    steps = length_of(samples)
    need = k + min_context
    if steps >= need:
        return WindowPlan(
            window_samples=samples,
            n_latent=steps,
            n_context=steps - k,
            prediction_steps=k,
            sample_rate=sample_rate,
        )
    need_samples = _min_samples(need, length_of, (need - 1) * downsampling + receptive_field)
    need_ms = -(-need_samples * 1000 // sample_rate)  # ceil, in whole milliseconds
    while length_of(int(round(need_ms / 1000 * sample_rate))) < need:
        need_ms += 1
    context = "" if min_context == 1 else f" ({min_context} context + {k} predicted)"
    raise ConfigError(
        f"data.full_duration = {full_duration_s:g} s at {sample_rate} Hz gives {steps} latent "
        f"steps with the encoder's {downsampling}x downsampling, but model.prediction_steps = {k} "
        f"needs at least {need}{context}: raise data.full_duration to >= "
        f"{need_ms / 1000:g} s or lower model.prediction_steps"
    )


def latent_valid_mask(
    lengths: Tensor, n_latent: int, downsampling: int, receptive_field: int, *, offset: int = 0
) -> Tensor:
    """Latent steps whose whole receptive field lies inside the valid samples.

    Step ``t`` reads input samples ``t * downsampling - offset`` to
    ``t * downsampling - offset + receptive_field - 1``; it is valid when the
    last of them is a valid sample (``< lengths[b]``).

    Args:
        lengths: valid samples per waveform.
        n_latent: latent steps ``L`` of the padded batch.
        downsampling: the encoder's input samples per latent step.
        receptive_field: the encoder's input samples seen by one latent step.
        offset: left padding of the encoder in input samples (0 for unpadded encoders).

    Shape:
        lengths: ``(B,)`` int -> ``(B, L)`` bool
    """
    if lengths.dim() != 1:
        raise ValueError(f"lengths must have shape (B,), got {tuple(lengths.shape)}")
    if n_latent < 0 or downsampling < 1 or receptive_field < 1:
        raise ValueError(
            f"need n_latent >= 0, downsampling >= 1 and receptive_field >= 1, got "
            f"{n_latent}, {downsampling} and {receptive_field}"
        )
    t = torch.arange(n_latent, device=lengths.device, dtype=torch.int64)
    last_sample = t * downsampling - offset + receptive_field - 1
    return last_sample.unsqueeze(0) < lengths.to(torch.int64).unsqueeze(1)
