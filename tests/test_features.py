"""Spectral features against librosa's defaults, and their own guards.

librosa is a test dependency only (``pip install '.[test]'``): these tests
are skipped without it. Everything is compared in float64 (librosa's
``dtype=np.float64``), where the two implementations agree to rounding.
"""

from __future__ import annotations

import warnings
from types import ModuleType

import numpy as np
import pytest

from cpckit import features

FILTERBANKS = [
    # sample_rate, n_fft, n_mels, fmin, fmax
    (16000, 400, 40, 0.0, None),  # the log-mel encoder's default
    (16000, 512, 40, 0.0, None),  # the MFCC baseline at 16 kHz
    (8000, 256, 40, 0.0, None),  # the MFCC baseline at 8 kHz
    (16000, 64, 80, 0.0, None),  # more bands than bins: 32 bands are empty
    (22050, 2048, 128, 0.0, 8000.0),
    (16000, 400, 80, 20.0, 7600.0),
    (44100, 1024, 64, 300.0, None),
    (8000, 255, 20, 50.0, 3000.0),  # odd n_fft
]

MFCC_ATOL = 1e-9
"""dB; the largest difference seen is about 2e-13 (rounding of the FFT and the DCT)."""
DELTA_ATOL = 1e-9
"""dB per frame; the largest difference seen is about 1e-14."""


@pytest.fixture(scope="module")
def librosa() -> ModuleType:
    """librosa, imported once (its first import compiles for a few seconds)."""
    return pytest.importorskip("librosa")


@pytest.mark.parametrize(("sr", "n_fft", "n_mels", "fmin", "fmax"), FILTERBANKS)
def test_mel_filterbank_matches_librosa(
    librosa: ModuleType, sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # librosa warns about empty bands
        expected = librosa.filters.mel(
            sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, dtype=np.float64
        )
        expected32 = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    got = features.mel_filterbank(sr, n_fft, n_mels, fmin, fmax)
    assert got.shape == (n_mels, 1 + n_fft // 2) and got.dtype == np.float64
    assert np.abs(got - expected).max() <= 1e-12
    # what the log-mel encoder registers: librosa's float32 default, bit for bit
    got32 = features.mel_filterbank(sr, n_fft, n_mels, fmin, fmax, dtype=np.float32)
    assert got32.dtype == np.float32 and np.array_equal(got32, expected32)


def _wave(n: int, seed: int = 0) -> np.ndarray:
    """Noise over a chirp, with a stretch of digital silence when long enough (the dB floor)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    w = 0.3 * rng.standard_normal(n) + np.sin(0.02 * t + 1e-5 * t**2)
    if n >= 4000:
        w[n // 3 : n // 3 + 1600] = 0.0
    return w


LENGTHS = [1, 57, 200, 399, 400, 401, 513, 1601, 8000]
"""Samples: shorter than one hop, than one 25 ms window (400 at 16 kHz), about one, many."""


@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("sr", [16000, 8000])
def test_mfcc_and_delta_match_librosa(librosa: ModuleType, n: int, sr: int) -> None:
    hop, win = sr // 100, sr // 40
    n_fft = 1 << (win - 1).bit_length()
    w = _wave(n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # n_fft longer than the wave, empty mel bands
        expected = librosa.feature.mfcc(
            y=w,
            sr=sr,
            n_mfcc=20,
            n_fft=n_fft,
            win_length=win,
            hop_length=hop,
            n_mels=40,
            dtype=np.float64,
        )
    got = features.mfcc(w, sr, 20, n_fft=n_fft, hop_length=hop, win_length=win, n_mels=40)
    assert got.shape == expected.shape == (20, 1 + n // hop)
    assert np.abs(got - expected).max() <= MFCC_ATOL

    frames = got.shape[1]
    for width in (3, 5, 9):
        if width <= frames:
            d_expected = librosa.feature.delta(expected, width=width, axis=1)
            d_got = features.delta(expected, width=width, axis=1)
            assert np.abs(d_got - d_expected).max() <= DELTA_ATOL


def test_power_spectrogram_and_db_match_librosa(librosa: ModuleType) -> None:
    w = _wave(5000, seed=1)
    expected = np.abs(librosa.stft(w, n_fft=512, hop_length=160, win_length=400)) ** 2
    got = features.power_spectrogram(w, 512, 160, 400)
    assert got.shape == expected.shape
    assert np.allclose(got, expected, rtol=1e-10, atol=1e-12)
    assert np.allclose(features.power_to_db(got), librosa.power_to_db(expected), atol=1e-9)


def test_mel_scale_is_linear_below_1khz_and_inverts() -> None:
    assert features.hz_to_mel(1000.0) == pytest.approx(15.0)
    assert features.hz_to_mel(500.0) == pytest.approx(7.5)
    f = np.array([0.0, 100.0, 999.0, 1000.0, 4000.0, 11025.0])
    assert np.allclose(features.mel_to_hz(features.hz_to_mel(f)), f)


def test_delta_of_a_line_is_its_slope_everywhere() -> None:
    line = np.stack([3.0 * np.arange(12), -0.5 * np.arange(12) + 7.0])
    assert np.allclose(features.delta(line, width=5), [[3.0] * 12, [-0.5] * 12])
    assert np.allclose(features.delta(line.T, width=9, axis=0), [[3.0, -0.5]] * 12)


def test_power_to_db_floor() -> None:
    db = features.power_to_db(np.array([0.0, 1e-12, 1.0, 100.0]))
    assert np.allclose(db, [-60.0, -60.0, 0.0, 20.0])  # 80 dB below the 20 dB peak
    assert np.allclose(features.power_to_db(np.array([0.0, 1.0]), top_db=None), [-100.0, 0.0])


def test_guards_name_the_value() -> None:
    with pytest.raises(ValueError, match=r"odd integer in \[3, 4\].*got 5"):
        features.delta(np.zeros((2, 4)), width=5)
    with pytest.raises(ValueError, match="got 4"):
        features.delta(np.zeros((2, 8)), width=4)
    with pytest.raises(ValueError, match="fmin = 9000.0, fmax = 8000.0"):
        features.mel_filterbank(16000, 400, 40, fmin=9000.0)
    with pytest.raises(ValueError, match=r"non-empty \(S,\) wave, got shape \(0,\)"):
        features.power_spectrogram(np.zeros(0), 512, 160)
    with pytest.raises(ValueError, match="win_length = 600"):
        features.power_spectrogram(np.zeros(10), 512, 160, 600)
    with pytest.raises(ValueError, match="n_mfcc = 41"):
        features.mfcc(np.zeros(10), 16000, 41, n_fft=512, hop_length=160)
    with pytest.raises(ValueError, match="amin > 0"):
        features.power_to_db(np.ones(3), amin=0.0)
