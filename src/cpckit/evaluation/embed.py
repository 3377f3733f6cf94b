"""Embed every file of a folder with a trained model; read and write the ``.npz`` tables.

The whole clip (or image) is encoded: no crop and no pad at embedding time.
Clips of different lengths are batched with zero padding. Only the latent
steps that cannot see past a clip's end are pooled (the encoder's own
``valid_mask``: for the conv encoder, steps whose receptive field lies in the
clip; for the log-mel encoder, frames whose STFT window and CNN context lie
inside the clip), so a clip's vectors do not depend on what it was batched
with and equal those of the clip alone. The encoding itself is
:mod:`cpckit.evaluation.frames`, the one path every figure goes through.

The table written by :func:`save_embeddings` (``cpckit embed --out FILE.npz``)
holds one row per file, or per window with ``windows_per_file``:

=================== ================ =============================================
key                 shape            meaning
=================== ================ =============================================
``paths``           ``(N,)`` str     file path relative to the root (``/``)
``context``         ``(N, C)`` f32   context vectors pooled over the valid steps
``latent``          ``(N, D)`` f32   latent vectors pooled over the valid steps
``view_a/view_b``   ``(N, C)`` f32   pooled context of the first / second half
                                     of the latent sequence, each half run
                                     through the context model alone (the
                                     positive pairs of the alignment metric)
``n_steps``         ``(N,)`` i64     valid latent steps of the row
``file_index``      ``(N,)`` i64     the row's file (index into the unique files)
``window_start``    ``(N,)`` i64     first sample of the row (audio, model rate)
``window_length``   ``(N,)`` i64     samples of the row (audio, model rate)
``<key>``           ``(N,)`` i64     label codes for each named group of the
                                     label regex (and ``folder``: the parent
                                     folder's name, when every file has one)
``<key>_names``     ``(K,)`` str     code -> label string
``label_keys``      ``(k,)`` str     the label arrays present
``context_frames``  ``(sum n, C)``   with ``frames``: the valid context steps of
                                     every row, concatenated
``latent_frames``   ``(sum n, D)``   the same for the latents
``frame_offsets``   ``(N + 1,)`` i64 row ``i`` owns frames
                                     ``frame_offsets[i]:frame_offsets[i + 1]``
``skipped``         ``(M,)`` str     files left out (unreadable, or too short
                                     for one latent step)
metadata            0-d              ``modality``, ``root``, ``checkpoint``,
                                     ``pool``, ``sample_rate``, ``image_size``
=================== ================ =============================================

Everything is a plain numeric or unicode array: ``np.load(path)`` reads it
without ``allow_pickle``. Frames are stored flat with offsets (no object
arrays, no padding): :func:`frames_of` returns one row's sequence.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from cpckit.encoders.steps import latent_steps, min_samples
from cpckit.errors import CpckitError, DataError
from cpckit.evaluation.frames import (
    DEFAULT_MAX_BATCH_SECONDS,
    BatchVectors,
    EmbeddedRows,
    check_pool,
    embed_rows,
    encode_batch,
)
from cpckit.model import CPCModel
from cpckit.progress import Progress

__all__ = [
    "AUDIO_EXTENSIONS",
    "IMAGE_EXTENSIONS",
    "AudioRows",
    "BatchVectors",
    "EmbeddedRows",
    "FolderData",
    "ImageRows",
    "Progress",
    "embed_folder",
    "embed_rows",
    "encode_batch",
    "find_files",
    "frames_of",
    "latent_steps",
    "load_embeddings",
    "min_samples",
    "open_folder",
    "parse_file_labels",
    "save_embeddings",
]

AUDIO_EXTENSIONS: tuple[str, ...] = ("wav", "flac", "ogg")
"""Audio formats searched first; any other format soundfile reads is used when none is found."""
IMAGE_EXTENSIONS: tuple[str, ...] = ("png", "jpg", "jpeg", "bmp", "gif", "tif", "tiff", "webp")
"""Image formats searched (case-insensitive)."""

FOLDER_KEY = "folder"
RESERVED_KEYS = frozenset(
    {
        "paths",
        "context",
        "latent",
        "view_a",
        "view_b",
        "n_steps",
        "file_index",
        "window_start",
        "window_length",
        "label_keys",
        "context_frames",
        "latent_frames",
        "frame_offsets",
        "skipped",
        "modality",
        "root",
        "checkpoint",
        "pool",
        "sample_rate",
        "image_size",
    }
)
"""Array names of the table; a label regex group may not use one of them."""

_LISTED = 5


# ----------------------------------------------------------------------------- progress


# ----------------------------------------------------------------------------- files and labels


def _examples(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_LISTED])
    return shown + (f", ... ({len(items) - _LISTED} more)" if len(items) > _LISTED else "")


def _walk(root: Path, suffixes: tuple[str, ...]) -> list[str]:
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        rel_dir = Path(dirpath).relative_to(root)
        for name in filenames:
            if not name.startswith(".") and name.lower().endswith(suffixes):
                found.append((rel_dir / name).as_posix())
    return sorted(found)


def find_files(root: str | os.PathLike[str], modality: str) -> list[str]:
    """Relative ``/``-separated paths of the audio or image files under ``root``, sorted.

    The search is recursive; hidden files and folders are ignored. Audio:
    wav, flac and ogg, or, when there are none, any format soundfile reads.

    Raises:
        DataError: ``root`` is missing, not a folder, or holds no such file.
    """
    base = Path(root)
    flag = "--audio-root" if modality == "audio" else "--image-root"
    if not base.exists():
        raise DataError(f"{flag} {base} does not exist")
    if not base.is_dir():
        raise DataError(f"{flag} {base} is not a folder")
    if modality == "audio":
        from cpckit.data.audio_files import supported_extensions

        files = _walk(base, tuple("." + e for e in AUDIO_EXTENSIONS))
        if not files:
            others = [e for e in supported_extensions() if e not in AUDIO_EXTENSIONS]
            files = _walk(base, tuple("." + e for e in others))
        what = "audio files (wav, flac, ogg or another format soundfile reads)"
    else:
        files = _walk(base, tuple("." + e for e in IMAGE_EXTENSIONS))
        what = f"image files ({', '.join(IMAGE_EXTENSIONS)})"
    if not files:
        raise DataError(f"no {what} under {flag} {base}")
    return files


@dataclass
class FileLabels:
    """The files kept after label parsing and their label strings.

    Attributes:
        paths: kept relative paths, in input order.
        values: label key -> one string per kept path (every named group of
            the regex, and ``folder`` when every kept file has a parent folder).
        unmatched: paths whose names did not match the regex (left out).
    """

    paths: list[str]
    values: dict[str, list[str]]
    unmatched: list[str] = field(default_factory=list)


def parse_file_labels(
    paths: Sequence[str], label_regex: str | None, *, source: str = "the folder"
) -> FileLabels:
    """Every named group of ``label_regex`` (matched against whole file names) as labels.

    Files whose names do not match are left out with one warning. The key
    ``folder`` (the parent folder's name) is added when the regex has no
    group of that name and every kept file lies in a subfolder.

    Raises:
        DataError: the regex does not compile, has no named group, names a
            group like an array of the table, or matches no file.
    """
    values: dict[str, list[str]] = {}
    kept = list(paths)
    unmatched: list[str] = []
    if label_regex is not None:
        try:
            regex = re.compile(label_regex)
        except re.error as err:
            raise DataError(f"--label-regex '{label_regex}' is not a valid regex: {err}") from None
        groups = sorted(regex.groupindex, key=lambda g: regex.groupindex[g])
        if not groups:
            raise DataError(
                f"--label-regex '{label_regex}' has no named group: name the parts to keep, "
                r"e.g. (?P<digit>\d)_(?P<speaker>[a-z]+)_\d+\.wav"
            )
        bad = [g for g in groups if g in RESERVED_KEYS or g.endswith("_names")]
        if bad:
            raise DataError(
                f"--label-regex group {bad[0]!r} would overwrite an array of the embeddings "
                f"table; rename it (reserved: {', '.join(sorted(RESERVED_KEYS))}, *_names)"
            )
        values = {g: [] for g in groups}
        kept = []
        for rel in paths:
            m = regex.fullmatch(PurePosixPath(rel).name)
            if m is None:
                unmatched.append(rel)
                continue
            kept.append(rel)
            for g in groups:
                values[g].append(m.group(g) or "")
        if not kept:
            raise DataError(
                f"no file of the {len(paths)} in {source} matches --label-regex '{label_regex}' "
                f"(e.g. {_examples(list(paths))})"
            )
        if unmatched:
            warnings.warn(
                f"{len(unmatched)} of {len(paths)} files in {source} do not match --label-regex "
                f"'{label_regex}' and are left out: {_examples(unmatched)}",
                stacklevel=2,
            )
    if FOLDER_KEY not in values and kept and all("/" in p for p in kept):
        values[FOLDER_KEY] = [PurePosixPath(p).parent.name for p in kept]
    return FileLabels(kept, values, unmatched)


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
        warnings.warn(f"skipped {len(names)} {kind} under {root}: {_examples(names)}", stacklevel=3)


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
        raise CpckitError("give --windows-per-file and --window-seconds together")
    if windows_per_file is not None and modality != "audio":
        raise CpckitError("--windows-per-file and --window-seconds are for audio only")
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
                f"{sample_rate} Hz): {_examples(too_short)}",
                stacklevel=3,
            )
            good = np.flatnonzero(steps >= 1)
            if not len(good):
                raise DataError(
                    f"every clip under {base} is too short for one latent step (the encoder "
                    f"needs at least {need} samples at {sample_rate} Hz): {_examples(too_short)}"
                )
            clips = clips.subset(good)
            keep = [keep[i] for i in good.tolist()]
            lengths = lengths[good]
    paths, labels = _keep(parsed, keep)
    if windows_per_file is not None and window_seconds is not None:
        if windows_per_file < 1:
            raise CpckitError(f"--windows-per-file = {windows_per_file} must be >= 1")
        window = int(round(window_seconds * sample_rate))
        if window < 1:
            raise CpckitError(f"--window-seconds = {window_seconds:g} is shorter than one sample")
        if encoder is not None and latent_steps(encoder, [window])[0] < 1:
            raise CpckitError(
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
        skipped=[f"{p} (unreadable)" for p in unreadable] + [f"{p} (too short)" for p in too_short],
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


# ----------------------------------------------------------------------------- tables


def _encode_strings(values: list[str]) -> tuple[np.ndarray, np.ndarray]:
    from cpckit.data.labels import encode_labels

    codes, names = encode_labels(values)
    return codes, np.asarray(names, dtype=str)


def embed_folder(
    model: CPCModel,
    config: Any,
    root: str | os.PathLike[str],
    *,
    modality: str | None = None,
    pool: str = "mean",
    frames: bool = False,
    label_regex: str | None = None,
    windows_per_file: int | None = None,
    window_seconds: float | None = None,
    batch_size: int = 32,
    max_batch_seconds: float | None = DEFAULT_MAX_BATCH_SECONDS,
    seed: int = 0,
    progress: bool = False,
    checkpoint: str = "",
) -> dict[str, np.ndarray]:
    """Embed every file under ``root``: the table of the module notes, as a dict of arrays."""
    if modality is None:
        modality = model.modalities[0]
    if modality not in model.modalities:
        raise CpckitError(f"this model has no {modality} encoder; it has {model.modalities}")
    check_pool(pool, modality, "--pool")
    sample_rate = int(config.data.sample_rate)
    data = open_folder(
        root,
        modality,
        sample_rate=sample_rate,
        normalize=bool(config.data.normalize),
        image_size=int(config.data.image_size),
        encoder=model.encoders[modality] if modality == "audio" else None,
        label_regex=label_regex,
        windows_per_file=windows_per_file,
        window_seconds=window_seconds,
        seed=seed,
        cache=False,
        progress=progress,
    )
    max_samples = None
    if modality == "audio" and max_batch_seconds is not None:
        max_samples = max(1, int(max_batch_seconds * sample_rate))
    emb = embed_rows(
        model,
        modality,
        data.rows,
        pool=pool,
        batch_size=batch_size,
        frames=frames,
        max_batch_samples=max_samples,
        progress=progress,
    )
    return table_from(
        data, emb, pool=pool, checkpoint=checkpoint, image_size=config.data.image_size
    )


def table_from(
    data: FolderData, emb: EmbeddedRows, *, pool: str, checkpoint: str, image_size: int
) -> dict[str, np.ndarray]:
    """The ``.npz`` table of a folder's rows and their vectors."""
    out: dict[str, np.ndarray] = {
        "paths": np.asarray([data.paths[i] for i in data.file_index.tolist()], dtype=str),
        "context": emb.context,
        "latent": emb.latent,
        "view_a": emb.view_a,
        "view_b": emb.view_b,
        "n_steps": emb.n_steps,
        "file_index": data.file_index,
        "window_start": data.window_start,
        "window_length": data.window_length,
    }
    for key in data.labels:
        codes, names = _encode_strings(data.row_labels(key))
        out[key] = codes
        out[f"{key}_names"] = names
    out["label_keys"] = np.asarray(list(data.labels), dtype=str)
    if emb.frame_offsets is not None:
        assert emb.context_frames is not None and emb.latent_frames is not None
        out["context_frames"] = emb.context_frames
        out["latent_frames"] = emb.latent_frames
        out["frame_offsets"] = emb.frame_offsets
    out["skipped"] = np.asarray(data.skipped, dtype=str)
    out["modality"] = np.asarray(data.modality)
    out["root"] = np.asarray(str(data.root.resolve()))
    out["checkpoint"] = np.asarray(checkpoint)
    out["pool"] = np.asarray(pool)
    out["sample_rate"] = np.asarray(data.sample_rate, dtype=np.int64)
    out["image_size"] = np.asarray(image_size, dtype=np.int64)
    return out


def save_embeddings(table: dict[str, np.ndarray], path: str | os.PathLike[str]) -> Path:
    """Write the table to ``path`` (exactly that name), atomically."""
    p = Path(path)
    if p.parent and not p.parent.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **table)  # type: ignore[arg-type]
        os.replace(tmp, p)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return p


def load_embeddings(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a table written by :func:`save_embeddings` (``cpckit embed``).

    Raises:
        DataError: the file is missing, unreadable, or lacks ``paths`` / ``context`` / ``latent``.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"embeddings file {p} does not exist")
    try:
        with np.load(p, allow_pickle=False) as blob:
            table = {k: blob[k] for k in blob.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"{p} is not a readable .npz file ({exc})") from None
    missing = [k for k in ("paths", "context", "latent") if k not in table]
    if missing:
        raise DataError(
            f"{p} is not a cpckit embeddings table: it has no {', '.join(missing)} "
            "(write one with `cpckit embed`)"
        )
    return table


def frames_of(table: dict[str, np.ndarray], i: int, which: str = "context") -> np.ndarray:
    """Row ``i``'s frame sequence from a table: ``(n_steps[i], C)`` context or latents."""
    key = f"{which}_frames"
    if key not in table or "frame_offsets" not in table:
        raise CpckitError("this embeddings table holds no frames (run `cpckit embed --frames`)")
    off = table["frame_offsets"]
    return table[key][off[i] : off[i + 1]]
