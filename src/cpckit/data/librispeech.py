"""LibriSpeech: ``speaker/chapter/speaker-chapter-utt.flac`` with speaker labels, and phone alignments.

The root may be a LibriSpeech folder holding subsets
(``root/train-clean-100/19/198/19-198-0001.flac``, choose them with
``subsets``) or a folder of speakers itself. Frame-level phone labels are
read from the common alignment text format: one line per utterance, its id
then one label per 10 ms frame (integers, or strings mapped through a
vocabulary)::

    19-198-0001 0 0 0 12 12 12 5 ...
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import numpy as np

from cpckit.data.audio import AudioFolderDataset
from cpckit.data.audio_files import find_audio_files
from cpckit.data.labels import NAME_PATTERNS
from cpckit.errors import ConfigError, DataError

__all__ = [
    "ALIGNMENT_FRAME_S",
    "LIBRISPEECH_SUBSETS",
    "LibriSpeechDataset",
    "alignment_vocabulary",
    "in_librispeech_layout",
    "latent_frame_labels",
    "read_alignments",
]

LIBRISPEECH_SUBSETS: tuple[str, ...] = (
    "dev-clean",
    "dev-other",
    "test-clean",
    "test-other",
    "train-clean-100",
    "train-clean-360",
    "train-other-500",
)
"""The audio subsets of LibriSpeech (OpenSLR resource 12)."""

ALIGNMENT_FRAME_S = 0.01
"""Seconds per frame of the alignment format (10 ms)."""

_KEYS = ("speaker", "chapter")


def in_librispeech_layout(rel: str) -> bool:
    """True when a relative path ends in ``speaker/chapter/speaker-chapter-utt.flac``."""
    p = PurePosixPath(rel)
    if p.suffix.lower() != ".flac":
        return False
    parts = p.stem.split("-")
    return (
        len(p.parts) >= 3
        and len(parts) == 3
        and all(x.isdigit() for x in parts)
        and p.parts[-3] == parts[0]
        and p.parts[-2] == parts[1]
    )


class LibriSpeechDataset(AudioFolderDataset):
    """LibriSpeech utterances with speaker (or chapter) labels and groups.

    Args:
        root: a LibriSpeech folder (holding subsets) or a folder of speakers.
        sample_rate: Hz (LibriSpeech is 16 kHz; other rates are resampled).
        subsets: subset folders under ``root`` to read (e.g. ``["dev-clean"]``);
            None reads everything under ``root``.
        label_key: ``"speaker"`` or ``"chapter"`` (or None for no label).
        group_key: ``"speaker"`` or ``"chapter"`` (or None for no group).
        window_samples, short_clips, normalize, cache, seed, progress: as
            :class:`~cpckit.data.audio.AudioFolderDataset` (the cache is off by
            default: train-clean-100 is 23 GB as float32).
        files: relative paths to use instead of searching.

    Files not in the ``speaker/chapter/speaker-chapter-utt.flac`` layout are
    left out with a warning.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        sample_rate: int = 16000,
        *,
        subsets: Sequence[str] | None = None,
        label_key: str | None = "speaker",
        group_key: str | None = "speaker",
        window_samples: int | None = None,
        short_clips: str = "pad",
        normalize: bool = False,
        cache: bool = False,
        seed: int = 0,
        files: Sequence[str | os.PathLike[str]] | None = None,
        progress: bool = False,
    ) -> None:
        for arg, key in (("label_key", label_key), ("group_key", group_key)):
            if key is not None and key not in _KEYS:
                raise ConfigError(
                    f"{arg} = {key!r} is not valid for LibriSpeech: expected 'speaker' or 'chapter'"
                )
        base = Path(root)
        if files is None:
            files = self._find(base, subsets)
        super().__init__(
            base,
            sample_rate,
            extensions=("flac",),
            label_regex=NAME_PATTERNS["librispeech"],
            label_key=label_key,
            group_key=group_key,
            window_samples=window_samples,
            short_clips=short_clips,
            normalize=normalize,
            cache=cache,
            seed=seed,
            files=files,
            progress=progress,
        )

    @staticmethod
    def _find(base: Path, subsets: Sequence[str] | None) -> list[str]:
        if not base.is_dir():
            raise DataError(
                f"LibriSpeech root {base} is not a folder (run `cpckit prepare librispeech`)"
            )
        if subsets is None:
            found = find_audio_files(base, ("flac",))
        else:
            if isinstance(subsets, str):
                subsets = [subsets]
            found = []
            for subset in subsets:
                if not (base / subset).is_dir():
                    present = sorted(
                        d.name for d in base.iterdir() if d.name in LIBRISPEECH_SUBSETS
                    )
                    raise DataError(
                        f"subset {subset!r} is not under {base} (found: "
                        f"{', '.join(present) or 'none'}); run `cpckit prepare librispeech "
                        f"--subsets {subset}`"
                    )
                found += [f"{subset}/{p}" for p in find_audio_files(base / subset, ("flac",))]
        if not found:
            raise DataError(f"no LibriSpeech .flac files under {base}")
        good = [p for p in found if in_librispeech_layout(p)]
        bad = [p for p in found if not in_librispeech_layout(p)]
        if not good:
            raise DataError(
                f"no file under {base} is in the LibriSpeech layout "
                f"speaker/chapter/speaker-chapter-utt.flac (e.g. {bad[0]})"
            )
        if bad:
            warnings.warn(
                f"{len(bad)} of {len(found)} .flac files under {base} are not in the LibriSpeech "
                f"layout speaker/chapter/speaker-chapter-utt.flac and are left out: "
                f"{', '.join(bad[:5])}",
                stacklevel=3,
            )
        return good

    @property
    def utterance_ids(self) -> list[str]:
        """Utterance id (``speaker-chapter-utt``) of each clip."""
        return [PurePosixPath(p).stem for p in self.paths]

    @property
    def speaker_ids(self) -> list[str]:
        """Speaker id (string) of each clip."""
        return [u.split("-")[0] for u in self.utterance_ids]

    @property
    def chapter_ids(self) -> list[str]:
        """Chapter id (string) of each clip."""
        return [u.split("-")[1] for u in self.utterance_ids]


# ----------------------------------------------------------------------------- alignments


def _lines(path: str | os.PathLike[str]) -> list[tuple[int, list[str]]]:
    p = Path(path)
    if not p.is_file():
        raise DataError(f"alignment file {p} does not exist")
    out: list[tuple[int, list[str]]] = []
    with open(p, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            tokens = line.split()
            if tokens:
                out.append((lineno, tokens))
    if not out:
        raise DataError(f"alignment file {p} holds no utterances")
    return out


def alignment_vocabulary(path: str | os.PathLike[str]) -> list[str]:
    """Sorted distinct frame labels of an alignment file (for string labels).

    Raises:
        DataError: the file is missing or empty.
    """
    labels: set[str] = set()
    for _, tokens in _lines(path):
        labels.update(tokens[1:])
    return sorted(labels)


def read_alignments(
    path: str | os.PathLike[str], *, vocabulary: Sequence[str] | None = None
) -> dict[str, np.ndarray]:
    """Frame-level labels per utterance from an alignment text file.

    Each non-blank line is an utterance id followed by one label per 10 ms
    frame. Without ``vocabulary`` the labels must be integers; with it, each
    label must be one of its entries and maps to its index (see
    :func:`alignment_vocabulary`).

    Returns:
        utterance id -> ``(n_frames,)`` int64 labels.

    Raises:
        DataError: naming the file and line: a line with no labels, a label
            that is not an integer (or not in the vocabulary), a repeated id.
    """
    index = {label: i for i, label in enumerate(vocabulary)} if vocabulary is not None else None
    out: dict[str, np.ndarray] = {}
    for lineno, tokens in _lines(path):
        where = f"{os.fspath(path)}:{lineno}"
        utt, labels = tokens[0], tokens[1:]
        if not labels:
            raise DataError(f"{where}: utterance {utt!r} has no frame labels")
        if utt in out:
            raise DataError(f"{where}: utterance {utt!r} appears a second time")
        if index is not None:
            unknown = next((t for t in labels if t not in index), None)
            if unknown is not None:
                raise DataError(
                    f"{where}: frame label {unknown!r} is not in the vocabulary "
                    f"({len(index)} labels, e.g. {', '.join(list(index)[:5])})"
                )
            out[utt] = np.fromiter((index[t] for t in labels), dtype=np.int64, count=len(labels))
            continue
        try:
            out[utt] = np.array([int(t) for t in labels], dtype=np.int64)
        except ValueError:
            bad = next(t for t in labels if not t.lstrip("+-").isdigit())
            raise DataError(
                f"{where}: frame label {bad!r} is not an integer; pass "
                "vocabulary=alignment_vocabulary(path) to read string labels"
            ) from None
    return out


def latent_frame_labels(
    frames: np.ndarray,
    n_latent: int,
    downsampling: int,
    sample_rate: int,
    frame_s: float = ALIGNMENT_FRAME_S,
) -> np.ndarray:
    """The alignment label of each latent step: the frame holding the step's first sample.

    Steps past the end of the alignment get -1. With 160x downsampling at
    16 kHz a latent step is exactly one 10 ms frame.

    Shape:
        frames: ``(F,)`` int -> ``(n_latent,)`` int64
    """
    starts = np.arange(n_latent, dtype=np.int64) * downsampling
    idx = np.floor(starts / (frame_s * sample_rate) + 1e-9).astype(np.int64)
    out = np.full(n_latent, -1, dtype=np.int64)
    inside = idx < len(frames)
    out[inside] = np.asarray(frames, dtype=np.int64)[idx[inside]]
    return out
