"""Synthetic audio: deterministic by seed, labelled by pitch."""

from __future__ import annotations

import torch

from cpckit.data.synthetic import SyntheticAudioDataset


def test_synthetic_audio_is_deterministic_and_labelled_by_pitch() -> None:
    a = SyntheticAudioDataset(20, sample_rate=8000, duration=0.25, seed=3)
    b = SyntheticAudioDataset(20, sample_rate=8000, duration=0.25, seed=3)
    assert torch.equal(a[7]["audio"], b[7]["audio"])
    assert a[7]["audio"].shape == (1, 2000)
    assert ((a.freqs >= 500) == (a.labels == 1)).all()
    assert (a.freqs >= 150).all() and (a.freqs <= 900).all()
    # the dominant frequency of a clip is its tone
    wave = a.waveform(4)
    spec = abs(torch.fft.rfft(torch.from_numpy(wave)))
    peak_hz = int(spec.argmax()) * 8000 / len(wave)
    assert abs(peak_hz - a.freqs[4]) <= 8000 / len(wave)
    c = SyntheticAudioDataset(20, sample_rate=8000, duration=0.25, seed=4)
    assert not torch.equal(a[7]["audio"], c[7]["audio"])
