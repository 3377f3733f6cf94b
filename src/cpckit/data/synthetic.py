"""Synthetic audio that needs no download: noisy sine tones, labelled by pitch."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ["SyntheticAudioDataset", "sine_tone"]


def check_below_nyquist(freq_max: float, sample_rate: int) -> None:
    """Raise ValueError unless ``freq_max`` is below the Nyquist frequency of ``sample_rate``."""
    if freq_max >= sample_rate / 2:
        raise ValueError(
            f"freq_max = {freq_max} Hz must be below the Nyquist frequency {sample_rate / 2} Hz"
        )


def sine_tone(
    freq: float, n_samples: int, sample_rate: int, noise_std: float, rng: np.random.Generator
) -> np.ndarray:
    """A unit-amplitude sine of ``freq`` Hz with a random phase plus Gaussian noise, float32."""
    phase = rng.uniform(0, 2 * np.pi)
    t = np.arange(n_samples, dtype=np.float64) / sample_rate
    wave = np.sin(2 * np.pi * freq * t + phase) + noise_std * rng.standard_normal(n_samples)
    return wave.astype(np.float32)


class SyntheticAudioDataset(Dataset[dict[str, torch.Tensor]]):
    """Sine tones of random frequency in ``[freq_min, freq_max]`` Hz plus noise.

    Label 0 below ``freq_split`` Hz and 1 at or above (the low/high-frequency
    task). Item ``i`` is a pure function of ``(seed, i)``: the same seed gives
    the same data in any order and any worker.

    Args:
        n: number of clips.
        sample_rate: Hz.
        duration: seconds per clip.
        noise_std: standard deviation of the added Gaussian noise.
        seed: data seed.
    """

    def __init__(
        self,
        n: int,
        *,
        sample_rate: int = 16000,
        duration: float = 0.64,
        noise_std: float = 0.1,
        freq_min: float = 150.0,
        freq_max: float = 900.0,
        freq_split: float = 500.0,
        seed: int = 0,
    ) -> None:
        if n < 1:
            raise ValueError(f"n = {n} must be >= 1")
        if not 0 < freq_min < freq_max:
            raise ValueError(f"need 0 < freq_min < freq_max, got {freq_min} and {freq_max}")
        check_below_nyquist(freq_max, sample_rate)
        self.n = n
        self.sample_rate = sample_rate
        self.n_samples = int(round(duration * sample_rate))
        self.noise_std = noise_std
        self.seed = seed
        rng = np.random.default_rng([seed, 0])
        self.freqs = rng.uniform(freq_min, freq_max, size=n)
        self.labels = (self.freqs >= freq_split).astype(np.int64)
        self.label_names = [f"< {freq_split:g} Hz", f">= {freq_split:g} Hz"]
        self.groups = np.full(n, -1, dtype=np.int64)

    def __len__(self) -> int:
        return self.n

    def waveform(self, i: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, 1, i])
        return sine_tone(self.freqs[i], self.n_samples, self.sample_rate, self.noise_std, rng)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        wave = torch.from_numpy(self.waveform(i)).unsqueeze(0)
        return {
            "audio": wave,
            "audio_length": torch.tensor(self.n_samples),
            "label": torch.tensor(int(self.labels[i])),
            "group": torch.tensor(-1),
        }
