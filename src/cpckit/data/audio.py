"""Audio folders: decode, mix down to mono, resample, crop or pad to a window.

Files are found recursively under a root folder (hidden files and folders
are ignored), decoded with soundfile, mixed down to mono (mean of the
channels) and resampled with soxr from each file's own rate to the target
rate (:mod:`cpckit.data.audio_files`). Items follow docs/contracts.md::

    {"audio": (1, S) float32, "audio_length": int64, "label": int64, "group": int64}

Decoding strategy. Construction opens every file's header (``soundfile.info``)
to learn its rate and length and to skip unreadable files with a warning
naming each one. With ``cache=True`` every clip is then decoded and resampled
once, at construction, into one flat float32 array in the main process
(a file holding NaN or infinite samples is then skipped and counted like an
unreadable one):
DataLoader workers inherit it (fork shares the pages), so no epoch decodes
anything, and only the crop and copy remain per item. With ``cache=False``
clips are decoded when an item is read (for corpora too large for memory);
a file whose header reads but whose samples do not (or are NaN or infinite)
raises :class:`DataError` naming it at that point.
"""

from __future__ import annotations

import copy
import logging
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import soundfile as sf
import torch
from torch import Tensor
from torch.utils.data import Dataset

from cpckit.data.audio_files import (
    NonFiniteAudioError,
    check_extensions,
    find_audio_files,
    normalize_waveform,
    read_audio,
    resampled_length,
)
from cpckit.data.bundle import WorkerRNG
from cpckit.data.labels import encode_labels, parse_names
from cpckit.errors import ConfigError, DataError

__all__ = ["AudioFolderDataset"]

log = logging.getLogger(__name__)

_DECODE_ERRORS = (
    sf.LibsndfileError,
    RuntimeError,
    OSError,
    ValueError,
    TypeError,
    NonFiniteAudioError,
)
_MAX_WARNINGS = 20


# ----------------------------------------------------------------------------- dataset


def _skip_message(path: Path, err: BaseException) -> str:
    """The warning for a file left out: what was wrong with it, naming it once."""
    if isinstance(err, NonFiniteAudioError):
        return f"skipping audio file {path}: it {err.reason}"
    return f"skipping unreadable audio file {path}: {err}".rstrip()


def _rel_path(root: Path, name: str | os.PathLike[str]) -> str:
    p = Path(name)
    if p.is_absolute():
        try:
            p = p.relative_to(root)
        except ValueError:
            raise DataError(f"files: {os.fspath(name)!r} is not under the root {root}") from None
    rel = PurePosixPath(p.as_posix())
    if ".." in rel.parts:
        raise DataError(f"files: {os.fspath(name)!r} leaves the root {root}")
    return rel.as_posix()


class AudioFolderDataset(Dataset[dict[str, Tensor]]):
    """Audio files under a folder, as mono waveforms at one sample rate.

    Args:
        root: folder searched recursively.
        sample_rate: target rate in Hz; every file is resampled to it.
        extensions: file extensions to read (any format soundfile reads).
        label_regex: regex with named groups matched against whole file names;
            files that do not match are left out with a warning.
        label_key: regex group (or ``"folder"``) that gives the label.
        group_key: regex group (or ``"folder"``) that gives the group (e.g. speaker).
        label_from: ``"name"`` (label from ``label_key``) or ``"folder"`` (the
            parent folder's name is the label).
        window_samples: with a window, longer clips are cropped at a random
            offset and shorter ones padded with zeros (or dropped); None
            returns whole clips.
        short_clips: ``"pad"`` or ``"drop"`` clips shorter than the window.
        normalize: zero mean, unit variance per utterance (over the whole clip).
        cache: decode and resample every clip once at construction and keep
            them in memory (see the module notes).
        seed: seed of the crop offsets.
        files: relative (or absolute, under ``root``) paths to use instead of
            searching ``root``.
        progress: show a progress bar while filling the cache.

    Attributes:
        paths: relative paths of the clips (``/``-separated), sorted.
        labels / groups: ``(N,)`` int64, -1 when there is none.
        label_names / group_names: index -> string.
        lengths: ``(N,)`` int64 whole-clip lengths in samples at ``sample_rate``.
        file_rates: ``(N,)`` int64 sample rates of the files.
        skipped: relative paths of files left out: unreadable, empty, or (with
            the cache) holding NaN or infinite samples.
        not_finite: those of ``skipped`` that hold NaN or infinite samples.
        unmatched: relative paths whose names did not match ``label_regex``.
        dropped: relative paths of clips shorter than the window (``short_clips="drop"``).

    Shape:
        item ``"audio"``: ``(1, window_samples)``, or ``(1, lengths[i])`` without a window
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        sample_rate: int,
        *,
        extensions: Sequence[str] = ("wav", "flac", "ogg"),
        label_regex: str | re.Pattern[str] | None = None,
        label_key: str | None = None,
        group_key: str | None = None,
        label_from: str = "name",
        window_samples: int | None = None,
        short_clips: str = "pad",
        normalize: bool = False,
        cache: bool = True,
        seed: int = 0,
        files: Sequence[str | os.PathLike[str]] | None = None,
        progress: bool = False,
    ) -> None:
        if not isinstance(sample_rate, int) or sample_rate < 1:
            raise ConfigError(f"sample_rate = {sample_rate!r} must be a positive number of Hz")
        self._check_window(window_samples, short_clips)
        self.root = Path(root)
        self.sample_rate = sample_rate
        self.extensions = check_extensions(extensions)
        self.window_samples = window_samples
        self.short_clips = short_clips
        self.normalize = normalize
        self.cache = cache
        self.seed = int(seed)

        if files is None:
            candidates = find_audio_files(self.root, self.extensions)
        else:
            if not self.root.is_dir():
                raise DataError(f"audio root {self.root} is not a folder")
            candidates = [_rel_path(self.root, f) for f in files]
            for rel in candidates:
                if not (self.root / rel).is_file():
                    raise DataError(f"files: {rel!r} does not exist under {self.root}")
        if not candidates:
            raise DataError(
                f"no audio files ({', '.join(self.extensions)}) under {self.root}"
                if files is None
                else "files is empty: give at least one audio file"
            )

        parsed = parse_names(
            candidates,
            label_regex=label_regex,
            label_key=label_key,
            group_key=group_key,
            label_from=label_from,
            source=str(self.root),
        )
        self.unmatched: list[str] = parsed.unmatched
        self.not_finite: list[str] = []
        keep, rates, lengths, chunks, self.skipped = self._probe(parsed.paths, progress)
        if not keep:
            raise DataError(
                f"none of the {len(parsed.paths)} audio files under {self.root} could be read "
                f"(unreadable, empty, or holding NaN or infinite samples; e.g. {self.skipped[0]}): "
                "see the warnings above"
            )
        label_values = [parsed.label_values[i] for i in keep] if parsed.label_values else None
        group_values = [parsed.group_values[i] for i in keep] if parsed.group_values else None

        self.paths: list[str] = [parsed.paths[i] for i in keep]
        self.file_rates = np.asarray(rates, dtype=np.int64)
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.labels, self.label_names = self._encode(label_values, len(keep))
        self.groups, self.group_names = self._encode(group_values, len(keep))
        self._flat: np.ndarray | None = None
        self._offsets: np.ndarray | None = None
        self._rows = np.arange(len(keep), dtype=np.int64)
        if chunks is not None:
            self._offsets = np.concatenate([[0], np.cumsum(self.lengths)]).astype(np.int64)
            self._flat = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
            del chunks
            log.info(
                "cached %d clips from %s: %.1f MB", len(keep), self.root, self._flat.nbytes / 1e6
            )
        self.dropped: list[str] = []
        self._drop_short()
        self._rng = WorkerRNG(self.seed)

    # ------------------------------------------------------------------ construction

    @staticmethod
    def _check_window(window_samples: int | None, short_clips: str) -> None:
        if short_clips not in ("pad", "drop"):
            raise ConfigError(
                f"short_clips = {short_clips!r} is not valid: expected 'pad' or 'drop'"
            )
        if window_samples is not None and (
            not isinstance(window_samples, (int, np.integer)) or window_samples < 1
        ):
            raise ConfigError(
                f"window_samples = {window_samples!r} must be a positive number of samples or None"
            )

    @staticmethod
    def _encode(values: list[str] | None, n: int) -> tuple[np.ndarray, list[str]]:
        if values is None:
            return np.full(n, -1, dtype=np.int64), []
        return encode_labels(values)

    def _probe(
        self, paths: list[str], progress: bool
    ) -> tuple[list[int], list[int], list[int], list[np.ndarray] | None, list[str]]:
        """Read each file's header (and, with the cache, its samples); skip bad files."""
        from tqdm.auto import tqdm

        keep: list[int] = []
        rates: list[int] = []
        lengths: list[int] = []
        chunks: list[np.ndarray] | None = [] if self.cache else None
        skipped: list[str] = []
        bar = tqdm(paths, desc="decoding audio", unit="file", disable=not progress)
        for i, rel in enumerate(bar):
            path = self.root / rel
            try:
                info = sf.info(os.fspath(path))
                rate, frames = int(info.samplerate), int(info.frames)
                if frames <= 0:
                    raise ValueError("it holds no samples")
                if chunks is not None:
                    wave = read_audio(path, self.sample_rate)
                    if wave.size == 0:
                        raise ValueError("it holds no samples")
                    if self.normalize:
                        wave = normalize_waveform(wave)
                    n = int(wave.size)
                else:
                    n = resampled_length(frames, rate, self.sample_rate)
            except _DECODE_ERRORS as err:
                skipped.append(rel)
                if isinstance(err, NonFiniteAudioError):
                    self.not_finite.append(rel)
                if len(skipped) <= _MAX_WARNINGS:
                    warnings.warn(_skip_message(path, err), stacklevel=3)
                continue
            keep.append(i)
            rates.append(rate)
            lengths.append(n)
            if chunks is not None:
                chunks.append(wave)
        if len(skipped) > _MAX_WARNINGS:
            warnings.warn(
                f"skipped {len(skipped)} unreadable or non-finite audio files under {self.root} "
                f"(the first {_MAX_WARNINGS} are named above; all are in .skipped)",
                stacklevel=3,
            )
        return keep, rates, lengths, chunks, skipped

    def _drop_short(self) -> None:
        if self.window_samples is None or self.short_clips != "drop":
            return
        short = self.lengths < self.window_samples
        if not short.any():
            return
        if short.all():
            raise DataError(
                f"all {len(self.paths)} clips under {self.root} are shorter than the window of "
                f"{self.window_samples} samples ({self.window_samples / self.sample_rate:g} s): "
                "shorten the window or use short_clips = 'pad'"
            )
        idx = np.flatnonzero(short)
        self.dropped = self.dropped + [self.paths[i] for i in idx]
        log.info(
            "dropped %d of %d clips under %s shorter than %d samples",
            len(idx),
            len(self.paths),
            self.root,
            self.window_samples,
        )
        self._take(np.flatnonzero(~short))

    def _take(self, idx: np.ndarray) -> None:
        self.paths = [self.paths[i] for i in idx]
        self.labels = self.labels[idx]
        self.groups = self.groups[idx]
        self.lengths = self.lengths[idx]
        self.file_rates = self.file_rates[idx]
        self._rows = self._rows[idx]

    # ------------------------------------------------------------------ views

    def subset(self, indices: Sequence[int] | np.ndarray) -> AudioFolderDataset:
        """A dataset of the clips ``indices`` (same settings, label mapping and cache).

        The cache is shared, not copied.
        """
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise IndexError(f"subset indices must lie in [0, {len(self)})")
        view = copy.copy(self)
        view._take(idx % max(len(self), 1))
        view.dropped = list(self.dropped)
        view._rng = WorkerRNG(self.seed)
        return view

    def with_window(
        self, window_samples: int | None, short_clips: str | None = None
    ) -> AudioFolderDataset:
        """The same clips with another window (e.g. whole clips for probes); shares the cache."""
        short_clips = self.short_clips if short_clips is None else short_clips
        self._check_window(window_samples, short_clips)
        view = self.subset(np.arange(len(self)))
        view.window_samples = window_samples
        view.short_clips = short_clips
        view._drop_short()
        return view

    # ------------------------------------------------------------------ items

    @property
    def durations(self) -> np.ndarray:
        """``(N,)`` float64 whole-clip durations in seconds."""
        return self.lengths / float(self.sample_rate)

    @property
    def cached(self) -> bool:
        """True when the decoded clips are held in memory."""
        return self._flat is not None

    def __len__(self) -> int:
        return len(self.paths)

    def clip(self, i: int) -> np.ndarray:
        """Whole clip ``i``: decoded, mono, resampled, normalised if asked.

        The array is read-only when it comes from the cache.

        Shape:
            -> ``(lengths[i],)`` float32
        """
        if self._flat is not None and self._offsets is not None:
            row = int(self._rows[i])
            view = self._flat[self._offsets[row] : self._offsets[row + 1]]
            view.flags.writeable = False
            return view
        path = self.root / self.paths[i]
        try:
            wave = read_audio(path, self.sample_rate)
        except NonFiniteAudioError:
            raise
        except _DECODE_ERRORS as err:
            raise DataError(f"could not decode audio file {path}: {err}") from None
        return normalize_waveform(wave) if self.normalize else wave

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        n_items = len(self)
        if not -n_items <= i < n_items:
            raise IndexError(f"index {i} is out of range for {n_items} clips")
        i = int(i) % n_items
        wave = self.clip(i)
        n = int(wave.shape[0])
        window = self.window_samples
        if window is None:
            out = np.array(wave, dtype=np.float32)
            valid = n
        elif n > window:
            start = int(self._rng.numpy_generator().integers(0, n - window + 1))
            out = np.array(wave[start : start + window], dtype=np.float32)
            valid = window
        else:
            out = np.zeros(window, dtype=np.float32)
            out[:n] = wave
            valid = n
        return {
            "audio": torch.from_numpy(out).unsqueeze(0),
            "audio_length": torch.tensor(valid, dtype=torch.int64),
            "label": torch.tensor(int(self.labels[i]), dtype=torch.int64),
            "group": torch.tensor(int(self.groups[i]), dtype=torch.int64),
        }

    def summary(self) -> dict[str, Any]:
        """Counts worth printing: clips, hours, classes, groups, files left out."""
        return {
            "clips": len(self),
            "hours": float(self.lengths.sum()) / self.sample_rate / 3600,
            "classes": len(self.label_names),
            "groups": len(self.group_names),
            "skipped (unreadable or not finite)": len(self.skipped),
            "unmatched (label_regex)": len(self.unmatched),
            "dropped (shorter than the window)": len(self.dropped),
        }
