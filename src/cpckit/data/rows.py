"""A folder's files as rows to embed: found, labelled from their names, decoded.

:func:`open_folder` finds the audio or image files under a folder, takes
labels from their names (both in :mod:`cpckit.data.folder_files`), decodes
them (leaving out, with a warning, files that cannot be read and clips too
short for one latent step of the model's encoder) and returns a :class:`FolderData`: the kept files, their
labels, and the rows to embed (:class:`AudioRows`: whole clips or random
windows of them, or :class:`ImageRows`). :mod:`cpckit.evaluation.embed`
encodes the rows and writes the table.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from cpckit.data.files import list_examples
from cpckit.data.folder_files import FileLabels, find_files, parse_file_labels
from cpckit.encoders.steps import latent_steps, min_samples
from cpckit.errors import DataError, UsageError
from cpckit.progress import Progress

__all__ = [
    "AudioRows",
    "FolderData",
    "ImageRows",
    "open_folder",
    "open_model_folders",
]


# ----------------------------------------------------------------------------- rows


class AudioRows(Dataset[dict[str, Tensor]]):
    """Rows of audio to embed: whole clips, or windows ``[start, start + length)`` of them.

    Args:
        clips: the decoded clips (whole, at the model's sample rate).
        file_index: ``(N,)`` clip of each row.
        start: ``(N,)`` first sample of each row.
        length: ``(N,)`` samples of each row.
    """

    def __init__(
        self, clips: Any, file_index: np.ndarray, start: np.ndarray, length: np.ndarray
    ) -> None:
        self.clips = clips
        self.file_index = np.asarray(file_index, dtype=np.int64)
        self.start = np.asarray(start, dtype=np.int64)
        self.length = np.asarray(length, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.file_index)

    @property
    def lengths(self) -> np.ndarray:
        return self.length

    def wave(self, i: int) -> np.ndarray:
        """Samples of row ``i``; shape ``(length[i],)`` float32."""
        s, n = int(self.start[i]), int(self.length[i])
        return np.asarray(self.clips.clip(int(self.file_index[i]))[s : s + n], dtype=np.float32)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        w = np.array(self.wave(i), dtype=np.float32)
        return {
            "audio": torch.from_numpy(w).unsqueeze(0),
            "audio_length": torch.tensor(w.shape[0], dtype=torch.int64),
        }

    def subset(self, idx: np.ndarray) -> AudioRows:
        return AudioRows(self.clips, self.file_index[idx], self.start[idx], self.length[idx])


class ImageRows(Dataset[dict[str, Tensor]]):
    """Decoded images (``uint8``), normalised as :func:`cpckit.data.image.image_to_tensor` does."""

    def __init__(self, images: np.ndarray) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    @property
    def lengths(self) -> None:
        return None

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        from cpckit.data.image import normalize_image

        x = torch.from_numpy(np.array(self.images[i])).float().div_(255.0)
        return {"image": normalize_image(x)}

    def subset(self, idx: np.ndarray) -> ImageRows:
        return ImageRows(self.images[idx])


@dataclass
class FolderData:
    """A folder's files, decoded, with their labels, as rows to embed.

    Attributes:
        root: the folder.
        modality: ``audio`` or ``image``.
        paths: the files kept (relative), index = file index.
        labels: label key -> one string per kept file.
        rows: the rows (``AudioRows`` or ``ImageRows``).
        file_index, window_start, window_length: ``(N,)`` per row.
        skipped: files left out, with the reason.
        sample_rate: the model's sample rate (audio).
    """

    root: Path
    modality: str
    paths: list[str]
    labels: dict[str, list[str]]
    rows: AudioRows | ImageRows
    file_index: np.ndarray
    window_start: np.ndarray
    window_length: np.ndarray
    skipped: list[str]
    sample_rate: int

    def row_labels(self, key: str) -> list[str]:
        """Label strings of ``key`` per row."""
        values = self.labels[key]
        return [values[i] for i in self.file_index.tolist()]


def _warn_skipped(kind: str, names: list[str], root: Path) -> None:
    if names:
        warnings.warn(
            f"skipped {len(names)} {kind} under {root}: {list_examples(names)}", stacklevel=3
        )


def _window_rows(
    lengths: np.ndarray, windows_per_file: int, window: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    rng = np.random.default_rng(seed)
    files, starts, sizes = [], [], []
    short = 0
    for f, n in enumerate(lengths.tolist()):
        if n >= window:
            for s in np.sort(rng.integers(0, n - window + 1, size=windows_per_file)).tolist():
                files.append(f)
                starts.append(s)
                sizes.append(window)
        else:
            short += 1
            files.append(f)
            starts.append(0)
            sizes.append(n)
    as64 = lambda v: np.asarray(v, dtype=np.int64)  # noqa: E731
    return as64(files), as64(starts), as64(sizes), short


def open_folder(
    root: str | os.PathLike[str],
    modality: str,
    *,
    sample_rate: int = 16000,
    normalize: bool = False,
    image_size: int = 32,
    encoder: nn.Module | None = None,
    label_regex: str | None = None,
    files: Sequence[str] | None = None,
    windows_per_file: int | None = None,
    window_seconds: float | None = None,
    seed: int = 0,
    cache: bool = True,
    progress: bool = False,
) -> FolderData:
    """Find, label and decode the files of a folder as rows to embed.

    Args:
        root: folder searched recursively.
        modality: ``audio`` or ``image``.
        sample_rate, normalize: audio is resampled to the model's rate and,
            when the model was trained so, normalised per clip.
        image_size: images are resized to the model's size.
        encoder: the audio encoder; files too short for one valid latent step
            are left out with a warning naming them.
        label_regex: regex whose named groups give labels (see :func:`parse_file_labels`).
        files: relative paths to use instead of searching.
        windows_per_file, window_seconds: ``N`` random windows of ``S`` seconds
            per clip instead of the whole clip (a shorter clip is taken whole, once).
        seed: seed of the window positions.
        cache: audio: decode every clip once and keep it (for several passes).
        progress: progress bar while decoding.

    Raises:
        DataError: no file, no readable file, no file long enough.
    """
    base = Path(root)
    paths = list(files) if files is not None else find_files(base, modality)
    parsed = parse_file_labels(paths, label_regex, source=str(base))
    if (windows_per_file is None) != (window_seconds is None):
        raise UsageError("give --windows-per-file and --window-seconds together")
    if windows_per_file is not None and modality != "audio":
        raise UsageError("--windows-per-file and --window-seconds are for audio only")
    if modality == "audio":
        return _open_audio(
            base,
            parsed,
            sample_rate=sample_rate,
            normalize=normalize,
            encoder=encoder,
            windows_per_file=windows_per_file,
            window_seconds=window_seconds,
            seed=seed,
            cache=cache,
            progress=progress,
        )
    return _open_images(base, parsed, image_size=image_size, progress=progress)


def open_model_folders(
    pre: Any,
    modality: str,
    root: str | os.PathLike[str],
    test_root: str | os.PathLike[str] | None,
    *,
    label_regex: str | None,
    seed: int = 0,
    progress: bool = False,
) -> list[FolderData]:
    """``root`` and, when given, the held-out ``test_root``, opened with a model's data settings.

    ``pre`` is a loaded model (:func:`cpckit.load`): its config gives the
    sample rate, normalisation and image size, and its audio encoder decides
    which clips are too short.
    """
    cfg = pre.config
    return [
        open_folder(
            where,
            modality,
            sample_rate=int(cfg.data.sample_rate),
            normalize=bool(cfg.data.normalize),
            image_size=int(cfg.data.image_size),
            encoder=pre.model.encoders[modality] if modality == "audio" else None,
            label_regex=label_regex,
            seed=seed,
            cache=True,
            progress=progress,
        )
        for where in [root] + ([test_root] if test_root is not None else [])
    ]


def _keep(parsed: FileLabels, keep: list[int]) -> tuple[list[str], dict[str, list[str]]]:
    paths = [parsed.paths[i] for i in keep]
    labels = {k: [v[i] for i in keep] for k, v in parsed.values.items()}
    return paths, labels


def _open_audio(
    base: Path,
    parsed: FileLabels,
    *,
    sample_rate: int,
    normalize: bool,
    encoder: nn.Module | None,
    windows_per_file: int | None,
    window_seconds: float | None,
    seed: int,
    cache: bool,
    progress: bool,
) -> FolderData:
    from cpckit.data.audio import AudioFolderDataset

    # Unreadable files are left out with a warning naming each (by the dataset).
    clips = AudioFolderDataset(
        base,
        sample_rate,
        files=parsed.paths,
        normalize=normalize,
        cache=cache,
        progress=progress and sys.stderr.isatty(),
    )
    unreadable = list(clips.skipped)
    not_finite = set(clips.not_finite)
    index = {p: i for i, p in enumerate(parsed.paths)}
    keep = [index[p] for p in clips.paths]
    lengths = np.asarray(clips.lengths, dtype=np.int64)
    too_short: list[str] = []
    if encoder is not None:
        steps = latent_steps(encoder, lengths)
        short = np.flatnonzero(steps < 1)
        if len(short):
            need = min_samples(encoder)
            too_short = [clips.paths[i] for i in short.tolist()]
            warnings.warn(
                f"skipped {len(short)} clips under {base} too short for one latent step "
                f"(the encoder needs at least {need} samples, {need / sample_rate:.4g} s at "
                f"{sample_rate} Hz): {list_examples(too_short)}",
                stacklevel=3,
            )
            good = np.flatnonzero(steps >= 1)
            if not len(good):
                raise DataError(
                    f"every clip under {base} is too short for one latent step (the encoder "
                    f"needs at least {need} samples at {sample_rate} Hz): {list_examples(too_short)}"
                )
            clips = clips.subset(good)
            keep = [keep[i] for i in good.tolist()]
            lengths = lengths[good]
    paths, labels = _keep(parsed, keep)
    if windows_per_file is not None and window_seconds is not None:
        if windows_per_file < 1:
            raise UsageError(f"--windows-per-file = {windows_per_file} must be >= 1")
        window = int(round(window_seconds * sample_rate))
        if window < 1:
            raise UsageError(f"--window-seconds = {window_seconds:g} is shorter than one sample")
        if encoder is not None and latent_steps(encoder, [window])[0] < 1:
            raise UsageError(
                f"--window-seconds = {window_seconds:g} gives {window} samples, too short for "
                f"one latent step (the encoder needs at least {min_samples(encoder)} samples)"
            )
        file_index, start, length, n_short = _window_rows(lengths, windows_per_file, window, seed)
        if n_short:
            warnings.warn(
                f"{n_short} clips under {base} are shorter than the {window_seconds:g} s window "
                "and are embedded whole, once",
                stacklevel=3,
            )
    else:
        file_index = np.arange(len(paths), dtype=np.int64)
        start = np.zeros(len(paths), dtype=np.int64)
        length = lengths.copy()
    return FolderData(
        root=base,
        modality="audio",
        paths=paths,
        labels=labels,
        rows=AudioRows(clips, file_index, start, length),
        file_index=file_index,
        window_start=start,
        window_length=length,
        skipped=[f"{p} ({'not finite' if p in not_finite else 'unreadable'})" for p in unreadable]
        + [f"{p} (too short)" for p in too_short],
        sample_rate=sample_rate,
    )


def _open_images(base: Path, parsed: FileLabels, *, image_size: int, progress: bool) -> FolderData:
    from PIL import UnidentifiedImageError

    from cpckit.data.image import read_image

    arrays: list[np.ndarray] = []
    keep: list[int] = []
    unreadable: list[str] = []
    bar = Progress(len(parsed.paths), "decoding images", enabled=progress)
    for i, rel in enumerate(parsed.paths):
        try:
            arrays.append(read_image(base / rel, image_size))
            keep.append(i)
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
            unreadable.append(rel)
        bar.update()
    bar.close()
    _warn_skipped("unreadable images", unreadable, base)
    if not keep:
        raise DataError(f"none of the {len(parsed.paths)} images under {base} could be read")
    paths, labels = _keep(parsed, keep)
    n = len(paths)
    return FolderData(
        root=base,
        modality="image",
        paths=paths,
        labels=labels,
        rows=ImageRows(np.stack(arrays)),
        file_index=np.arange(n, dtype=np.int64),
        window_start=np.zeros(n, dtype=np.int64),
        window_length=np.zeros(n, dtype=np.int64),
        skipped=[f"{p} (unreadable)" for p in unreadable],
        sample_rate=0,
    )
