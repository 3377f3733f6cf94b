"""Time-domain audio augmentation of CPC training windows (torch only).

The transforms of WavAugment as used for CPC by Kharitonov et al. 2021
("Data augmenting contrastive learning of speech representations in the
time domain"): pitch, reverberation, band-reject filtering, additive noise
and time dropout. Each training window gets one draw of every transform,
applied to the whole window, so the past a context summarises and the
future it predicts are changed alike: the model cannot use a cue the
augmentation varies (the speaker's pitch, the room, the channel) to tell a
positive from the negatives.

Only the valid samples of a window (``audio_length``) are transformed; the
padding stays zero. ``pitch`` with ``pitch_mode = "speed"`` resamples the
window (pitch and tempo move together, as ``sox speed``), so it can change
the valid length; :meth:`AudioAugment.__call__` returns the new lengths.
With ``pitch_mode = "shift"`` the tempo is kept (a phase-vocoder time
stretch, then the resampling: ``sox pitch``), so every sample stays where
it was in time.

With ``apply_to = "past"`` (WavAugment's finding: augmenting only the
segments the prediction is made from works better than augmenting the
future too) the training step encodes the clean window as well and scores
the predictions, made from the augmented window's context, against the
clean window's latents (:meth:`cpckit.training.module.CPCLightningModule.compute_loss`);
that needs transforms that keep time aligned, so ``pitch`` must then use
``pitch_mode = "shift"``.

Configured by the ``audio_augment`` section (``transforms`` is the list of
names, applied in the order of :data:`TRANSFORMS`); applied to training
batches only, never to the probes' clips.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor

if TYPE_CHECKING:
    from cpckit.config import Config

__all__ = [
    "TRANSFORMS",
    "AudioAugment",
    "add_noise",
    "band_reject",
    "make_audio_augment",
    "pitch_shift",
    "pitch_shift_keep_tempo",
    "reverberate",
    "time_dropout",
    "time_stretch",
]

TRANSFORMS = ("pitch", "reverb", "bandreject", "noise", "timedrop")
"""Transform names, in the order they are applied."""


def _uniform(gen: torch.Generator | None, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=gen))


def pitch_shift(wave: Tensor, semitones: float) -> Tensor:
    """Resample ``wave (S,)`` so its pitch moves by ``semitones`` (and its tempo with it).

    A shift up gives ``S / 2**(semitones / 12)`` samples, a shift down more;
    linear interpolation between samples.
    """
    factor = 2.0 ** (semitones / 12.0)
    n = wave.shape[0]
    n_out = max(1, int(round(n / factor)))
    pos = torch.arange(n_out, dtype=wave.dtype, device=wave.device) * factor
    left = pos.floor().long().clamp_max(n - 1)
    right = (left + 1).clamp_max(n - 1)
    frac = pos - left.to(wave.dtype)
    return wave[left] * (1 - frac) + wave[right] * frac


def time_stretch(wave: Tensor, rate: float, n_fft: int = 256, hop: int = 64) -> Tensor:
    """``wave (S,)`` played ``rate`` times as fast, pitch kept: about ``S / rate`` samples.

    A phase vocoder (Flanagan and Golden 1966; the method of
    ``librosa.effects.time_stretch``): the STFT is read at fractional frames
    ``0, rate, 2 rate, ...``, magnitudes interpolated between neighbouring
    frames, phases advanced by each bin's measured frequency.
    """
    n = wave.shape[0]
    if n < n_fft:  # too short for one frame: a plain resampling
        return pitch_shift(wave, 12.0 * math.log2(rate))
    window = torch.hann_window(n_fft, dtype=wave.dtype, device=wave.device)
    spec = torch.stft(wave, n_fft, hop, window=window, center=True, return_complex=True)
    n_frames = spec.shape[1]
    steps = torch.arange(0.0, n_frames - 1, rate, dtype=wave.dtype, device=wave.device)
    left = steps.floor().long()
    frac = (steps - left.to(wave.dtype)).unsqueeze(0)
    s0, s1 = spec[:, left], spec[:, left + 1]
    mag = s0.abs() * (1 - frac) + s1.abs() * frac
    expected = torch.linspace(0, math.pi * hop, spec.shape[0], dtype=wave.dtype, device=wave.device)
    dphase = s1.angle() - s0.angle() - expected.unsqueeze(1)
    dphase = dphase - 2 * math.pi * torch.round(dphase / (2 * math.pi))
    phase = torch.cumsum(expected.unsqueeze(1) + dphase, dim=1)
    phase = torch.cat([spec[:, :1].angle(), phase[:, :-1] + spec[:, :1].angle()], dim=1)
    out_len = max(1, int(round(n / rate)))
    return torch.istft(
        torch.polar(mag, phase), n_fft, hop, window=window, center=True, length=out_len
    )


def pitch_shift_keep_tempo(wave: Tensor, semitones: float) -> Tensor:
    """``wave (S,)`` with its pitch moved by ``semitones`` and its length and timing kept.

    :func:`time_stretch` by ``1 / f`` (``f = 2**(semitones / 12)``: the window
    grows to about ``f S`` samples), then :func:`pitch_shift` by the same
    ``f`` back to ``S`` samples; the result is cut or zero-padded to exactly ``S``.
    """
    n = wave.shape[0]
    factor = 2.0 ** (semitones / 12.0)
    out = pitch_shift(time_stretch(wave, 1.0 / factor), semitones)[:n]
    if out.shape[0] < n:
        out = torch.cat([out, out.new_zeros(n - out.shape[0])])
    return out * (_rms(wave) / _rms(out).clamp_min(1e-8))


def reverberate(
    wave: Tensor, sample_rate: int, rt60: float, wet: float, gen: torch.Generator | None = None
) -> Tensor:
    """``wave (S,)`` convolved with a synthetic room response, same length and RMS.

    The response is Gaussian noise under an exponential decay that falls by
    60 dB in ``rt60`` seconds (a diffuse tail), after a unit direct path;
    ``wet`` in [0, 1] scales the tail.
    """
    n_ir = max(2, int(rt60 * sample_rate))
    t = torch.arange(n_ir, dtype=wave.dtype, device=wave.device) / sample_rate
    tail = torch.randn(n_ir, generator=gen, dtype=wave.dtype).to(wave.device)
    ir = tail * torch.exp(-6.9078 * t / rt60) * wet * math.sqrt(1.0 / n_ir) * 4.0
    ir[0] = 1.0
    n = wave.shape[0]
    size = 1 << (n + n_ir - 1).bit_length()
    out = torch.fft.irfft(torch.fft.rfft(wave, size) * torch.fft.rfft(ir, size), size)[:n]
    return out * (_rms(wave) / _rms(out).clamp_min(1e-8))


def band_reject(wave: Tensor, sample_rate: int, low_hz: float, high_hz: float) -> Tensor:
    """``wave (S,)`` with the band ``[low_hz, high_hz]`` removed (zeroed FFT bins)."""
    n = wave.shape[0]
    spec = torch.fft.rfft(wave)
    freqs = torch.fft.rfftfreq(n, 1.0 / sample_rate).to(wave.device)
    spec = spec * ~((freqs >= low_hz) & (freqs <= high_hz))
    return torch.fft.irfft(spec, n)


def add_noise(wave: Tensor, snr_db: float, gen: torch.Generator | None = None) -> Tensor:
    """``wave (S,)`` plus white Gaussian noise ``snr_db`` dB below its power."""
    noise = torch.randn(wave.shape, generator=gen, dtype=wave.dtype).to(wave.device)
    scale = _rms(wave) * 10.0 ** (-snr_db / 20.0)
    return wave + noise * scale


def time_dropout(
    wave: Tensor, share: float, chunk: int, gen: torch.Generator | None = None
) -> Tensor:
    """``wave (S,)`` with ``round(share * S / chunk)`` random chunks of ``chunk`` samples zeroed.

    The chunks are the window cut into consecutive pieces of ``chunk``
    samples, so they do not overlap and the share zeroed is ``share`` up to
    one chunk.
    """
    n = wave.shape[0]
    n_chunks = max(1, -(-n // chunk))
    k = int(round(share * n / chunk))
    if k <= 0:
        return wave
    drop = torch.randperm(n_chunks, generator=gen)[:k]
    keep = torch.ones(n_chunks, dtype=torch.bool)
    keep[drop] = False
    mask = keep.repeat_interleave(chunk)[:n].to(wave.device)
    return wave * mask


def _rms(wave: Tensor) -> Tensor:
    return wave.square().mean().sqrt()


class AudioAugment:
    """A random chain of :data:`TRANSFORMS` applied to each window of a batch.

    Args:
        transforms: names from :data:`TRANSFORMS` (applied in that order).
        sample_rate: the audio's rate in Hz.
        prob: probability that each named transform is applied to a window.
        pitch_semitones: pitch moves by a uniform draw in ``[-x, x]`` semitones.
        pitch_mode: ``speed`` (tempo moves with the pitch) or ``shift`` (tempo kept).
        apply_to: ``both`` (the whole window) or ``past`` (the context's input
            only: the training step scores against the clean window's latents).
        reverb_rt60: reverberation time drawn in ``[0.05, x]`` seconds.
        bandreject_octaves: width of the rejected band (its centre is drawn
            log-uniformly between 100 Hz and 0.9 x Nyquist).
        noise_snr_db: ``(low, high)`` signal-to-noise ratio in dB.
        timedrop_share: share of each window zeroed by time dropout.
        timedrop_ms: length of each dropped chunk.
        seed: seed of the augmentation's own generator (None: torch's global one).

    Shape:
        audio: ``(B, 1, S)``, lengths: ``(B,)`` -> the same shapes
    """

    def __init__(
        self,
        transforms: Sequence[str],
        sample_rate: int,
        *,
        prob: float = 0.5,
        pitch_semitones: float = 3.0,
        pitch_mode: str = "speed",
        apply_to: str = "both",
        reverb_rt60: float = 0.4,
        bandreject_octaves: float = 0.5,
        noise_snr_db: tuple[float, float] = (5.0, 20.0),
        timedrop_share: float = 0.1,
        timedrop_ms: float = 20.0,
        seed: int | None = None,
    ) -> None:
        unknown = [t for t in transforms if t not in TRANSFORMS]
        if unknown:
            raise ValueError(
                f"audio augmentation {unknown[0]!r} is unknown; valid: {', '.join(TRANSFORMS)}"
            )
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"audio augmentation prob = {prob} must be in [0, 1]")
        if pitch_mode not in ("speed", "shift"):
            raise ValueError(f"pitch_mode = {pitch_mode!r}: expected 'speed' or 'shift'")
        if apply_to not in ("both", "past"):
            raise ValueError(f"apply_to = {apply_to!r}: expected 'both' or 'past'")
        self.transforms = tuple(t for t in TRANSFORMS if t in transforms)
        if apply_to == "past" and "pitch" in self.transforms and pitch_mode == "speed":
            raise ValueError(
                "audio_augment.apply_to = past needs transforms that keep time aligned: "
                "pitch with pitch_mode = speed changes the tempo (use pitch_mode = shift)"
            )
        self.pitch_mode = pitch_mode
        self.apply_to = apply_to
        self.sample_rate = sample_rate
        self.prob = prob
        self.pitch_semitones = pitch_semitones
        self.reverb_rt60 = reverb_rt60
        self.bandreject_octaves = bandreject_octaves
        self.noise_snr_db = (float(noise_snr_db[0]), float(noise_snr_db[1]))
        self.timedrop_share = timedrop_share
        self.timedrop_chunk = max(1, int(timedrop_ms * sample_rate / 1000))
        self.generator: torch.Generator | None = None
        if seed is not None:
            self.generator = torch.Generator().manual_seed(seed)

    def __repr__(self) -> str:
        return f"AudioAugment({', '.join(self.transforms)}; p = {self.prob})"

    def one(self, wave: Tensor, gen: torch.Generator | None = None) -> Tensor:
        """One window ``(S,)`` of valid samples -> its augmented samples (length may change)."""
        gen = gen if gen is not None else self.generator
        sr = self.sample_rate
        for name in self.transforms:
            if float(torch.rand((), generator=gen)) >= self.prob:
                continue
            if name == "pitch":
                s = self.pitch_semitones
                shift = pitch_shift if self.pitch_mode == "speed" else pitch_shift_keep_tempo
                wave = shift(wave, _uniform(gen, -s, s))
            elif name == "reverb":
                rt60 = _uniform(gen, 0.05, max(0.05, self.reverb_rt60))
                wave = reverberate(wave, sr, rt60, _uniform(gen, 0.3, 1.0), gen)
            elif name == "bandreject":
                nyquist = sr / 2
                lo, hi = math.log(100.0), math.log(0.9 * nyquist)
                centre = math.exp(_uniform(gen, lo, hi))
                half = 2.0 ** (self.bandreject_octaves / 2)
                wave = band_reject(wave, sr, centre / half, min(nyquist, centre * half))
            elif name == "noise":
                wave = add_noise(wave, _uniform(gen, *self.noise_snr_db), gen)
            else:
                wave = time_dropout(wave, self.timedrop_share, self.timedrop_chunk, gen)
        return wave

    def __call__(
        self, audio: Tensor, lengths: Tensor | None = None, gen: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        b, _, s = audio.shape
        if lengths is None:
            lengths = torch.full((b,), s, dtype=torch.long)
        out = torch.zeros_like(audio)
        new_lengths = lengths.clone()
        for i in range(b):
            n = int(lengths[i])
            wave = self.one(audio[i, 0, :n], gen)[:s]
            out[i, 0, : wave.shape[0]] = wave
            new_lengths[i] = wave.shape[0]
        return out, new_lengths


def make_audio_augment(cfg: Config) -> AudioAugment | None:
    """The training windows' augmentation of a config (``audio_augment``), or None.

    It draws from torch's global generator, which training reseeds before
    every batch from ``(seed, rank, epoch, batch)``
    (:class:`cpckit.training.seeding.StepSeeds`): a resumed run augments as
    the uninterrupted run did, and the processes of a DDP run draw apart.
    """
    a = cfg.audio_augment
    if not a.transforms:
        return None
    return AudioAugment(
        a.transforms,
        cfg.data.sample_rate,
        prob=a.prob,
        pitch_semitones=a.pitch_semitones,
        pitch_mode=a.pitch_mode,
        apply_to=a.apply_to,
        reverb_rt60=a.reverb_rt60,
        bandreject_octaves=a.bandreject_octaves,
        noise_snr_db=(a.noise_snr_min, a.noise_snr_max),
        timedrop_share=a.timedrop_share,
        timedrop_ms=a.timedrop_ms,
    )
