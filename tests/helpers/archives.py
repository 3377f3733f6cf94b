"""What the dataset-preparation tests serve: checksums and small audio files as bytes."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable

import numpy as np
import soundfile as sf

TarGz = Callable[[dict[str, bytes]], bytes]
"""The ``tar_gz`` fixture: ``{member: bytes}`` -> a tar.gz archive's bytes."""


def md5(data: bytes) -> str:
    """``md5:<hex>``, as the checksum tables of :mod:`cpckit.data.prepare` write it."""
    return "md5:" + hashlib.md5(data).hexdigest()


def tone_bytes(fmt: str, seconds: float, rate: int, freq: float) -> bytes:
    """A sine tone at 0.3 amplitude, encoded as ``fmt`` (WAV, FLAC)."""
    buf = io.BytesIO()
    t = np.arange(int(seconds * rate)) / rate
    sf.write(buf, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), rate, format=fmt)
    return buf.getvalue()


def wav_bytes(seconds: float = 0.3, rate: int = 8000) -> bytes:
    """A 500 Hz tone as WAV bytes."""
    return tone_bytes("WAV", seconds, rate, 500.0)


def flac_bytes(seconds: float = 0.2, rate: int = 16000) -> bytes:
    """A 330 Hz tone as FLAC bytes."""
    return tone_bytes("FLAC", seconds, rate, 330.0)
