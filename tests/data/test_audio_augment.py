"""Time-domain audio augmentation: shapes, seeds, and what each transform changes."""

from __future__ import annotations

import math

import pytest
import torch

from cpckit.config import load_config
from cpckit.data.audio_augment import (
    TRANSFORMS,
    AudioAugment,
    add_noise,
    band_reject,
    make_audio_augment,
    pitch_shift,
    pitch_shift_keep_tempo,
    reverberate,
    time_dropout,
    time_stretch,
)
from cpckit.errors import ConfigError

SR = 8000


def _tone(freq: float, n: int = 4000) -> torch.Tensor:
    t = torch.arange(n, dtype=torch.float32) / SR
    return torch.sin(2 * math.pi * freq * t)


def _peak_hz(wave: torch.Tensor) -> float:
    spec = torch.fft.rfft(wave).abs()
    return float(torch.fft.rfftfreq(wave.shape[0], 1 / SR)[spec.argmax()])


def test_pitch_shift_moves_the_tone_by_the_semitones() -> None:
    up = pitch_shift(_tone(400.0), 12.0)
    assert up.shape[0] == 2000  # an octave up: half the samples (tempo moves too)
    assert abs(_peak_hz(up) - 800.0) < 10.0
    down = pitch_shift(_tone(400.0), -12.0)
    assert down.shape[0] == 8000 and abs(_peak_hz(down) - 200.0) < 5.0


def test_time_stretch_changes_the_length_and_keeps_the_pitch() -> None:
    faster = time_stretch(_tone(400.0), 2.0)
    assert faster.shape[0] == 2000 and abs(_peak_hz(faster) - 400.0) < 10.0
    slower = time_stretch(_tone(400.0), 0.8)
    assert slower.shape[0] == 5000 and abs(_peak_hz(slower) - 400.0) < 5.0


def test_pitch_shift_keeping_the_tempo_moves_the_tone_not_the_onset() -> None:
    up = pitch_shift_keep_tempo(_tone(400.0), 3.0)
    assert up.shape[0] == 4000  # length kept
    assert abs(_peak_hz(up) - 400.0 * 2 ** (3 / 12)) < 8.0
    assert float(up.square().mean().sqrt()) == pytest.approx(
        float(_tone(400.0).square().mean().sqrt()), rel=1e-4
    )
    # a tone that starts half-way starts half-way after the shift (speed would move it)
    wave = torch.cat([torch.zeros(2000), _tone(300.0, 2000)])
    for semitones in (-3.0, 3.0):
        energy = pitch_shift_keep_tempo(wave, semitones).reshape(40, 100).square().mean(1)
        onset = int((energy > 0.1 * energy.max()).nonzero()[0])
        assert onset in (19, 20), (semitones, onset)
    speed = pitch_shift(wave, 3.0).reshape(-1)
    assert speed.shape[0] < 3400  # the speed change, by contrast, shortens it


def test_augmenting_the_past_only_needs_a_pitch_that_keeps_time() -> None:
    with pytest.raises(ValueError, match="pitch_mode = shift"):
        AudioAugment(["pitch"], SR, apply_to="past")
    assert AudioAugment(["pitch"], SR, apply_to="past", pitch_mode="shift").apply_to == "past"
    assert AudioAugment(["noise"], SR, apply_to="past").apply_to == "past"
    from cpckit.build import check_config

    cfg = load_config(
        None,
        ["audio_augment.transforms=[pitch,noise]", "audio_augment.apply_to=past"],
    )
    with pytest.raises(ConfigError) as err:
        check_config(cfg)
    assert str(err.value) == (
        "audio_augment: audio_augment.apply_to = past needs transforms that keep time "
        "aligned: pitch with pitch_mode = speed changes the tempo (use pitch_mode = shift)"
    )


def test_band_reject_removes_the_band_energy_only() -> None:
    wave = _tone(1000.0) + _tone(300.0)
    out = band_reject(wave, SR, 800.0, 1200.0)
    spec = torch.fft.rfft(out).abs()
    freqs = torch.fft.rfftfreq(out.shape[0], 1 / SR)
    band = (freqs >= 800) & (freqs <= 1200)
    assert float(spec[band].max()) < 1e-3
    assert float(spec[(freqs - 300).abs() < 3].max()) > 1000.0  # the 300 Hz tone stays


def test_time_dropout_zeroes_the_stated_share() -> None:
    wave = torch.ones(8000)
    out = time_dropout(wave, 0.25, 160, torch.Generator().manual_seed(0))
    assert out.shape == wave.shape
    assert float((out == 0).float().mean()) == pytest.approx(0.25, abs=160 / 8000)


def test_noise_has_the_stated_snr() -> None:
    wave = _tone(500.0, 80000)
    noisy = add_noise(wave, 10.0, torch.Generator().manual_seed(0))
    snr = 10 * math.log10(float(wave.square().mean() / (noisy - wave).square().mean()))
    assert snr == pytest.approx(10.0, abs=0.2)


def test_reverb_keeps_length_and_rms_and_smears_an_impulse() -> None:
    wave = torch.zeros(4000)
    wave[100] = 1.0
    out = reverberate(wave, SR, 0.3, 1.0, torch.Generator().manual_seed(0))
    assert out.shape == wave.shape
    assert float(out.square().mean().sqrt()) == pytest.approx(float(wave.square().mean().sqrt()))
    assert float(out[200:2000].abs().sum()) > 0.1  # a tail after the impulse
    assert float(out[:100].abs().max()) < 1e-5  # causal: nothing before it


def test_augment_is_deterministic_by_seed_and_leaves_padding_zero() -> None:
    x = torch.randn(4, 1, 3200)
    lengths = torch.tensor([3200, 2000, 1000, 3200])
    for i, n in enumerate(lengths.tolist()):
        x[i, 0, n:] = 0
    make = lambda seed: AudioAugment(TRANSFORMS, SR, prob=1.0, seed=seed)  # noqa: E731
    a1, l1 = make(0)(x, lengths)
    a2, l2 = make(0)(x, lengths)
    a3, _ = make(1)(x, lengths)
    assert a1.shape == x.shape and l1.shape == lengths.shape
    torch.testing.assert_close(a1, a2)
    assert torch.equal(l1, l2)
    assert not torch.allclose(a1, a3)
    for i, n in enumerate(l1.tolist()):
        assert n <= 3200 and float(a1[i, 0, n:].abs().sum()) == 0.0


def test_config_section_builds_the_augment_and_checks_names() -> None:
    cfg = load_config(None, ["audio_augment.transforms=[pitch,noise]", "data.sample_rate=8000"])
    aug = make_audio_augment(cfg)
    assert aug is not None and aug.transforms == ("pitch", "noise")
    assert make_audio_augment(load_config(None, [])) is None
    with pytest.raises(ValueError, match="unknown"):
        AudioAugment(["echo"], SR)


def test_the_configured_augmentation_draws_from_the_per_batch_seed() -> None:
    """Training reseeds torch before each batch: the same batch seed gives the same draws."""
    from cpckit.config import load_config
    from cpckit.data.audio_augment import make_audio_augment
    from cpckit.training.seeding import seed_batch

    cfg = load_config(None, ["audio_augment.transforms=[noise,timedrop]", "audio_augment.prob=1.0"])
    augment = make_audio_augment(cfg)
    assert augment is not None and augment.generator is None
    audio = torch.randn(3, 1, 800, generator=torch.Generator().manual_seed(1))
    seed_batch(0, 0, 2, 5)
    first, _ = augment(audio)
    seed_batch(0, 0, 0, 0)
    other, _ = augment(audio)
    seed_batch(0, 0, 2, 5)  # epoch 2, batch 5 again, as a resumed run draws it
    again, _ = augment(audio)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    seed_batch(0, 1, 2, 5)  # another DDP rank, same batch
    rank1, _ = augment(audio)
    assert not torch.equal(first, rank1)
