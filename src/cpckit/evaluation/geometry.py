"""Alignment and uniformity of representations on the unit hypersphere.

Wang & Isola 2020, "Understanding Contrastive Representation Learning through
Alignment and Uniformity on the Hypersphere" (ICML). Both metrics are defined
for L2-normalised features; here the inputs are always normalised first, so
raw (unnormalised) features give the paper's numbers and any rescaling of a
vector leaves them unchanged.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np

from cpckit.errors import CpckitError

__all__ = ["GeometryEstimate", "NoisyEstimateWarning", "alignment", "l2_normalize", "uniformity"]

log = logging.getLogger(__name__)

NOISY_BELOW = 100
"""Fewer samples (uniformity) or pairs (alignment) than this give a warning."""

_ZERO_NORM = 1e-12
_BLOCK_ROWS = 1024


class NoisyEstimateWarning(UserWarning):
    """A geometry metric computed from so few samples that it is noisy."""


class GeometryEstimate(float):
    """A metric value (a plain ``float``) that also says what it was computed on.

    Attributes:
        n_used: samples (uniformity) or pairs (alignment) the value is computed on.
        n_total: samples or pairs given.
    """

    n_used: int
    n_total: int

    def __new__(cls, value: float, n_used: int, n_total: int) -> GeometryEstimate:
        obj = super().__new__(cls, value)
        obj.n_used = n_used
        obj.n_total = n_total
        return obj

    @property
    def subsampled(self) -> bool:
        """True when the value is computed on a random subsample of the input."""
        return self.n_used < self.n_total

    @property
    def note(self) -> str:
        """One line for logs and reports, e.g. ``"on 5000 of 20000 samples (seeded subsample)"``."""
        if self.subsampled:
            return f"on {self.n_used} of {self.n_total} samples (seeded subsample)"
        return f"on all {self.n_total}"


def _as_float64(x: Any, what: str) -> np.ndarray:
    """numpy or torch ``(N, D)`` -> float64 numpy array, with shape and value checks."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise CpckitError(f"{what} must have shape (N, D), got shape {tuple(arr.shape)}")
    if arr.shape[1] == 0:
        raise CpckitError(f"{what} has feature dimension 0")
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).any(axis=1).sum())
        raise CpckitError(f"{what} has NaN or infinite values in {bad} of {arr.shape[0]} rows")
    return arr


def l2_normalize(x: Any, what: str = "features") -> np.ndarray:
    """Rows scaled to unit L2 norm, in float64.

    Args:
        x: ``(N, D)`` numpy array or torch tensor.
        what: name of the input in error messages.

    Returns:
        ``(N, D)`` float64 array whose rows have norm 1.

    Raises:
        CpckitError: when ``x`` is not 2-D, holds NaN/inf, or has rows of
            zero norm (these have no direction; the message says how many).
    """
    arr = _as_float64(x, what)
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    zero = int((norms[:, 0] <= _ZERO_NORM).sum())
    if zero:
        raise CpckitError(
            f"{what}: {zero} of {arr.shape[0]} vectors have zero norm and cannot be L2-normalised"
        )
    return arr / norms


def _warn_if_noisy(metric: str, n: int, unit: str) -> None:
    if n < NOISY_BELOW:
        warnings.warn(
            f"{metric} from only {n} {unit} is a noisy estimate (use at least {NOISY_BELOW})",
            NoisyEstimateWarning,
            stacklevel=3,
        )


def alignment(x: Any, y: Any, alpha: float = 2.0) -> GeometryEstimate:
    """Alignment loss of positive pairs: ``mean_i ||f(x_i) - f(y_i)||_2^alpha``.

    Wang & Isola 2020, eq. (4). Lower is better (0 = every pair maps to the
    same point). Both inputs are L2-normalised first (always: the metric is
    defined on the hypersphere, and unnormalised features would make it
    depend on their scale), and the value is computed in float64. It lies
    in ``[0, 2**alpha]``.

    Args:
        x: ``(N, D)`` first view of each pair (numpy or torch).
        y: ``(N, D)`` second view; row ``i`` pairs with ``x[i]``.
        alpha: exponent of the distance (the paper uses 2).

    Returns:
        The mean as a ``float`` (a :class:`GeometryEstimate`).

    Raises:
        CpckitError: when there is no pair, the shapes differ, ``alpha <= 0``,
            or a vector has zero norm.

    Warns:
        NoisyEstimateWarning: with fewer than 100 pairs.
    """
    if not alpha > 0:
        raise CpckitError(f"alignment alpha must be > 0, got {alpha}")
    xa = _as_float64(x, "alignment x")
    ya = _as_float64(y, "alignment y")
    if xa.shape != ya.shape:
        raise CpckitError(
            f"alignment x and y must have the same shape (N, D), got {tuple(xa.shape)} and {tuple(ya.shape)}"
        )
    n = xa.shape[0]
    if n < 1:
        raise CpckitError("alignment needs at least 1 positive pair, got 0")
    _warn_if_noisy("alignment", n, "pairs")
    xn = l2_normalize(xa, "alignment x")
    yn = l2_normalize(ya, "alignment y")
    dist = np.linalg.norm(xn - yn, axis=1)
    return GeometryEstimate(float(np.mean(dist**alpha)), n, n)


def _log_mean_exp_pairs(xn: np.ndarray, t: float) -> float:
    """``log mean_{i<j} exp(-t ||x_i - x_j||^2)`` for unit rows, streamed in row blocks."""
    n = xn.shape[0]
    total = -np.inf
    for start in range(0, n - 1, _BLOCK_ROWS):
        stop = min(start + _BLOCK_ROWS, n - 1)
        rows = xn[start:stop]
        # Pairs (i, j) with start <= i < stop and j > i.
        sq = np.clip(2.0 - 2.0 * rows @ xn[start + 1 :].T, 0.0, 4.0)
        logits = -t * sq
        # Column c is sample start + 1 + c; keep c >= r (sample j > sample i).
        below = np.arange(stop - start)[:, None] > np.arange(n - start - 1)[None, :]
        logits[below] = -np.inf
        peak = float(logits.max())
        block = peak + float(np.log(np.exp(logits - peak).sum()))
        total = float(np.logaddexp(total, block))
    n_pairs = n * (n - 1) / 2.0
    return total - float(np.log(n_pairs))


def uniformity(x: Any, t: float = 2.0, max_samples: int = 5000, seed: int = 0) -> GeometryEstimate:
    """Uniformity loss: ``log mean_{i<j} exp(-t ||f(x_i) - f(x_j)||_2^2)``.

    Wang & Isola 2020, eq. (5), over distinct pairs. Lower is better (more
    uniformly spread on the sphere); it lies in ``[-4t, 0]``, where 0 means
    every vector points the same way. The input is L2-normalised first
    (always: the metric is defined on the hypersphere, and unnormalised
    features would make it depend on their scale), and the value is computed
    in float64 with a stable log-sum-exp.

    With more than ``max_samples`` rows, a seeded random subsample of
    ``max_samples`` rows is used (the number of pairs grows as N^2); the
    result's ``n_used``, ``n_total`` and ``note`` say so, and it is logged.

    Args:
        x: ``(N, D)`` features (numpy or torch).
        t: temperature of the Gaussian potential (the paper uses 2).
        max_samples: at most this many rows are used.
        seed: seed of the subsample.

    Returns:
        The value as a ``float`` (a :class:`GeometryEstimate`).

    Raises:
        CpckitError: with fewer than 2 samples, ``t <= 0``, ``max_samples < 2``,
            or a vector of zero norm.

    Warns:
        NoisyEstimateWarning: with fewer than 100 samples.
    """
    if not t > 0:
        raise CpckitError(f"uniformity t must be > 0, got {t}")
    if max_samples < 2:
        raise CpckitError(f"uniformity max_samples must be >= 2, got {max_samples}")
    arr = _as_float64(x, "uniformity x")
    n = arr.shape[0]
    if n < 2:
        raise CpckitError(f"uniformity needs at least 2 samples, got {n}")
    _warn_if_noisy("uniformity", n, "samples")
    xn = l2_normalize(arr, "uniformity x")
    if n > max_samples:
        idx = np.sort(np.random.default_rng(seed).choice(n, size=max_samples, replace=False))
        xn = xn[idx]
        log.info("uniformity on a seeded random subsample of %d of %d samples", max_samples, n)
    return GeometryEstimate(_log_mean_exp_pairs(xn, t), xn.shape[0], n)
