"""Paired audio + image data: every item holds a clip and an image of one class.

Multimodal CPC (docs/images.md) trains one encoder per modality and one shared
context model on pairs. Two sources of pairs:

- :class:`PairedSyntheticDataset`: a noisy sine tone and a drawn pattern that
  share a hidden class: class ``k`` is the ``k``-th frequency band of the tone
  and the ``k``-th pattern of :data:`~cpckit.data.synthetic_image.PATTERN_NAMES`.
  Item ``i`` is a pure function of ``(seed, i)``.
- :class:`PairedCSVDataset`: (audio file, image file) pairs listed in a CSV
  with a header ``audio,image[,label][,group]``; paths are relative to the
  CSV's folder.

Items follow docs/contracts.md: ``audio (1, S)``, ``audio_length``,
``image (3, H, W)``, ``label`` and ``group`` (0-d int64).
"""

from __future__ import annotations

import copy
import csv
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from cpckit.data.audio_files import NonFiniteAudioError, read_audio
from cpckit.data.bundle import WorkerRNG
from cpckit.data.image import image_item, read_image
from cpckit.data.image_augment import ImageAugment
from cpckit.data.synthetic import check_below_nyquist, sine_tone
from cpckit.data.synthetic_image import (
    PATTERN_NAMES,
    check_pattern_counts,
    make_pattern_image,
    normalization_tensors,
)
from cpckit.errors import DataError

__all__ = ["PAIR_COLUMNS", "PairedCSVDataset", "PairedSyntheticDataset", "tone_bands"]

PAIR_COLUMNS: tuple[str, ...] = ("audio", "image", "label", "group")
"""Columns a pairs CSV may have; ``audio`` and ``image`` are required."""

_BAND_MARGIN = 0.1  # fraction of a band left empty at each edge, so bands do not touch


def tone_bands(n_classes: int, freq_min: float, freq_max: float) -> np.ndarray:
    """Frequency band ``[low, high]`` of each class's tones.

    ``[freq_min, freq_max]`` is cut into ``n_classes`` equal bands and 10 % of
    each band is left out at both edges, so the tones of two classes are at
    least a fifth of a band apart.

    Shape:
        -> ``(n_classes, 2)`` float64
    """
    if n_classes < 1:
        raise ValueError(f"n_classes = {n_classes} must be >= 1")
    if not 0 < freq_min < freq_max:
        raise ValueError(f"need 0 < freq_min < freq_max, got {freq_min} and {freq_max}")
    edges = np.linspace(freq_min, freq_max, n_classes + 1)
    width = edges[1] - edges[0]
    return np.stack([edges[:-1] + _BAND_MARGIN * width, edges[1:] - _BAND_MARGIN * width], axis=1)


class PairedSyntheticDataset(Dataset[dict[str, Tensor]]):
    """A noisy tone and a pattern image that share a hidden class.

    Item ``i`` has class ``k = i % n_classes`` (exactly balanced): its audio is
    a sine of a frequency drawn from band ``k`` of :func:`tone_bands` plus
    Gaussian noise (as :class:`~cpckit.data.synthetic.SyntheticAudioDataset`),
    its image is pattern ``k`` drawn by
    :func:`~cpckit.data.synthetic_image.make_pattern_image`. The tone comes from
    ``np.random.default_rng([seed, i, 0])`` and the image from
    ``np.random.default_rng([seed, i, 1])``, so an item does not depend on
    ``n``, the order of access or the worker.

    Args:
        n: number of pairs.
        n_classes: shared classes, 2 to ``len(PATTERN_NAMES)``.
        sample_rate: Hz.
        duration: seconds per clip.
        noise_std: standard deviation of the noise added to the tone.
        freq_min, freq_max: range of the tone frequencies in Hz.
        image_size: side of the square images in pixels.
        image_noise_std: standard deviation of the pixel noise (in [0, 1] units).
        augment: augmentation of the image (before normalisation), or None.
        normalize: ``"cifar10"``, ``"none"`` or a ``(mean, std)`` pair for images.
        seed: data seed.

    Attributes:
        labels: ``(n,)`` int64 shared class.
        groups: ``(n,)`` int64, all ``-1``.
        freqs: ``(n,)`` tone frequency of each item in Hz.
        bands: ``(n_classes, 2)`` frequency band of each class.
        label_names: ``"<pattern> + <low>-<high> Hz"`` per class.
    """

    def __init__(
        self,
        n: int,
        *,
        n_classes: int = 2,
        sample_rate: int = 16000,
        duration: float = 0.64,
        noise_std: float = 0.1,
        freq_min: float = 150.0,
        freq_max: float = 900.0,
        image_size: int = 32,
        image_noise_std: float = 0.05,
        augment: ImageAugment | None = None,
        normalize: str | tuple[Sequence[float], Sequence[float]] = "cifar10",
        seed: int = 0,
    ) -> None:
        check_pattern_counts(n, n_classes, classes_note="one image pattern per class: ")
        check_below_nyquist(freq_max, sample_rate)
        if duration <= 0:
            raise ValueError(f"duration = {duration} must be > 0 seconds")
        if noise_std < 0 or image_noise_std < 0:
            raise ValueError(
                f"noise_std = {noise_std} and image_noise_std = {image_noise_std} must be >= 0"
            )
        if image_size < 4:
            raise ValueError(f"image_size = {image_size} must be >= 4")
        self.n = n
        self.n_classes = n_classes
        self.sample_rate = sample_rate
        self.n_samples = int(round(duration * sample_rate))
        self.noise_std = noise_std
        self.image_size = image_size
        self.image_noise_std = image_noise_std
        self.augment = augment
        self.seed = seed
        self.bands = tone_bands(n_classes, freq_min, freq_max)
        self.labels = np.arange(n, dtype=np.int64) % n_classes
        self.groups = np.full(n, -1, dtype=np.int64)
        self.freqs = np.array(
            [self._audio_rng(i).uniform(*self.bands[self.labels[i]]) for i in range(n)]
        )
        self.label_names = [
            f"{PATTERN_NAMES[k]} + {lo:.0f}-{hi:.0f} Hz" for k, (lo, hi) in enumerate(self.bands)
        ]
        self.mean, self.std, self._mean_t, self._std_t = normalization_tensors(normalize)

    def __len__(self) -> int:
        return self.n

    def _check_index(self, i: int) -> None:
        if not 0 <= i < self.n:
            raise IndexError(f"index {i} is out of range for {self.n} pairs")

    def _audio_rng(self, i: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, i, 0])

    def waveform(self, i: int) -> np.ndarray:
        """The tone of item ``i``, ``(S,)`` float32."""
        self._check_index(i)
        rng = self._audio_rng(i)
        rng.uniform()  # the frequency draw (kept in ``freqs``)
        return sine_tone(self.freqs[i], self.n_samples, self.sample_rate, self.noise_std, rng)

    def raw_image(self, i: int) -> np.ndarray:
        """The image of item ``i`` before augmentation and normalisation, ``(3, S, S)`` in [0, 1]."""
        self._check_index(i)
        rng = np.random.default_rng([self.seed, i, 1])
        return make_pattern_image(
            int(self.labels[i]), rng, self.image_size, noise_std=self.image_noise_std
        )

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        x = torch.from_numpy(self.raw_image(i))
        return {
            "audio": torch.from_numpy(self.waveform(i)).unsqueeze(0),
            "audio_length": torch.tensor(self.n_samples, dtype=torch.int64),
            **image_item(x, self.augment, self._mean_t, self._std_t, int(self.labels[i])),
        }


# ----------------------------------------------------------------------------- CSV pairs


def _sorted_names(values: list[str]) -> list[str]:
    """Unique values, in numeric order when all are integers, else alphabetical."""
    unique = set(values)
    try:
        return sorted(unique, key=int)
    except ValueError:
        return sorted(unique)


def _read_rows(csv_path: Path) -> tuple[dict[str, str], list[tuple[int, dict[str, str]]]]:
    """The CSV's column names (lower-case -> as written) and its rows with their line numbers."""
    if not csv_path.is_file():
        raise DataError(f"pairs CSV {str(csv_path)!r} does not exist")
    with open(csv_path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None or not any(h.strip() for h in header):
            raise DataError(
                f"pairs CSV {str(csv_path)!r} is empty: expected a header audio,image[,label] "
                "and one row per pair"
            )
        names = [h.strip() for h in header]
        columns = {name.lower(): name for name in names if name}
        missing = [c for c in ("audio", "image") if c not in columns]
        if missing:
            raise DataError(
                f"pairs CSV {str(csv_path)!r} has no {' and no '.join(repr(m) for m in missing)} "
                f"column (its header: {','.join(names)}); expected a header "
                "audio,image[,label][,group]"
            )
        unknown = [n for n in names if n and n.lower() not in PAIR_COLUMNS]
        if unknown:
            raise DataError(
                f"pairs CSV {str(csv_path)!r} has unknown column {unknown[0]!r}; valid columns: "
                f"{', '.join(PAIR_COLUMNS)}"
            )
        rows: list[tuple[int, dict[str, str]]] = []
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue  # blank line
            line = reader.line_num
            if len(cells) != len(names):
                raise DataError(
                    f"{csv_path}:{line}: {len(cells)} values but the header has {len(names)} "
                    f"columns ({','.join(names)})"
                )
            rows.append((line, {n.lower(): c.strip() for n, c in zip(names, cells) if n}))
    if not rows:
        raise DataError(f"pairs CSV {str(csv_path)!r} has a header but no pairs")
    return columns, rows


class PairedCSVDataset(Dataset[dict[str, Tensor]]):
    """(audio file, image file) pairs listed in a CSV.

    The CSV has a header row naming its columns: ``audio`` and ``image``
    (required; paths relative to the CSV's folder, or absolute), and
    optionally ``label`` (a class name per pair, e.g. ``dog``) and ``group``
    (e.g. a speaker). Sorted label names map to ``0, 1, ...`` (numeric order
    when every label is an integer); without a ``label`` column every label
    is ``-1``. Blank lines are skipped.

    Audio is decoded with :func:`cpckit.data.audio_files.read_audio` (mono,
    resampled to ``sample_rate``); images with
    :func:`cpckit.data.image.read_image` (RGB, resized to ``image_size``),
    then scaled to [0, 1], augmented (when asked) and normalised.

    With ``cache=True`` every file is decoded when the dataset is built, so a
    file that cannot be decoded, or whose audio holds NaN or infinite
    samples, is reported at once (a pair is one item: it is not skipped); with ``cache=False``
    files are decoded on access. ``window_samples`` cuts the audio of each
    item to a window (a random crop of a longer clip, zero padding of a
    shorter one, with ``audio_length`` the valid samples), as for CPC
    training; None gives whole clips.

    Args:
        csv_path: the pairs CSV.
        sample_rate: audio sample rate in Hz.
        image_size: side of the square images.
        window_samples: audio samples per item, or None for whole clips.
        augment: augmentation of the images, or None.
        normalize: ``"cifar10"``, ``"none"`` or a ``(mean, std)`` pair for images.
        cache: decode every file once, up front.
        seed: seed of the random audio crops.

    Attributes:
        root: the CSV's folder (relative paths start there).
        audio_paths, image_paths: paths as written in the CSV, one per item.
        lines: the CSV line of each item.
        labels, groups: ``(N,)`` int64 (``-1`` = none).
        label_names, group_names: index -> name.

    Raises:
        DataError: a missing CSV, column or file, a short row, an empty label
            or group cell, or (with ``cache=True``) a file that cannot be
            decoded; the message names the CSV line and the path.
    """

    def __init__(
        self,
        csv_path: str | os.PathLike[str],
        *,
        sample_rate: int = 16000,
        image_size: int = 32,
        window_samples: int | None = None,
        augment: ImageAugment | None = None,
        normalize: str | tuple[Sequence[float], Sequence[float]] = "cifar10",
        cache: bool = True,
        seed: int = 0,
    ) -> None:
        if sample_rate < 1:
            raise ValueError(f"sample_rate = {sample_rate} must be >= 1")
        if image_size < 1:
            raise ValueError(f"image_size = {image_size} must be >= 1")
        if window_samples is not None and window_samples < 1:
            raise ValueError(f"window_samples = {window_samples} must be >= 1 or None")
        self.csv_path = Path(csv_path)
        self.root = self.csv_path.parent
        self.sample_rate = sample_rate
        self.image_size = image_size
        self.window_samples = window_samples
        self.augment = augment
        self.cache = cache
        self.seed = seed
        columns, rows = _read_rows(self.csv_path)
        self.lines = np.array([line for line, _ in rows], dtype=np.int64)
        self.audio_paths = [row["audio"] for _, row in rows]
        self.image_paths = [row["image"] for _, row in rows]
        self._check_files(rows)
        self.labels, self.label_names = self._encode(rows, "label", "label" in columns)
        self.groups, self.group_names = self._encode(rows, "group", "group" in columns)
        self._rows = np.arange(len(rows), dtype=np.int64)
        self._audio: list[np.ndarray] | None = None
        self._images: np.ndarray | None = None
        if cache:
            self._audio = [self._decode_audio(i) for i in range(len(rows))]
            self._images = np.stack([self._decode_image(i) for i in range(len(rows))])
        self.mean, self.std, self._mean_t, self._std_t = normalization_tensors(normalize)
        self._rng = WorkerRNG(self.seed)

    # ------------------------------------------------------------------ reading

    def _path(self, written: str) -> Path:
        p = Path(written)
        return p if p.is_absolute() else self.root / p

    def _check_files(self, rows: list[tuple[int, dict[str, str]]]) -> None:
        problems: list[str] = []
        for line, row in rows:
            for column in ("audio", "image"):
                written = row[column]
                if not written:
                    problems.append(f"line {line}: empty {column} path")
                elif not self._path(written).is_file():
                    problems.append(f"line {line}: {column} file {written!r} does not exist")
        if problems:
            shown = "; ".join(problems[:5])
            more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
            raise DataError(
                f"pairs CSV {str(self.csv_path)!r}: {shown}{more}; paths are relative to "
                f"{str(self.root)!r}"
            )

    def _encode(
        self, rows: list[tuple[int, dict[str, str]]], column: str, present: bool
    ) -> tuple[np.ndarray, list[str]]:
        if not present:
            return np.full(len(rows), -1, dtype=np.int64), []
        for line, row in rows:
            if not row[column]:
                raise DataError(
                    f"{self.csv_path}:{line}: empty {column}; give every pair a {column}, "
                    f"or leave the {column} column out"
                )
        values = [row[column] for _, row in rows]
        names = _sorted_names(values)
        index = {name: i for i, name in enumerate(names)}
        return np.array([index[v] for v in values], dtype=np.int64), names

    def _decode_audio(self, row: int) -> np.ndarray:
        path = self._path(self.audio_paths[row])
        try:
            wave = read_audio(path, self.sample_rate)
        except NonFiniteAudioError as exc:
            raise DataError(
                f"{self.csv_path}:{self.lines[row]}: audio file {self.audio_paths[row]!r} "
                f"{exc.reason}"
            ) from None
        except Exception as exc:  # noqa: BLE001 - any decoder failure is the same user error
            raise DataError(
                f"{self.csv_path}:{self.lines[row]}: cannot decode audio file "
                f"{self.audio_paths[row]!r} ({type(exc).__name__}: {exc})"
            ) from None
        if wave.size == 0:
            raise DataError(
                f"{self.csv_path}:{self.lines[row]}: audio file {self.audio_paths[row]!r} is empty"
            )
        return wave

    def _decode_image(self, row: int) -> np.ndarray:
        path = self._path(self.image_paths[row])
        try:
            return read_image(path, self.image_size)
        except Exception as exc:  # noqa: BLE001 - any decoder failure is the same user error
            raise DataError(
                f"{self.csv_path}:{self.lines[row]}: cannot decode image file "
                f"{self.image_paths[row]!r} ({type(exc).__name__}: {exc})"
            ) from None

    # ------------------------------------------------------------------ views

    def subset(self, indices: Sequence[int] | np.ndarray) -> PairedCSVDataset:
        """The items at ``indices`` (in that order), sharing the decoded cache."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise IndexError(f"subset indices must be in [0, {len(self)})")
        view = copy.copy(self)
        view._rows = self._rows[idx]
        view.labels = self.labels[idx]
        view.groups = self.groups[idx]
        view._rng = WorkerRNG(self.seed)
        return view

    def with_window(self, window_samples: int | None) -> PairedCSVDataset:
        """The same pairs with audio cut to ``window_samples`` (None: whole clips)."""
        if window_samples is not None and window_samples < 1:
            raise ValueError(f"window_samples = {window_samples} must be >= 1 or None")
        view = self.subset(np.arange(len(self)))
        view.window_samples = window_samples
        return view

    def with_augment(self, augment: ImageAugment | None) -> PairedCSVDataset:
        """The same pairs with another image augmentation (None: none)."""
        view = self.subset(np.arange(len(self)))
        view.augment = augment
        return view

    # ------------------------------------------------------------------ items

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def cached(self) -> bool:
        """True when the decoded clips and images are held in memory."""
        return self._audio is not None

    def clip(self, i: int) -> np.ndarray:
        """Whole decoded clip of item ``i``, ``(S,)`` float32."""
        row = int(self._rows[i])
        return self._audio[row] if self._audio is not None else self._decode_audio(row)

    def _uint8(self, i: int) -> np.ndarray:
        row = int(self._rows[i])
        return self._images[row] if self._images is not None else self._decode_image(row)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        if not 0 <= i < len(self):
            raise IndexError(f"index {i} is out of range for {len(self)} pairs")
        wave = self.clip(i)
        n = int(wave.shape[0])
        window = self.window_samples
        if window is None:
            audio, valid = np.array(wave, dtype=np.float32), n
        elif n > window:
            start = int(self._rng.numpy_generator().integers(0, n - window + 1))
            audio, valid = np.array(wave[start : start + window], dtype=np.float32), window
        else:
            audio = np.zeros(window, dtype=np.float32)
            audio[:n] = wave
            valid = n
        x = torch.from_numpy(np.array(self._uint8(i))).float().div_(255.0)
        label, group = int(self.labels[i]), int(self.groups[i])
        return {
            "audio": torch.from_numpy(audio).unsqueeze(0),
            "audio_length": torch.tensor(valid, dtype=torch.int64),
            **image_item(x, self.augment, self._mean_t, self._std_t, label, group),
        }
