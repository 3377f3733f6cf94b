"""Input-level baseline features: MFCCs for audio, raw pixels for images.

A probe on these features is the floor a learned representation has to beat
(the CPC paper compares with MFCC features for speaker and phone
classification: van den Oord et al. 2018, table 1). MFCCs: Davis &
Mermelstein 1980, "Comparison of parametric representations for
monosyllabic word recognition in continuously spoken sentences"; deltas:
Furui 1986, "Speaker-independent isolated word recognition using dynamic
features of speech spectrum". The arithmetic is :mod:`cpckit.features`
(librosa's defaults, without librosa).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cpckit import features
from cpckit.errors import CpckitError

__all__ = ["mfcc_features", "mfcc_frames", "pixel_features"]

N_MELS = 40
"""Mel bands behind the MFCCs (40 is usual for speech at 8-16 kHz)."""


def _check_wave(wave: Any, sample_rate: int, n_mfcc: int) -> np.ndarray:
    if hasattr(wave, "detach"):
        wave = wave.detach().cpu().numpy()
    w = np.asarray(wave, dtype=np.float32)
    if w.ndim == 2 and w.shape[0] == 1:
        w = w[0]
    if w.ndim != 1:
        raise CpckitError(
            f"mfcc wave must have shape (S,) or (1, S), got shape {tuple(np.shape(wave))}"
        )
    if w.size == 0:
        raise CpckitError("mfcc wave is empty")
    if not np.isfinite(w).all():
        raise CpckitError(f"mfcc wave has {int((~np.isfinite(w)).sum())} NaN or infinite samples")
    if int(sample_rate) != sample_rate or sample_rate <= 0:
        raise CpckitError(f"mfcc sample_rate must be a positive integer, got {sample_rate}")
    if not 1 <= n_mfcc <= N_MELS:
        raise CpckitError(f"mfcc n_mfcc must be in [1, {N_MELS}], got {n_mfcc}")
    return w


def _mfcc(w: np.ndarray, sample_rate: int, n_mfcc: int, hop_ms: float, win_ms: float) -> np.ndarray:
    """``(n_mfcc, T)`` MFCCs with a ``win_ms`` Hann window every ``hop_ms``.

    A wave shorter than one window is zero-padded (centred frames), so it
    still has ``1 + S // hop`` frames.
    """
    if hop_ms <= 0 or win_ms <= 0:
        raise CpckitError(f"mfcc hop_ms and win_ms must be > 0, got {hop_ms} and {win_ms}")
    hop = max(1, round(sample_rate * hop_ms / 1000.0))
    win = max(2, round(sample_rate * win_ms / 1000.0))
    n_fft = 1 << (win - 1).bit_length()
    return features.mfcc(
        w, sample_rate, n_mfcc, n_fft=n_fft, hop_length=hop, win_length=win, n_mels=N_MELS
    )


def _delta(m: np.ndarray) -> np.ndarray:
    """First-order deltas over time (a 9-frame regression, shorter for short inputs)."""
    frames = m.shape[1]
    width = min(9, frames if frames % 2 else frames - 1)
    if width < 3:
        return np.zeros_like(m)
    return features.delta(m, width=width, axis=1)


def mfcc_frames(
    wave: Any, sample_rate: int, n_mfcc: int = 20, hop_ms: float = 10.0, win_ms: float = 25.0
) -> np.ndarray:
    """Frame-level MFCCs: one row per 10 ms hop (25 ms window by default).

    Args:
        wave: ``(S,)`` or ``(1, S)`` waveform (numpy or torch).
        sample_rate: samples per second.
        n_mfcc: coefficients per frame (1 to 40).
        hop_ms: hop between frames in milliseconds.
        win_ms: window length in milliseconds.

    Returns:
        ``(T, n_mfcc)`` float32, ``T = 1 + S // hop`` (centred frames).

    Raises:
        CpckitError: on an empty or non-finite wave, a bad sample rate or
            ``n_mfcc``.
    """
    w = _check_wave(wave, sample_rate, n_mfcc)
    return _mfcc(w, sample_rate, n_mfcc, hop_ms, win_ms).T.astype(np.float32)


def mfcc_features(wave: Any, sample_rate: int, n_mfcc: int = 20) -> np.ndarray:
    """Utterance-level MFCC statistics for a baseline probe.

    Concatenates, over the frames of :func:`mfcc_frames`, the mean and the
    standard deviation of the MFCCs and of their deltas.

    Args:
        wave: ``(S,)`` or ``(1, S)`` waveform (numpy or torch).
        sample_rate: samples per second.
        n_mfcc: coefficients per frame (1 to 40).

    Returns:
        ``(4 * n_mfcc,)`` float32: ``[mean(mfcc), std(mfcc), mean(delta), std(delta)]``.

    Raises:
        CpckitError: on an empty or non-finite wave, a bad sample rate or
            ``n_mfcc``.
    """
    w = _check_wave(wave, sample_rate, n_mfcc)
    m = _mfcc(w, sample_rate, n_mfcc, 10.0, 25.0)
    d = _delta(m)
    stats = [m.mean(axis=1), m.std(axis=1), d.mean(axis=1), d.std(axis=1)]
    return np.concatenate(stats).astype(np.float32)


def pixel_features(images: Any) -> np.ndarray:
    """Raw pixels as features: each image flattened to one vector.

    Args:
        images: ``(N, C, H, W)`` images (numpy or torch), e.g. ``(N, 3, 32, 32)``.

    Returns:
        ``(N, C * H * W)`` float32.

    Raises:
        CpckitError: when ``images`` is not 4-D.
    """
    if hasattr(images, "detach"):
        images = images.detach().cpu().numpy()
    arr = np.asarray(images, dtype=np.float32)
    if arr.ndim != 4:
        raise CpckitError(
            f"pixel_features images must have shape (N, C, H, W), got shape {tuple(arr.shape)}"
        )
    return arr.reshape(arr.shape[0], -1)
