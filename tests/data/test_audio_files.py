"""Finding, decoding, mixing down and resampling audio files, on small files written here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from cpckit.data.audio_files import (
    NonFiniteAudioError,
    find_audio_files,
    normalize_waveform,
    read_audio,
    resampled_length,
    to_mono,
)
from cpckit.errors import DataError

WriteAudio = Callable[..., Path]


def _peak_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[spectrum.argmax()])


def test_read_audio_resamples_8k_second_to_16000_samples(tmp_path: Path, write_audio: WriteAudio):
    path = write_audio(tmp_path / "a.wav", seconds=1.0, rate=8000, freq=440.0)
    x = read_audio(path, 16000)
    assert x.dtype == np.float32 and x.shape == (16000,)
    assert _peak_hz(x, 16000) == pytest.approx(440.0, abs=1.0)


@pytest.mark.parametrize("rate", [8000, 22050, 16000, 44100])
def test_read_audio_length_and_frequency_for_each_rate(
    tmp_path: Path, write_audio: WriteAudio, rate: int
):
    path = write_audio(tmp_path / f"r{rate}.flac", seconds=0.5, rate=rate, freq=1000.0)
    x = read_audio(path, 16000)
    assert x.shape == (resampled_length(int(round(0.5 * rate)), rate, 16000),) == (8000,)
    assert _peak_hz(x, 16000) == pytest.approx(1000.0, abs=2.0)


def test_resampled_length_matches_soxr_rounding():
    assert resampled_length(7, 22050, 16000) == 5  # 5.08 -> 5
    assert resampled_length(1001, 44100, 16000) == 363  # 363.17 -> 363
    assert resampled_length(3, 8000, 16000) == 6


def test_stereo_file_is_mixed_down_to_the_channel_mean(tmp_path: Path, sine):
    left = sine(300.0, 16000, 0.25)
    right = np.zeros_like(left)
    path = tmp_path / "st.wav"
    sf.write(path, np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    x = read_audio(path, 16000)
    np.testing.assert_allclose(x, left / 2, atol=1e-6)
    assert to_mono(np.ones((4, 3), np.float32)).shape == (4,)


def test_normalize_waveform_zero_mean_unit_variance_and_silence_stays_zero():
    x = normalize_waveform(np.array([1.0, 2.0, 3.0, 6.0], np.float32))
    assert abs(x.mean()) < 1e-6 and x.std() == pytest.approx(1.0, abs=1e-5)
    assert np.all(normalize_waveform(np.zeros(5, np.float32)) == 0)


def test_files_are_found_recursively_sorted_and_hidden_ones_ignored(
    tmp_path: Path, write_audio: WriteAudio
):
    for rel in ("b/2.wav", "a/1.flac", "a/c/3.WAV", ".hidden/4.wav", "a/.5.wav", "a/notes.txt"):
        if rel.endswith("txt"):
            (tmp_path / rel).write_text("x")
        else:
            write_audio(tmp_path / rel, seconds=0.1)
    assert find_audio_files(tmp_path) == ["a/1.flac", "a/c/3.WAV", "b/2.wav"]
    assert find_audio_files(tmp_path, ("flac",)) == ["a/1.flac"]


def _float_wav(path: Path, values: list[float], rate: int = 8000, subtype: str = "FLOAT") -> Path:
    """A mono float wav of 800 samples of a tone, with ``values`` written from sample 100 on."""
    wave = (0.3 * np.sin(np.arange(800) / 5.0)).astype(np.float64)
    wave[100 : 100 + len(values)] = values
    sf.write(path, wave, rate, subtype=subtype)
    return path


def test_read_audio_refuses_nan_samples_naming_the_file_the_counts_and_the_first_frame(
    tmp_path: Path,
):
    path = _float_wav(tmp_path / "nan.wav", [np.nan, 0.1, np.nan])
    with pytest.raises(NonFiniteAudioError) as err:
        read_audio(path, 16000)
    assert str(err.value) == (
        f"audio file {path} holds 2 NaN sample value(s) of 800 (the first in frame 100, at "
        "0.0125 s); only finite samples can be trained on: repair or re-export the file, or "
        "remove it"
    )
    assert err.value.path == str(path) and err.value.reason.startswith("holds 2 NaN")
    assert isinstance(err.value, DataError)


def test_read_audio_refuses_infinite_samples_of_a_double_stereo_file(tmp_path: Path):
    path = tmp_path / "inf.wav"
    wave = np.zeros((400, 2))
    wave[7, 1], wave[9, 0], wave[20, 0] = np.inf, -np.inf, np.nan
    sf.write(path, wave, 16000, subtype="DOUBLE")
    with pytest.raises(NonFiniteAudioError) as err:
        read_audio(path)
    assert err.value.reason.startswith(
        "holds 1 NaN and 2 infinite sample value(s) of 800 (the first in frame 7, at 0.0004375 s)"
    )


def test_finite_float_files_read_as_before(tmp_path: Path):
    path = _float_wav(tmp_path / "ok.wav", [1.0, -1.0], subtype="DOUBLE")
    x = read_audio(path)
    assert x.shape == (800,) and np.isfinite(x).all() and x[100] == 1.0
