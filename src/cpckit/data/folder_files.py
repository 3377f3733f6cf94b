"""The files of a folder to embed: the audio or image files under it, and labels from their names.

:func:`find_files` finds them (hidden files and folders left out);
:func:`parse_file_labels` takes every named group of a label regex as a
label (the rows of :mod:`cpckit.data.rows` are opened from these).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from cpckit.data.files import walk_files
from cpckit.data.labels import FOLDER_KEY, compile_label_regex, match_names
from cpckit.errors import DataError, LabelPatternError

__all__ = [
    "AUDIO_EXTENSIONS",
    "IMAGE_EXTENSIONS",
    "RESERVED_KEYS",
    "FileLabels",
    "find_files",
    "parse_file_labels",
]

AUDIO_EXTENSIONS: tuple[str, ...] = ("wav", "flac", "ogg")
"""Audio formats searched first; any other format soundfile reads is used when none is found."""
IMAGE_EXTENSIONS: tuple[str, ...] = ("png", "jpg", "jpeg", "bmp", "gif", "tif", "tiff", "webp")
"""Image formats searched (case-insensitive)."""

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
"""Array names of the embeddings table (:mod:`cpckit.evaluation.embed`); no label may use one."""


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

        files = walk_files(base, AUDIO_EXTENSIONS)
        if not files:
            others = [e for e in supported_extensions() if e not in AUDIO_EXTENSIONS]
            files = walk_files(base, others)
        what = "audio files (wav, flac, ogg or another format soundfile reads)"
    else:
        files = walk_files(base, IMAGE_EXTENSIONS)
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
        regex = compile_label_regex(label_regex, option="--label-regex")
        groups = sorted(regex.groupindex, key=lambda g: regex.groupindex[g])
        if not groups:
            raise LabelPatternError(
                f"--label-regex '{label_regex}' has no named group: name the parts to keep, "
                r"e.g. (?P<digit>\d)_(?P<speaker>[a-z]+)_\d+\.wav"
            )
        bad = [g for g in groups if g in RESERVED_KEYS or g.endswith("_names")]
        if bad:
            raise LabelPatternError(
                f"--label-regex group {bad[0]!r} would overwrite an array of the embeddings "
                f"table; rename it (reserved: {', '.join(sorted(RESERVED_KEYS))}, *_names)"
            )
        kept, values, unmatched = match_names(
            paths, regex, groups, strict=False, source=source, option="--label-regex"
        )
    if FOLDER_KEY not in values and kept and all("/" in p for p in kept):
        values[FOLDER_KEY] = [PurePosixPath(p).parent.name for p in kept]
    return FileLabels(kept, values, unmatched)
