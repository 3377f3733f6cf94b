"""Spectral features in numpy: mel filterbank, power spectrogram, decibels, MFCCs, deltas.

The log-mel encoder needs a mel filterbank and the MFCC baseline needs
MFCCs and their deltas. Both used to come from librosa, whose JIT
dependencies (numba, llvmlite) were most of the weight of an install for a
few dozen lines of arithmetic. These functions reproduce librosa's defaults
(``librosa.filters.mel``, ``librosa.feature.mfcc``, ``librosa.feature.delta``,
checked against librosa in ``tests/test_features.py``):

- mel scale: Slaney's (the Auditory Toolbox's), linear below 1 kHz and
  logarithmic above, not HTK's ``2595 log10(1 + f / 700)``; each triangle
  is divided by its width in Hz (``norm = "slaney"``: constant energy per
  band);
- power spectrogram: a periodic Hann window of ``win_length`` centred in
  ``n_fft``, frames centred on ``t * hop`` (``center=True``) with the wave
  zero-padded by ``n_fft // 2`` on both sides (librosa's ``pad_mode`` is
  ``"constant"`` since 0.10), so ``T = 1 + S // hop`` for even ``n_fft``;
- decibels: ``10 log10(max(S, 1e-10))`` against a reference of 1, floored
  80 dB below the loudest value (``power_to_db``'s defaults, which
  ``mfcc`` uses);
- cepstrum: DCT-II with orthonormal scaling over the mel bands;
- deltas: a Savitzky-Golay first derivative of a straight line fitted to
  ``width`` frames; at the first and last ``width // 2`` frames the line is
  the one fitted to the first or last ``width`` frames (scipy's ``interp``
  mode), so the edges repeat the nearest full-window slope.

Imports nothing of cpckit, so encoders and evaluation can both use it.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "delta",
    "hz_to_mel",
    "mel_filterbank",
    "mel_to_hz",
    "mfcc",
    "power_spectrogram",
    "power_to_db",
]

_F_SP = 200.0 / 3
"""Hz per mel in the linear part of Slaney's scale."""
_MIN_LOG_HZ = 1000.0
"""Where Slaney's scale turns logarithmic."""
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0
"""Log-Hz per mel above 1 kHz: 27 mels per factor 6.4."""


def hz_to_mel(frequencies: np.ndarray | float) -> np.ndarray:
    """Slaney's mel value of each frequency in Hz (linear to 1 kHz, then logarithmic)."""
    f = np.asarray(frequencies, dtype=np.float64)
    mels = f / _F_SP
    log_part = f >= _MIN_LOG_HZ
    return np.where(
        log_part, _MIN_LOG_MEL + np.log(np.maximum(f, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP, mels
    )


def mel_to_hz(mels: np.ndarray | float) -> np.ndarray:
    """The frequency in Hz of each of Slaney's mel values (the inverse of :func:`hz_to_mel`)."""
    m = np.asarray(mels, dtype=np.float64)
    freqs = _F_SP * m
    log_part = m >= _MIN_LOG_MEL
    return np.where(
        log_part,
        _MIN_LOG_HZ * np.exp(_LOGSTEP * (np.maximum(m, _MIN_LOG_MEL) - _MIN_LOG_MEL)),
        freqs,
    )


def mel_filterbank(
    sample_rate: float,
    n_fft: int,
    n_mels: int,
    fmin: float = 0.0,
    fmax: float | None = None,
    dtype: type[np.floating] = np.float64,
) -> np.ndarray:
    """Triangular mel filters over the ``1 + n_fft // 2`` bins of a real FFT.

    ``n_mels + 2`` points evenly spaced in mel from ``fmin`` to ``fmax``
    (``sample_rate / 2`` when ``None``) are the feet and peaks of the
    triangles; each triangle is divided by half its base in Hz, so a
    wide high band does not outweigh a narrow low one. A band narrower
    than one FFT bin can miss every bin and be all zeros, as in librosa
    (more bins, a higher ``fmax`` or fewer bands avoid it).

    The triangles are rounded to ``dtype`` before the norm, as librosa
    rounds them, so a float32 filterbank equals librosa's float32 default
    bit for bit (a model trained with librosa's filterbank sees the same
    input).

    Returns:
        ``(n_mels, 1 + n_fft // 2)`` weights of ``dtype``.

    Raises:
        ValueError: on a non-positive ``sample_rate``, ``n_fft`` or ``n_mels``,
            or unless ``0 <= fmin < fmax``.
    """
    if sample_rate <= 0 or n_fft < 1 or n_mels < 1:
        raise ValueError(
            f"mel filterbank needs sample_rate > 0, n_fft >= 1 and n_mels >= 1, got "
            f"sample_rate = {sample_rate}, n_fft = {n_fft}, n_mels = {n_mels}"
        )
    top = float(sample_rate) / 2 if fmax is None else float(fmax)
    if not 0.0 <= fmin < top:
        raise ValueError(f"mel filterbank needs 0 <= fmin < fmax, got fmin = {fmin}, fmax = {top}")
    fft_freqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sample_rate)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(top), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fft_freqs)
    lower = -ramps[:n_mels] / fdiff[:n_mels, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper)).astype(dtype)
    enorm = 2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels])
    return (weights * enorm[:, None]).astype(dtype)


def _hann(win_length: int, n_fft: int) -> np.ndarray:
    """A periodic Hann window of ``win_length`` samples, zero-padded to ``n_fft`` about its centre."""
    n = np.arange(win_length)
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / win_length)
    left = (n_fft - win_length) // 2
    return np.pad(window, (left, n_fft - win_length - left))


def power_spectrogram(
    wave: np.ndarray, n_fft: int, hop_length: int, win_length: int | None = None
) -> np.ndarray:
    """``|STFT|^2`` with centred frames: frame ``t`` is centred on sample ``t * hop_length``.

    The wave is zero-padded by ``n_fft // 2`` on both sides, so a wave
    shorter than one window still gives ``1 + S // hop_length`` frames
    (even ``n_fft``), all of them partly padding.

    Args:
        wave: ``(S,)`` samples, ``S >= 1``.
        n_fft: FFT length.
        hop_length: samples between frames.
        win_length: Hann window length (``<= n_fft``; ``n_fft`` when ``None``).

    Returns:
        ``(1 + n_fft // 2, T)`` float64 power.

    Raises:
        ValueError: on a wave that is not 1-D or is empty, or on a bad size.
    """
    w = np.asarray(wave, dtype=np.float64)
    win = n_fft if win_length is None else win_length
    if w.ndim != 1 or w.size == 0:
        raise ValueError(f"power spectrogram needs a non-empty (S,) wave, got shape {w.shape}")
    if n_fft < 2 or hop_length < 1 or not 1 <= win <= n_fft:
        raise ValueError(
            "power spectrogram needs n_fft >= 2, hop_length >= 1 and 1 <= win_length <= n_fft, "
            f"got n_fft = {n_fft}, hop_length = {hop_length}, win_length = {win}"
        )
    padded = np.pad(w, n_fft // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop_length]
    spectrum = np.fft.rfft(frames * _hann(win, n_fft), axis=-1)
    return np.asarray(np.abs(spectrum) ** 2).T


def power_to_db(power: np.ndarray, amin: float = 1e-10, top_db: float | None = 80.0) -> np.ndarray:
    """Decibels against a power of 1: ``10 log10(max(power, amin))``, floored ``top_db`` below the peak.

    ``amin`` keeps silent bins finite; the floor keeps the cepstrum of a
    clip with digital silence from being dominated by the silent frames.
    """
    if amin <= 0:
        raise ValueError(f"power_to_db needs amin > 0, got {amin}")
    db = 10.0 * np.log10(np.maximum(amin, np.asarray(power, dtype=np.float64)))
    if top_db is not None:
        if top_db < 0:
            raise ValueError(f"power_to_db needs top_db >= 0 or None, got {top_db}")
        db = np.maximum(db, db.max() - top_db)
    return db


def _dct_ortho(n: int) -> np.ndarray:
    """The ``(n, n)`` orthonormal DCT-II matrix: row ``k`` is ``cos(pi k (2 i + 1) / (2 n))``, scaled."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    basis = np.cos(np.pi * k * (2 * i + 1) / (2 * n)) * np.sqrt(2.0 / n)
    basis[0] /= np.sqrt(2.0)
    return basis


def mfcc(
    wave: np.ndarray,
    sample_rate: float,
    n_mfcc: int,
    *,
    n_fft: int,
    hop_length: int,
    win_length: int | None = None,
    n_mels: int = 40,
) -> np.ndarray:
    """Mel-frequency cepstral coefficients: DCT-II (ortho) of the log-mel power in dB.

    Returns:
        ``(n_mfcc, T)`` float64, ``T`` as in :func:`power_spectrogram`.

    Raises:
        ValueError: unless ``1 <= n_mfcc <= n_mels``, and as
            :func:`power_spectrogram` and :func:`mel_filterbank`.
    """
    if not 1 <= n_mfcc <= n_mels:
        raise ValueError(f"mfcc needs 1 <= n_mfcc <= n_mels = {n_mels}, got n_mfcc = {n_mfcc}")
    power = power_spectrogram(wave, n_fft, hop_length, win_length)
    mel_db = power_to_db(mel_filterbank(sample_rate, n_fft, n_mels) @ power)
    return np.asarray(_dct_ortho(n_mels)[:n_mfcc] @ mel_db)


def delta(data: np.ndarray, width: int = 9, axis: int = -1) -> np.ndarray:
    """First-order deltas along ``axis``: the slope of a line fitted to ``width`` frames.

    At frame ``t`` the least-squares slope over frames ``t - h .. t + h``
    (``h = width // 2``) is ``sum_k k x[t + k] / sum_k k^2``; the first and
    last ``h`` frames take the slope of the first or last full window.

    Raises:
        ValueError: unless ``width`` is odd, at least 3 and at most the
            length of ``axis``.
    """
    x = np.moveaxis(np.asarray(data, dtype=np.float64), axis, -1)
    frames = x.shape[-1]
    if width < 3 or width % 2 != 1 or width > frames:
        raise ValueError(
            f"delta width must be an odd integer in [3, {frames}] (the frames along axis {axis}), "
            f"got {width}"
        )
    half = width // 2
    taps = np.arange(-half, half + 1, dtype=np.float64)
    windows = np.lib.stride_tricks.sliding_window_view(x, width, axis=-1)
    inner = windows @ (taps / np.sum(taps**2))
    out = np.concatenate(
        [np.repeat(inner[..., :1], half, -1), inner, np.repeat(inner[..., -1:], half, -1)], axis=-1
    )
    return np.moveaxis(out, -1, axis)
