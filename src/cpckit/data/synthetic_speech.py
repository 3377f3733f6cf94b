"""Synthetic "speech": words (sequences of vowel-like formant patterns) said by speakers.

Content and speaker vary independently, so a representation can be checked
for what the FSDD benchmark asks of CPC: a probe for the word fit on some
speakers has to work on speakers it never saw.

- A *word* is a sequence of vowels, each a pair of formant frequencies
  (F1, F2) held for a segment, with smooth transitions. The default words
  use the same vowels in different orders, so a bag of frames (the mean of
  per-frame features) does not tell them apart: the order must be encoded.
- A *speaker* is a pitch (a harmonic source at ``f0``), a vocal-tract scale
  of the formants (a few per cent), a loudness and a channel colouring (a
  spectral tilt), plus a little noise.

Everything is numpy, seeded; :func:`synthetic_speech` returns waveforms
with word and speaker codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import permutations

import numpy as np

__all__ = ["VOWELS", "SyntheticSpeech", "default_words", "synthetic_speech"]

VOWELS = ((300.0, 2300.0), (700.0, 1200.0), (400.0, 800.0), (550.0, 1800.0))
"""(F1, F2) in Hz of the vowels words are made of (roughly /i/, /a/, /u/, /e/)."""


def default_words(length: int = 3) -> list[tuple[int, ...]]:
    """Every order of the first ``length`` vowels: the words share one bag of vowels."""
    return list(permutations(range(length)))


@dataclass
class SyntheticSpeech:
    """Waveforms ``(N, S)`` float32 (zero after ``lengths``) and ``words`` / ``speakers`` codes."""

    waves: np.ndarray
    lengths: np.ndarray
    words: np.ndarray
    speakers: np.ndarray
    sample_rate: int


def _speak(
    word: tuple[int, ...],
    f0: float,
    scale: float,
    tilt: float,
    gain: float,
    noise: float,
    n: int,
    sample_rate: int,
    rng: np.random.Generator,
) -> np.ndarray:
    t = np.arange(n) / sample_rate
    seg = n / len(word)
    # formant tracks: each vowel held for a segment, with a linear glide between
    pos = np.clip((np.arange(n) - seg / 2) / seg, 0, len(word) - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(word) - 1)
    frac = np.clip((pos - lo - 0.7) / 0.3, 0.0, 1.0)[:, None]
    vowels = np.asarray([VOWELS[v] for v in word])
    formants = (vowels[lo] * (1 - frac) + vowels[hi] * frac) * scale  # (n, 2)
    vibrato = 1.0 + 0.02 * np.sin(2 * np.pi * rng.uniform(3, 6) * t)
    phase = 2 * np.pi * np.cumsum(f0 * vibrato) / sample_rate
    out = np.zeros(n)
    nyquist = sample_rate / 2
    for h in range(1, int(nyquist * 0.9 / f0) + 1):
        freq = h * f0 * vibrato
        env = sum(
            np.exp(-0.5 * ((freq - formants[:, j]) / (60.0 + 0.08 * formants[:, j])) ** 2)
            for j in range(2)
        )
        colour = (freq / 1000.0) ** tilt
        out += env * colour * np.sin(h * phase)
    ramp = np.minimum(1.0, np.minimum(np.arange(n), n - 1 - np.arange(n)) / (0.02 * sample_rate))
    out = out * ramp / (np.abs(out).max() + 1e-8)
    return gain * out + gain * noise * rng.standard_normal(n)


def synthetic_speech(
    n_speakers: int = 6,
    per_word: int = 10,
    *,
    words: list[tuple[int, ...]] | None = None,
    duration: float = 0.5,
    sample_rate: int = 8000,
    seed: int = 0,
) -> SyntheticSpeech:
    """``per_word`` utterances of every word by every speaker (in a shuffled order).

    Each speaker draws its pitch (70 to 300 Hz), formant scale (0.9 to
    1.1), loudness (0.05 to 1), spectral tilt (-2 to 1) and noise level (1 to
    10 % of the peak) once; each
    utterance varies the pitch by a few per cent and the duration by up to
    20 % (shorter clips).
    """
    rng = np.random.default_rng(seed)
    words = words if words is not None else default_words()
    n = int(duration * sample_rate)
    f0s = rng.uniform(70, 300, n_speakers)
    scales = rng.uniform(0.9, 1.1, n_speakers)
    gains = np.exp(rng.uniform(np.log(0.05), 0.0, n_speakers))
    tilts = rng.uniform(-2.0, 1.0, n_speakers)
    noise = rng.uniform(0.01, 0.1, n_speakers)
    waves, lengths, word_ids, speaker_ids = [], [], [], []
    for s in range(n_speakers):
        for w, word in enumerate(words):
            for _ in range(per_word):
                length = int(n * rng.uniform(0.8, 1.0))
                wave = np.zeros(n)
                wave[:length] = _speak(
                    word,
                    f0s[s] * rng.uniform(0.95, 1.05),
                    scales[s],
                    tilts[s],
                    gains[s],
                    noise[s],
                    length,
                    sample_rate,
                    rng,
                )
                waves.append(wave)
                lengths.append(length)
                word_ids.append(w)
                speaker_ids.append(s)
    order = rng.permutation(len(waves))
    return SyntheticSpeech(
        waves=np.asarray(waves, dtype=np.float32)[order],
        lengths=np.asarray(lengths, dtype=np.int64)[order],
        words=np.asarray(word_ids, dtype=np.int64)[order],
        speakers=np.asarray(speaker_ids, dtype=np.int64)[order],
        sample_rate=sample_rate,
    )
