"""What an evaluation reads: a labelled folder, a ``cpckit embed`` table, or a run's own data.

Each source gives an :class:`EvalData`: the rows (to re-read for the
baselines), their CPC vectors, their labels (every label key of the data,
as strings per row) and the fixed train/test split when there is one.
Label keys are checked against the data before anything is embedded.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from cpckit.errors import CpckitError
from cpckit.evaluation.frames import (
    EmbeddedRows,
    concat_embedded,
    embed_rows,
    max_batch_samples,
    row_lengths,
)
from cpckit.evaluation.options import EvaluateOptions

__all__ = [
    "EvalData",
    "Rows",
    "bundle_rows",
    "check_keys",
    "embed_with_options",
    "embeddings_data",
    "folder_data",
    "key_values",
    "label_codes",
    "run_probe_data",
]


class Rows(Dataset[dict[str, Any]]):
    """Rows of several folders (train root, test root) under one index, or a subset of them."""

    def __init__(self, parts: Sequence[Any], index: np.ndarray | None = None) -> None:
        self.parts = list(parts)
        sizes = [len(p) for p in self.parts]
        self._starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        total = int(self._starts[-1])
        self.index = np.arange(total, dtype=np.int64) if index is None else index

    def _locate(self, i: int) -> tuple[Any, int]:
        g = int(self.index[i])
        part = int(np.searchsorted(self._starts, g, side="right") - 1)
        return self.parts[part], g - int(self._starts[part])

    def __len__(self) -> int:
        return len(self.index)

    @property
    def lengths(self) -> np.ndarray | None:
        """Samples of each row (for batching by length), or None when a part does not say."""
        parts = [row_lengths(p) for p in self.parts]
        if any(p is None for p in parts):
            return None
        return np.concatenate(parts)[self.index]  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> dict[str, Any]:
        part, j = self._locate(i)
        return part[j]  # type: ignore[no-any-return]

    def wave(self, i: int) -> np.ndarray:
        part, j = self._locate(i)
        return part.wave(j)  # type: ignore[no-any-return]

    def subset(self, idx: np.ndarray) -> Rows:
        return Rows(self.parts, self.index[np.asarray(idx, dtype=np.int64)])


@dataclass
class EvalData:
    """Everything evaluated: rows, their CPC vectors, labels and provenance."""

    modality: str
    rows: Rows | None  # None: a table without its data folder
    emb: EmbeddedRows
    paths: list[str]  # per row
    windows: bool
    labels: dict[str, list[str]]  # key -> string per row
    fixed: tuple[np.ndarray, np.ndarray] | None
    info: dict[str, Any] = field(default_factory=dict)


def embed_with_options(
    model: Any,
    modality: str,
    rows: Dataset[Any],
    cfg: Any,
    opts: EvaluateOptions,
    frames: bool,
    desc: str,
) -> EmbeddedRows:
    """``rows`` embedded by ``model`` with the pooling, batch size and progress of ``opts``."""
    return embed_rows(
        model,
        modality,
        rows,
        pool=opts.pool,
        batch_size=opts.batch_size,
        frames=frames,
        max_batch_samples=max_batch_samples(int(cfg.data.sample_rate), modality),
        progress=opts.progress,
        desc=desc,
    )


def folder_data(
    pre: Any,
    modality: str,
    root: str,
    test_root: str | None,
    opts: EvaluateOptions,
    keys: Sequence[tuple[str, str | None]],
) -> EvalData:
    """A labelled folder (and a ``--test-root`` folder: the fixed split), embedded."""
    from cpckit.data.rows import open_model_folders

    cfg = pre.config
    folders = open_model_folders(
        pre, modality, root, test_root, label_regex=opts.label_regex, seed=opts.seed,
        progress=opts.progress,
    )  # fmt: skip
    common = set(folders[0].labels)
    for f in folders[1:]:
        common &= set(f.labels)
    labels = {k: [v for f in folders for v in f.row_labels(k)] for k in sorted(common)}
    check_keys(labels, keys, True)
    rows = Rows([f.rows for f in folders])
    frames = opts.frame_labels is not None
    emb = concat_embedded(
        [
            embed_with_options(
                pre.model, modality, f.rows, cfg, opts, frames, f"embedding {f.root.name}"
            )
            for f in folders
        ]
    )
    fixed = None
    if len(folders) == 2:
        n0, n1 = len(folders[0].rows), len(folders[1].rows)
        fixed = (np.arange(n0), n0 + np.arange(n1))
    info: dict[str, Any] = {
        "root": str(Path(root).resolve()),
        "rows": len(rows),
        "skipped": [s for f in folders for s in f.skipped],
    }
    if test_root is not None:
        info["test_root"] = str(Path(test_root).resolve())
        info["test_rows"] = len(folders[1].rows)
    return EvalData(
        modality=modality,
        rows=rows,
        emb=emb,
        paths=[f.paths[i] for f in folders for i in f.file_index.tolist()],
        windows=False,
        labels=labels,
        fixed=fixed,
        info=info,
    )


def _table_emb(table: dict[str, np.ndarray]) -> EmbeddedRows:
    n = len(table["paths"])
    ctx = table["context"].astype(np.float32)
    emb = EmbeddedRows(
        context=ctx,
        latent=table["latent"].astype(np.float32),
        view_a=table["view_a"] if "view_a" in table else np.zeros_like(ctx),
        view_b=table["view_b"] if "view_b" in table else np.zeros_like(ctx),
        n_steps=table["n_steps"] if "n_steps" in table else np.zeros(n, dtype=np.int64),
    )
    if "frame_offsets" in table:
        emb.context_frames = table["context_frames"]
        emb.latent_frames = table["latent_frames"]
        emb.frame_offsets = table["frame_offsets"]
    return emb


def _table_labels(table: dict[str, np.ndarray]) -> dict[str, list[str]]:
    out = {}
    for key in table.get("label_keys", np.zeros(0, dtype=str)).tolist():
        names = table[f"{key}_names"]
        out[str(key)] = [str(names[c]) for c in table[key].tolist()]
    return out


def _table_rows(table: dict[str, np.ndarray], pre: Any, modality: str, where: str) -> Any:
    """The rows of a table, decoded again from the folder it records (for baselines)."""
    from cpckit.data.rows import AudioRows, open_folder

    root = str(table["root"]) if "root" in table else ""
    if not root or not Path(root).is_dir():
        raise CpckitError(
            f"the baselines need the files of {where}, but its data folder {root or '(none)'} "
            "is not there: use --audio-root/--image-root, or --baselines none"
        )
    paths = table["paths"].tolist()
    file_index = table["file_index"] if "file_index" in table else np.arange(len(paths))
    unique: dict[int, str] = {}
    for f, p in zip(file_index.tolist(), paths):
        unique.setdefault(int(f), str(p))
    order = sorted(unique)
    cfg = pre.config
    data = open_folder(
        root,
        modality,
        sample_rate=int(cfg.data.sample_rate),
        normalize=bool(cfg.data.normalize),
        image_size=int(cfg.data.image_size),
        files=[unique[f] for f in order],
        cache=True,
        progress=False,
    )
    if data.skipped or len(data.paths) != len(order):
        raise CpckitError(
            f"{len(order) - len(data.paths)} files of {where} can no longer be read under {root}"
        )
    if modality != "audio":
        return data.rows
    pos = {f: i for i, f in enumerate(order)}
    assert isinstance(data.rows, AudioRows)
    return AudioRows(
        data.rows.clips,
        np.asarray([pos[int(f)] for f in file_index.tolist()], dtype=np.int64),
        table["window_start"],
        table["window_length"],
    )


def embeddings_data(
    pre: Any,
    path: str,
    test_path: str | None,
    need_rows: bool,
    keys: Sequence[tuple[str, str | None]],
) -> EvalData:
    """A ``cpckit embed`` table (and a test table); its rows re-read when ``need_rows``."""
    from cpckit.evaluation.embed import load_embeddings

    tables = [load_embeddings(path)] + ([load_embeddings(test_path)] if test_path else [])
    modality = str(tables[0].get("modality", np.asarray("audio")))
    for t, where in zip(tables, [path, test_path]):
        if str(t.get("modality", np.asarray("audio"))) != modality:
            raise CpckitError(f"{where} holds {t['modality']} rows, {path} holds {modality} rows")
        if t["context"].shape[1] != tables[0]["context"].shape[1]:
            raise CpckitError(f"{where} and {path} come from models of different widths")
    label_sets = [_table_labels(t) for t in tables]
    common = set(label_sets[0])
    for ls in label_sets[1:]:
        common &= set(ls)
    labels = {k: [v for ls in label_sets for v in ls[k]] for k in sorted(common)}
    check_keys(labels, keys, False)
    rows = None
    if need_rows:
        wheres = [path] + ([test_path] if test_path is not None else [])
        rows = Rows([_table_rows(t, pre, modality, w) for t, w in zip(tables, wheres)])
    fixed = None
    if len(tables) == 2:
        n0, n1 = len(tables[0]["paths"]), len(tables[1]["paths"])
        fixed = (np.arange(n0), n0 + np.arange(n1))
    windows = any(
        "file_index" in t and len(np.unique(t["file_index"])) < len(t["file_index"]) for t in tables
    )
    if windows:
        warnings.warn(
            "the embeddings hold several windows per file: a random split can put windows of "
            "one file on both sides; --protocol group with a file-level key avoids that",
            stacklevel=3,
        )
    info: dict[str, Any] = {
        "embeddings": str(Path(path).resolve()),
        "rows": len(tables[0]["paths"]),
    }
    if test_path is not None:
        info["test_embeddings"] = str(Path(test_path).resolve())
        info["test_rows"] = len(tables[1]["paths"])
    return EvalData(
        modality=modality,
        rows=rows,
        emb=concat_embedded([_table_emb(t) for t in tables]),
        paths=[str(p) for t in tables for p in t["paths"].tolist()],
        windows=windows,
        labels=labels,
        fixed=fixed,
        info=info,
    )


def bundle_rows(bundle: Any, cfg: Any) -> tuple[Rows, tuple[np.ndarray, np.ndarray]]:
    """A run's probe rows: its probe-train then probe-test examples, and that fixed split.

    Each side is capped at ``eval.max_examples`` by a seeded subset (seed
    ``train.seed`` and ``train.seed + 1``), as the end-of-training evaluation
    has always drawn them.
    """
    from cpckit.evaluation.frames import limit

    seed, cap = int(cfg.train.seed), int(cfg.eval.max_examples)
    train = limit(bundle.probe_train, cap, seed)
    test = limit(bundle.probe_test, cap, seed + 1)
    n0, n1 = len(train), len(test)  # type: ignore[arg-type]
    return Rows([train, test]), (np.arange(n0), n0 + np.arange(n1))


def run_probe_data(pre: Any, modality: str, opts: EvaluateOptions) -> EvalData:
    """The run's own data and probe split, rebuilt from its saved config."""
    from cpckit.data.datamodule import build_datasets

    cfg = pre.config
    bundle = build_datasets(cfg)
    rows, fixed = bundle_rows(bundle, cfg)
    emb = embed_with_options(
        pre.model, modality, rows, cfg, opts, False, "embedding the run's probe rows"
    )
    labels: dict[str, list[str]] = {}
    names = list(bundle.label_names)
    if emb.labels is not None and (emb.labels >= 0).all():
        labels["label"] = [names[i] if i < len(names) else str(i) for i in emb.labels.tolist()]
    if emb.groups is not None and (emb.groups >= 0).all():
        labels["group"] = [str(i) for i in emb.groups.tolist()]
    return EvalData(
        modality=modality,
        rows=rows,
        emb=emb,
        paths=[str(i) for i in range(len(rows))],
        windows=False,
        labels=labels,
        fixed=fixed,
        info={
            "run_data": True,
            "rows": len(rows),
            "train_rows": int(len(fixed[0])),
            "label_names": names,
        },
    )


def label_codes(values: list[str]) -> tuple[np.ndarray, list[str]]:
    """Integer codes of string labels, and the names of the codes."""
    from cpckit.data.labels import encode_labels

    return encode_labels(values)


def check_keys(
    labels: dict[str, list[str]], keys: Sequence[tuple[str, str | None]], folder: bool
) -> None:
    """Every ``(flag, key)`` names a label of the data (checked before any embedding)."""
    have = ", ".join(sorted(labels)) or "none"
    for flag, key in keys:
        if key is not None and key not in labels:
            hint = (
                " (give --label-regex with a group of that name, or use 'folder' for class folders)"
                if folder
                else ""
            )
            raise CpckitError(f"{flag} {key!r} is not a label of this data; labels: {have}{hint}")


def key_values(data: EvalData, key: str, flag: str) -> list[str]:
    """The ``key`` label of every row (``flag`` names the option in the error)."""
    check_keys(data.labels, [(flag, key)], data.rows is not None)
    return data.labels[key]
