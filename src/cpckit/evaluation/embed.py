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
from pathlib import Path
from typing import Any

import numpy as np

from cpckit.data.rows import FolderData, open_folder
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

__all__ = [
    "BatchVectors",
    "EmbeddedRows",
    "embed_folder",
    "embed_rows",
    "encode_batch",
    "frames_of",
    "latent_steps",
    "load_embeddings",
    "min_samples",
    "save_embeddings",
]


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
    from cpckit.training.run_folder import atomic_write

    p = Path(path)
    atomic_write(p, lambda fh: np.savez(fh, **table))  # type: ignore[arg-type]
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
