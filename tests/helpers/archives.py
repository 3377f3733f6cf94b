"""What the dataset-preparation tests serve: checksums, small audio files and a tiny CIFAR-10 archive."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable

import numpy as np
import soundfile as sf

TarGz = Callable[[dict[str, bytes]], bytes]
"""The ``tar_gz`` fixture: ``{member: bytes}`` -> a tar.gz archive's bytes."""

ServeArchive = Callable[[str, dict[str, bytes]], None]
"""The ``serve_archive`` fixture: ``(archive name, {member: bytes})``, served with its checksum known."""


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


CIFAR_TRAIN_LABELS = (0, 1, 2, 0, 1, 0, 9, 0, 1, 1, 0, 1)
"""Labels of the tiny archive's 12 training images: 5 airplanes, 5 automobiles, a bird, a truck."""
CIFAR_TEST_LABELS = (1, 0, 3, 1, 1, 0)


def cifar_archive(
    seed: int = 0,
    train_labels: tuple[int, ...] = CIFAR_TRAIN_LABELS,
    test_labels: tuple[int, ...] = CIFAR_TEST_LABELS,
) -> tuple[dict[str, bytes], np.ndarray, np.ndarray]:
    """The members of a tiny CIFAR-10 python tarball, and its training and test pixels.

    One training batch (labels ``train_labels``) and a test batch
    (``test_labels``) of random ``(N, 3072)`` uint8 rows, pickled as the
    real archive's are (protocol 2, bytes keys).
    """
    import pickle

    from cpckit.data.cifar10 import CIFAR10_CLASSES

    rng = np.random.default_rng(seed)
    train = rng.integers(0, 256, size=(len(train_labels), 3072), dtype=np.uint8)
    test = rng.integers(0, 256, size=(len(test_labels), 3072), dtype=np.uint8)
    names = [n.encode() for n in CIFAR10_CLASSES]
    members = {
        "cifar-10-batches-py/batches.meta": pickle.dumps({b"label_names": names}, protocol=2),
        "cifar-10-batches-py/data_batch_1": pickle.dumps(
            {
                b"data": train,
                b"labels": list(train_labels),
                b"batch_label": b"training batch 1 of 1",
            },
            protocol=2,
        ),
        "cifar-10-batches-py/test_batch": pickle.dumps(
            {b"data": test, b"labels": list(test_labels)}, protocol=2
        ),
    }
    return members, train, test


def cifar_pixels(rows: np.ndarray, index: int) -> np.ndarray:
    """Image ``index`` of a batch's ``(N, 3072)`` rows as ``(32, 32, 3)``, as a PNG holds it."""
    return rows[index].reshape(3, 32, 32).transpose(1, 2, 0)
