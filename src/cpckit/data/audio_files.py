"""Audio files: the formats read, finding them under a folder, decoding them.

Files are decoded with soundfile, mixed down to mono (mean of the channels)
and resampled with soxr from each file's own rate to the target rate. A
float file (wav or aiff of subtype FLOAT / DOUBLE) can hold NaN or infinite
samples; decoding refuses it (:class:`NonFiniteAudioError`), because one such
sample makes every latent step that sees it, the loss and then every weight
NaN, far from the file that caused it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from cpckit.data.files import walk_files
from cpckit.errors import DataError

__all__ = [
    "NonFiniteAudioError",
    "check_extensions",
    "check_finite",
    "find_audio_files",
    "normalize_waveform",
    "read_audio",
    "resample",
    "resampled_length",
    "supported_extensions",
    "to_mono",
]

_ALIASES = {"aif": "AIFF", "oga": "OGG", "opus": "OGG", "wave": "WAV"}
_NOT_FILES = {"raw"}  # headerless: cannot be decoded without being told the format


class NonFiniteAudioError(DataError):
    """An audio file decodes to NaN or infinite samples.

    Attributes:
        path: the file.
        reason: what is wrong, without the path (for messages that name it already).
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"audio file {self.path} {reason}")


def check_finite(path: str | os.PathLike[str], data: np.ndarray, rate: int) -> None:
    """Raise :class:`NonFiniteAudioError` when ``data`` (a decoded file) holds NaN or inf.

    The message counts both kinds and gives the first bad frame, so the
    file can be found and repaired in an editor.

    Shape:
        data: ``(S, C)`` or ``(S,)``
    """
    finite = np.isfinite(data)
    if finite.all():
        return
    n_nan = int(np.isnan(data).sum())
    n_inf = int(data.size - finite.sum()) - n_nan
    kinds = [f"{n} {what}" for n, what in ((n_nan, "NaN"), (n_inf, "infinite")) if n]
    frames = finite.reshape(len(data), -1).all(axis=1)
    first = int(np.flatnonzero(~frames)[0])
    raise NonFiniteAudioError(
        path,
        f"holds {' and '.join(kinds)} sample value(s) of {data.size} (the first in frame "
        f"{first}, at {first / rate:.4g} s); only finite samples can be trained on: "
        "repair or re-export the file, or remove it",
    )


def supported_extensions() -> list[str]:
    """File extensions (lower case, no dot) of the formats soundfile can read here."""
    formats = set(sf.available_formats())
    exts = {f.lower() for f in formats} | {a for a, f in _ALIASES.items() if f in formats}
    return sorted(exts - _NOT_FILES)


def to_mono(x: np.ndarray) -> np.ndarray:
    """Mix down to mono by averaging the channels.

    Shape:
        x: ``(S, C)`` or ``(S,)`` -> ``(S,)`` float32
    """
    if x.ndim == 1:
        return np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"expected samples of shape (S, C) or (S,), got {x.shape}")
    if x.shape[1] == 1:
        return np.ascontiguousarray(x[:, 0], dtype=np.float32)
    return x.mean(axis=1, dtype=np.float32)


def resampled_length(n_samples: int, orig_rate: int, target_rate: int) -> int:
    """Samples after resampling ``n_samples`` from ``orig_rate`` to ``target_rate`` (as soxr does).

    soxr gives ``round(n * target / orig)`` with halves rounded up.
    """
    return (2 * n_samples * target_rate + orig_rate) // (2 * orig_rate)


def resample(x: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
    """Resample a mono waveform with soxr (high quality); a no-op when the rates agree.

    Shape:
        x: ``(S,)`` -> ``(resampled_length(S, orig_rate, target_rate),)`` float32
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    if orig_rate == target_rate:
        return x
    y = soxr.resample(x, orig_rate, target_rate, quality="HQ")
    return np.ascontiguousarray(y, dtype=np.float32)


def read_audio(path: str | os.PathLike[str], sample_rate: int | None = None) -> np.ndarray:
    """Decode an audio file to a mono float32 waveform, resampled to ``sample_rate``.

    Args:
        path: wav, flac, ogg, ... (anything soundfile reads).
        sample_rate: target rate in Hz; None keeps the file's own rate.

    Raises the decoder's error (``soundfile.LibsndfileError``, ``OSError``) for
    an unreadable file, and :class:`NonFiniteAudioError` for a file holding
    NaN or infinite samples (checked on the decoded samples, before mixing
    down and resampling spread them).

    Shape:
        -> ``(S,)`` float32
    """
    data, rate = sf.read(os.fspath(path), dtype="float32", always_2d=True)
    check_finite(path, data, int(rate))
    mono = to_mono(data)
    if sample_rate is not None:
        mono = resample(mono, int(rate), sample_rate)
    return mono


def normalize_waveform(x: np.ndarray) -> np.ndarray:
    """Zero mean and unit variance over the whole utterance (a silent clip stays zero).

    Shape:
        x: ``(S,)`` -> ``(S,)`` float32
    """
    if x.size == 0:
        return x.astype(np.float32)
    mean = float(x.mean(dtype=np.float64))
    std = float(x.std(dtype=np.float64))
    return ((x - mean) / max(std, 1e-8)).astype(np.float32)


def check_extensions(extensions: Sequence[str]) -> tuple[str, ...]:
    """Lower-case extensions without the dot, each checked to be a format soundfile reads."""
    if isinstance(extensions, str):
        extensions = (extensions,)
    if not extensions:
        raise DataError("extensions is empty: give at least one, e.g. ('wav', 'flac', 'ogg')")
    valid = supported_extensions()
    out: list[str] = []
    for ext in extensions:
        e = str(ext).lower().lstrip(".")
        if e not in valid:
            raise DataError(
                f"extensions: {ext!r} is not an audio format soundfile can read; "
                f"valid: {', '.join(valid)}"
            )
        out.append(e)
    return tuple(dict.fromkeys(out))


def find_audio_files(
    root: str | os.PathLike[str], extensions: Sequence[str] = ("wav", "flac", "ogg")
) -> list[str]:
    """Relative ``/``-separated paths of the audio files under ``root``, sorted.

    The search is recursive; extensions match case-insensitively; hidden files
    and folders (names starting with ``.``) are ignored.

    Raises:
        DataError: ``root`` is not a folder, or an extension is unknown.
    """
    exts = check_extensions(extensions)
    base = Path(root)
    if not base.exists():
        raise DataError(f"audio root {base} does not exist")
    if not base.is_dir():
        raise DataError(f"audio root {base} is not a folder")
    return walk_files(base, exts)
