"""MFCC and raw-pixel baseline features."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cpckit.errors import CpckitError
from cpckit.evaluation.mfcc import mfcc_features, mfcc_frames, pixel_features

SR = 16000


def _tone(freq: float, seconds: float = 0.5, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_eval_mfcc_frames_10ms_hop() -> None:
    frames = mfcc_frames(_tone(440.0), SR)
    assert frames.shape == (1 + 8000 // 160, 20)
    assert frames.dtype == np.float32 and np.isfinite(frames).all()
    # c0 follows the log energy: the same tone 40 dB quieter has a lower c0 in every frame
    quiet = mfcc_frames(0.01 * _tone(440.0), SR)
    assert (quiet[:, 0] < frames[:, 0]).all()
    assert mfcc_frames(_tone(440.0, sr=8000), 8000, n_mfcc=13).shape == (1 + 4000 // 80, 13)


def test_eval_mfcc_features_stats_layout() -> None:
    wave = _tone(440.0)
    feats = mfcc_features(wave, SR, n_mfcc=13)
    frames = mfcc_frames(wave, SR, n_mfcc=13).astype(np.float64)
    assert feats.shape == (4 * 13,) and feats.dtype == np.float32
    assert np.allclose(feats[:13], frames.mean(0), rtol=1e-4, atol=1e-3)
    assert np.allclose(feats[13:26], frames.std(0), rtol=1e-4, atol=1e-3)
    # A steady tone: deltas are near zero on average.
    assert np.abs(feats[26:39]).max() < 0.1 * np.abs(feats[:13]).max()


def test_eval_mfcc_features_tell_tones_apart_and_accept_torch() -> None:
    low = mfcc_features(_tone(300.0), SR)
    high = mfcc_features(torch.from_numpy(_tone(3000.0)).unsqueeze(0), SR)
    assert np.linalg.norm(low - high) > 1.0
    short = mfcc_features(_tone(300.0)[:100], SR)
    assert short.shape == (80,) and np.isfinite(short).all()
    short_frames = mfcc_frames(_tone(300.0)[:100], SR).astype(np.float64)
    assert np.allclose(short[:20], short_frames.mean(0), rtol=1e-4, atol=1e-3)


def test_eval_mfcc_guards() -> None:
    with pytest.raises(CpckitError, match="mfcc wave is empty"):
        mfcc_features(np.zeros(0), SR)
    with pytest.raises(CpckitError, match=r"shape \(S,\) or \(1, S\), got shape \(2, 10\)"):
        mfcc_frames(np.zeros((2, 10)), SR)
    with pytest.raises(CpckitError, match="sample_rate must be a positive integer, got 0"):
        mfcc_features(_tone(440.0), 0)
    with pytest.raises(CpckitError, match=r"n_mfcc must be in \[1, 40\], got 41"):
        mfcc_features(_tone(440.0), SR, n_mfcc=41)


def test_eval_mfcc_pixel_features() -> None:
    images = np.random.default_rng(0).random((5, 3, 8, 6)).astype(np.float32)
    feats = pixel_features(images)
    assert feats.shape == (5, 3 * 8 * 6) and feats.dtype == np.float32
    assert np.array_equal(feats[2], images[2].ravel())
    assert pixel_features(torch.from_numpy(images)).shape == (5, 144)
    with pytest.raises(CpckitError, match=r"\(N, C, H, W\), got shape \(3, 8, 6\)"):
        pixel_features(images[0])
