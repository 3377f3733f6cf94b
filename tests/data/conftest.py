"""Small audio files for the data tests (never the real datasets)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


def make_sine(freq: float, sample_rate: int, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    """A float32 sine of ``freq`` Hz."""
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture
def sine() -> Callable[..., np.ndarray]:
    """``sine(freq, sample_rate, seconds, amplitude=0.5)`` -> float32 waveform."""
    return make_sine


@pytest.fixture
def write_audio() -> Callable[..., Path]:
    """``write_audio(path, seconds=..., rate=..., freq=..., channels=1, **soundfile kwargs)``."""

    def write(
        path: Path,
        seconds: float = 0.5,
        rate: int = 8000,
        freq: float = 440.0,
        channels: int = 1,
        **kwargs: object,
    ) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        wave = make_sine(freq, rate, seconds)
        data = wave if channels == 1 else np.stack([wave] * channels, axis=1)
        sf.write(path, data, rate, **kwargs)  # type: ignore[arg-type]
        return path

    return write


@pytest.fixture
def fsdd_folder(tmp_path: Path, write_audio: Callable[..., Path]) -> Path:
    """A folder of FSDD-style names: digits 0-2, speakers ann/bob/cy, two takes, 8 kHz."""
    root = tmp_path / "recordings"
    for d in range(3):
        for s, speaker in enumerate(("ann", "bob", "cy")):
            for take in range(2):
                seconds = 0.25 + 0.05 * (d + s + take)
                write_audio(root / f"{d}_{speaker}_{take}.wav", seconds, 8000, 200 + 100 * d)
    return root
