"""``cpckit evaluate``: probes and baselines of a checkpoint on a dataset, under one protocol.

One run embeds a labelled folder (or reads a ``cpckit embed`` table), fits
probes on the CPC context and latent vectors and, on the same splits, on
every baseline asked for:

- ``random``: the same architecture with random weights (frozen features);
- ``mfcc`` / ``pixels``: MFCC statistics of the audio, or the raw pixels;
- ``supervised``: the same architecture trained end to end from scratch
  (encoder + context + a linear head on the pooled context, cross-entropy);
- ``finetune``: the same, started from the CPC weights.

Protocols (the probe layer of :mod:`cpckit.evaluation.probe`): ``split`` (a
``--test-root`` folder, or a seeded stratified ratio split), ``kfold``
(stratified k-fold), ``fraction`` (fit on 10 %, test on 90 %) and ``group``
(test on unseen groups). Frame-level probes use phone alignments: each
utterance's frame labels are mapped to its latent steps and the utterances
are split as the protocol splits them. Alignment and uniformity (and a
t-SNE map) come with every run.

Results go to ``evaluation.json`` and ``evaluation.md`` in the output
folder (the run folder by default, where ``cpckit report`` shows them).
"""

from __future__ import annotations

import copy
import json
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from cpckit.errors import CpckitError
from cpckit.evaluation.baselines import INPUT_BASELINES, input_features, random_model
from cpckit.evaluation.frames import EmbeddedRows, concat_embedded, embed_rows, max_batch_samples
from cpckit.evaluation.probe import CLASSIFIERS, ProbeResult
from cpckit.evaluation.splits import PROTOCOLS, option_splits, protocol_name, protocol_splits
from cpckit.model import POOLS

__all__ = [
    "BASELINES",
    "EVALUATION_JSON",
    "EVALUATION_MD",
    "PROTOCOLS",
    "EvaluateOptions",
    "evaluate_checkpoint",
    "markdown_tables",
    "protocol_splits",
]

BASELINES = ("random", "mfcc", "pixels", "supervised", "finetune")
"""Valid names in ``--baselines`` (and ``none``)."""
RUN_SPLIT = "split (the run's probe split)"
"""Protocol name of the rows measured on a run's own probe split (``metrics.json``, ``--run-data``)."""
EVALUATION_JSON = "evaluation.json"
EVALUATION_MD = "evaluation.md"



@dataclass
class EvaluateOptions:
    """Settings of one evaluation (the ``cpckit evaluate`` flags).

    Attributes:
        protocol: ``split``, ``kfold``, ``fraction`` or ``group``.
        classifier: ``linear``, ``linear-cv`` or ``mlp``.
        label_regex: regex whose named groups give labels (folders).
        label_key: label to probe (a regex group, ``folder``, or an array of the table).
        group_key: group for ``--protocol group`` (e.g. the speaker).
        baselines: names from :data:`BASELINES`; None = ``random`` and the
            input baseline of the modality (none for a table).
        frame_labels: alignment file for frame-level probes, or None.
        test_fraction: test share (ratio split; groups for the group split).
        folds: k of k-fold.
        fit_fraction: fit share of the fraction protocol.
        seed: seed of every split, the random model and the classifiers.
        max_frames: cap on frames per side of a frame-level probe.
        pool: pooling of vectors over time.
        batch_size: rows per embedding batch.
        finetune_epochs, finetune_lr, finetune_batch_size, finetune_window_seconds:
            the supervised and fine-tuned baselines (the fine-tuned encoder and
            context model learn at ``finetune_lr / 10``).
        geometry: alignment and uniformity.
        tsne: t-SNE map of the context vectors.
        progress: progress bars.
        run_defaults: with ``run_data``, the fields of ``seed``, ``classifier``
            and ``pool`` taken from the run's config instead (``train.seed``,
            ``eval.classifier``, ``eval.pool``): those the user did not set.
    """

    protocol: str = "split"
    classifier: str = "linear"
    label_regex: str | None = None
    label_key: str | None = None
    group_key: str | None = None
    baselines: Sequence[str] | None = None
    frame_labels: str | Path | None = None
    test_fraction: float = 0.2
    folds: int = 5
    fit_fraction: float = 0.1
    seed: int = 0
    max_frames: int | None = 20000
    pool: str = "mean"
    batch_size: int = 32
    finetune_epochs: int = 5
    finetune_lr: float = 1e-3
    finetune_batch_size: int = 16
    finetune_window_seconds: float | None = None
    geometry: bool = True
    tsne: bool = True
    progress: bool = False
    run_defaults: tuple[str, ...] = ()


# ----------------------------------------------------------------------------- probes


def _probe(
    x: np.ndarray,
    y: np.ndarray,
    g: np.ndarray | None,
    fixed: tuple[np.ndarray, np.ndarray] | None,
    opts: EvaluateOptions,
) -> ProbeResult:
    from cpckit.evaluation.probe import probe_fraction, probe_group, probe_kfold, probe_split

    if opts.protocol == "split":
        tr, te = option_splits(opts, len(y), y, None, fixed)[0]
        return probe_split(x[tr], y[tr], x[te], y[te], classifier=opts.classifier, seed=opts.seed)
    if opts.protocol == "kfold":
        return probe_kfold(x, y, folds=opts.folds, seed=opts.seed, classifier=opts.classifier)
    if opts.protocol == "fraction":
        return probe_fraction(
            x, y, fit_fraction=opts.fit_fraction, seed=opts.seed, classifier=opts.classifier
        )
    assert g is not None
    return probe_group(
        x, y, g, test_fraction=opts.test_fraction, seed=opts.seed, classifier=opts.classifier
    )


def _row(
    name: str, features: str, level: str, protocol: str, res: ProbeResult, classifier: str
) -> dict[str, Any]:
    return {
        "name": name,
        "features": features,
        "level": level,
        "protocol": protocol,
        "classifier": classifier,
        "train_accuracy": float(res.train_accuracy),
        "test_accuracy": float(res.test_accuracy),
        "std": None if res.std is None else float(res.std),
        "n_train": int(res.n_train),
        "n_test": int(res.n_test),
        "n_classes": int(res.n_classes),
        "chance_accuracy": float(res.chance_accuracy),
    }


def _mean_row(
    name: str,
    features: str,
    level: str,
    protocol: str,
    classifier: str,
    scores: list[tuple[float, float, int, int]],
    n_classes: int,
    chance: float,
) -> dict[str, Any]:
    train = np.array([s[0] for s in scores])
    test = np.array([s[1] for s in scores])
    kfold = len(scores) > 1
    return {
        "name": name,
        "features": features,
        "level": level,
        "protocol": protocol,
        "classifier": classifier,
        "train_accuracy": float(train.mean()),
        "test_accuracy": float(test.mean()),
        "std": float(test.std()) if kfold else None,
        "n_train": int(round(float(np.mean([s[2] for s in scores])))),
        "n_test": int(sum(s[3] for s in scores)) if kfold else int(scores[0][3]),
        "n_classes": n_classes,
        "chance_accuracy": chance,
    }


def utterance_rows(
    emb: EmbeddedRows,
    random_emb: EmbeddedRows | None,
    inputs: Sequence[tuple[str, np.ndarray]],
    y: np.ndarray,
    g: np.ndarray | None,
    fixed: tuple[np.ndarray, np.ndarray] | None,
    opts: EvaluateOptions,
    level: str,
    protocol: str,
) -> tuple[list[dict[str, Any]], float]:
    """The probe rows of one evaluation: CPC context and latent, random init, input baselines.

    The one probe runner: ``cpckit evaluate`` and the end-of-training
    ``metrics.json`` both call it, on the same splits for every row.

    Returns:
        The rows (as :func:`_row` writes them) and the chance accuracy.
    """
    sets: list[tuple[str, str, np.ndarray]] = [
        ("CPC", "context (pooled)", emb.context),
        ("CPC", "latent (pooled)", emb.latent),
    ]
    if random_emb is not None:
        sets += [
            ("random init", "context (pooled)", random_emb.context),
            ("random init", "latent (pooled)", random_emb.latent),
        ]
    sets += [(name, "input", x) for name, x in inputs]
    rows, chance = [], 0.0
    for name, features, x in sets:
        res = _probe(x, y, g, fixed, opts)
        chance = float(res.chance_accuracy)
        rows.append(_row(name, features, level, protocol, res, opts.classifier))
    return rows, chance


# ----------------------------------------------------------------------------- data


class _Rows(Dataset[dict[str, Any]]):
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
        if any(getattr(p, "lengths", None) is None for p in self.parts):
            return None
        return np.concatenate([p.lengths for p in self.parts])[self.index]

    def __getitem__(self, i: int) -> dict[str, Any]:
        part, j = self._locate(i)
        return part[j]  # type: ignore[no-any-return]

    def wave(self, i: int) -> np.ndarray:
        part, j = self._locate(i)
        return part.wave(j)  # type: ignore[no-any-return]

    def image(self, i: int) -> torch.Tensor:
        part, j = self._locate(i)
        return part[j]["image"]  # type: ignore[no-any-return]

    def subset(self, idx: np.ndarray) -> _Rows:
        return _Rows(self.parts, self.index[np.asarray(idx, dtype=np.int64)])


@dataclass
class _Data:
    """Everything evaluated: rows, their CPC vectors, labels and provenance."""

    modality: str
    rows: _Rows | None  # None: a table without its data folder
    emb: EmbeddedRows
    paths: list[str]  # per row
    windows: bool
    labels: dict[str, list[str]]  # key -> string per row
    fixed: tuple[np.ndarray, np.ndarray] | None
    info: dict[str, Any] = field(default_factory=dict)


def _embed(
    model: Any,
    modality: str,
    rows: Dataset[Any],
    cfg: Any,
    opts: EvaluateOptions,
    frames: bool,
    desc: str,
) -> EmbeddedRows:
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


def _folder_data(
    pre: Any,
    modality: str,
    root: str,
    test_root: str | None,
    opts: EvaluateOptions,
    keys: Sequence[tuple[str, str | None]],
) -> _Data:
    from cpckit.evaluation.embed import open_model_folders

    cfg = pre.config
    folders = open_model_folders(
        pre, modality, root, test_root, label_regex=opts.label_regex, seed=opts.seed,
        progress=opts.progress,
    )  # fmt: skip
    common = set(folders[0].labels)
    for f in folders[1:]:
        common &= set(f.labels)
    labels = {k: [v for f in folders for v in f.row_labels(k)] for k in sorted(common)}
    _check_keys(labels, keys, True)
    rows = _Rows([f.rows for f in folders])
    frames = opts.frame_labels is not None
    emb = concat_embedded(
        [
            _embed(pre.model, modality, f.rows, cfg, opts, frames, f"embedding {f.root.name}")
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
    return _Data(
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
    from cpckit.evaluation.embed import AudioRows, open_folder

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


def _embeddings_data(
    pre: Any,
    path: str,
    test_path: str | None,
    need_rows: bool,
    keys: Sequence[tuple[str, str | None]],
) -> _Data:
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
    _check_keys(labels, keys, False)
    rows = None
    if need_rows:
        wheres = [path] + ([test_path] if test_path is not None else [])
        rows = _Rows([_table_rows(t, pre, modality, w) for t, w in zip(tables, wheres)])
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
    return _Data(
        modality=modality,
        rows=rows,
        emb=concat_embedded([_table_emb(t) for t in tables]),
        paths=[str(p) for t in tables for p in t["paths"].tolist()],
        windows=windows,
        labels=labels,
        fixed=fixed,
        info=info,
    )


def bundle_rows(bundle: Any, cfg: Any) -> tuple[_Rows, tuple[np.ndarray, np.ndarray]]:
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
    return _Rows([train, test]), (np.arange(n0), n0 + np.arange(n1))


def _run_data(pre: Any, modality: str, opts: EvaluateOptions) -> _Data:
    """The run's own data and probe split, rebuilt from its saved config."""
    from cpckit.data.datamodule import build_datasets

    cfg = pre.config
    bundle = build_datasets(cfg)
    rows, fixed = bundle_rows(bundle, cfg)
    emb = _embed(pre.model, modality, rows, cfg, opts, False, "embedding the run's probe rows")
    labels: dict[str, list[str]] = {}
    names = list(bundle.label_names)
    if emb.labels is not None and (emb.labels >= 0).all():
        labels["label"] = [names[i] if i < len(names) else str(i) for i in emb.labels.tolist()]
    if emb.groups is not None and (emb.groups >= 0).all():
        labels["group"] = [str(i) for i in emb.groups.tolist()]
    return _Data(
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


RUN_KEYS = {"seed": "train.seed", "classifier": "eval.classifier", "pool": "eval.pool"}
"""Options that ``--run-data`` takes from the run's config unless given."""


def resolve_options(opts: EvaluateOptions, cfg: Any, run_data: bool) -> EvaluateOptions:
    """``opts`` with its ``run_defaults`` taken from the run's config (with ``run_data``)."""
    import dataclasses

    if not run_data:
        return opts
    values: dict[str, Any] = {}
    for name in opts.run_defaults:
        section, key = RUN_KEYS[name].split(".")
        values[name] = getattr(getattr(cfg, section), key)
    return dataclasses.replace(opts, **values)


# ----------------------------------------------------------------------------- checks


def _baseline_names(opts: EvaluateOptions, modality: str, table: bool) -> list[str]:
    if opts.baselines is None:
        if table:
            return []
        return ["random", "mfcc" if modality == "audio" else "pixels"]
    names = [b.strip() for b in opts.baselines if b.strip()]
    if names == ["none"]:
        return []
    for b in names:
        if b not in BASELINES:
            raise CpckitError(
                f"--baselines names {b!r}, which is unknown; valid: {', '.join(BASELINES)}, none"
            )
    if "mfcc" in names and modality != "audio":
        raise CpckitError("--baselines mfcc is for audio; for images use pixels")
    if "pixels" in names and modality != "image":
        raise CpckitError("--baselines pixels is for images; for audio use mfcc")
    return list(dict.fromkeys(names))


def _check_options(opts: EvaluateOptions, fixed_split: bool) -> None:
    if opts.protocol not in PROTOCOLS:
        raise CpckitError(f"--protocol {opts.protocol!r} is unknown; valid: {', '.join(PROTOCOLS)}")
    if opts.classifier not in CLASSIFIERS:
        raise CpckitError(
            f"--classifier {opts.classifier!r} is unknown; valid: {', '.join(CLASSIFIERS)}"
        )
    if opts.pool not in POOLS:
        raise CpckitError(f"--pool {opts.pool!r} is unknown; valid: {', '.join(POOLS)}")
    if fixed_split and opts.protocol != "split":
        raise CpckitError(
            f"--test-root gives a fixed train/test split; it goes with --protocol split, "
            f"not {opts.protocol}"
        )
    if opts.protocol == "group" and opts.group_key is None:
        raise CpckitError(
            "--protocol group needs --group-key, the groups to hold out (e.g. speaker)"
        )
    if opts.label_regex is not None and opts.label_key is None and opts.frame_labels is None:
        raise CpckitError(
            "--label-regex needs --label-key, the regex group to probe "
            f"(e.g. --label-key {_first_group(opts.label_regex)})"
        )
    if not 0 < opts.test_fraction < 1:
        raise CpckitError(f"--test-fraction = {opts.test_fraction} must be in (0, 1)")
    if not 0 < opts.fit_fraction < 1:
        raise CpckitError(f"--fit-fraction = {opts.fit_fraction} must be in (0, 1)")
    if opts.max_frames is not None and opts.max_frames < 2:
        raise CpckitError(f"--max-frames = {opts.max_frames} must be >= 2")


def _first_group(regex: str) -> str:
    import re

    try:
        groups = list(re.compile(regex).groupindex)
    except re.error:
        return "NAME"
    return groups[0] if groups else "NAME"


def _codes(values: list[str]) -> tuple[np.ndarray, list[str]]:
    from cpckit.data.labels import encode_labels

    return encode_labels(values)


def _check_keys(
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


def _key_values(data: _Data, key: str, flag: str) -> list[str]:
    _check_keys(data.labels, [(flag, key)], data.rows is not None)
    return data.labels[key]


# ----------------------------------------------------------------------------- baselines


def _trained_rows(
    names: list[str],
    pre: Any,
    data: _Data,
    y: np.ndarray,
    n_classes: int,
    splits: list[tuple[np.ndarray, np.ndarray]],
    protocol: str,
    opts: EvaluateOptions,
    chance: float,
) -> list[dict[str, Any]]:
    from cpckit.evaluation.finetune import finetune

    assert data.rows is not None
    cfg = pre.config
    window = None
    if opts.finetune_window_seconds is not None and data.modality == "audio":
        window = max(1, int(round(opts.finetune_window_seconds * cfg.data.sample_rate)))
    out = []
    for name in names:
        scores: list[tuple[float, float, int, int]] = []
        for k, (tr, te) in enumerate(splits):
            if name == "finetune":
                model = copy.deepcopy(pre.model)
                lr, body_lr = opts.finetune_lr, opts.finetune_lr / 10
            else:
                model = random_model(cfg, opts.seed + 1 + k)
                lr, body_lr = opts.finetune_lr, opts.finetune_lr
            _, res = finetune(
                model,
                data.modality,
                data.rows.subset(tr),
                y[tr],
                data.rows.subset(te),
                y[te],
                n_classes=n_classes,
                c_dim=int(cfg.model.c_dim),
                epochs=opts.finetune_epochs,
                lr=lr,
                encoder_lr=body_lr,
                batch_size=opts.finetune_batch_size,
                pool=opts.pool,
                window_samples=window,
                max_batch_samples=max_batch_samples(int(cfg.data.sample_rate), data.modality),
                seed=opts.seed + k,
                from_scratch=name == "supervised",
                progress=opts.progress,
            )
            scores.append((res.train_accuracy, float(res.test_accuracy or 0.0), len(tr), len(te)))
        label = "supervised (from scratch)" if name == "supervised" else "CPC fine-tuned"
        out.append(
            _mean_row(
                label,
                f"end to end, {opts.finetune_epochs} epochs",
                "utterance" if data.modality == "audio" else "image",
                protocol,
                "linear head",
                scores,
                n_classes,
                chance,
            )
        )
    return out


# ----------------------------------------------------------------------------- frames


def _read_frame_labels(path: str | Path) -> tuple[dict[str, np.ndarray], list[str] | None]:
    from cpckit.data.librispeech import alignment_vocabulary, read_alignments

    vocab = alignment_vocabulary(path)
    if all(v.lstrip("+-").isdigit() for v in vocab):
        return read_alignments(path), None
    return read_alignments(path, vocabulary=vocab), vocab


def _frame_rows(
    pre: Any,
    data: _Data,
    random_emb: EmbeddedRows | None,
    use_mfcc: bool,
    opts: EvaluateOptions,
    y_utt: np.ndarray | None,
    g: np.ndarray | None,
    protocol: str,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from cpckit.data.librispeech import latent_frame_labels
    from cpckit.evaluation.probe import probe_frames

    assert opts.frame_labels is not None
    if data.modality != "audio":
        raise CpckitError("--frame-labels is for audio (phone alignments)")
    if data.windows:
        raise CpckitError("--frame-labels needs whole clips: embed without --windows-per-file")
    if data.emb.frame_offsets is None:
        raise CpckitError("--frame-labels needs frame-level vectors: run `cpckit embed --frames`")
    align, vocab = _read_frame_labels(opts.frame_labels)
    cfg = pre.config
    sr = int(cfg.data.sample_rate)
    downsampling = int(pre.model.encoders["audio"].downsampling)
    utt = [PurePosixPath(p).stem for p in data.paths]
    have = [i for i, u in enumerate(utt) if u in align]
    if not have:
        raise CpckitError(
            f"no utterance of the data is in {opts.frame_labels} (utterance ids are file names "
            f"without extension, e.g. {utt[0]!r}; the file has e.g. {next(iter(align))!r})"
        )
    sets: dict[str, list[np.ndarray]] = {}
    labels: list[np.ndarray] = []
    mfcc_sets: list[np.ndarray] = []
    mfcc_labels: list[np.ndarray] = []
    sources: list[tuple[str, str, EmbeddedRows]] = [
        ("CPC", "context", data.emb),
        ("CPC", "latent", data.emb),
    ]
    if random_emb is not None:
        sources += [("random init", "context", random_emb), ("random init", "latent", random_emb)]
    for i in have:
        lab = latent_frame_labels(align[utt[i]], int(data.emb.n_steps[i]), downsampling, sr)
        keep = lab >= 0
        labels.append(lab[keep])
        for name, which, emb in sources:
            sets.setdefault(f"{name}|{which}", []).append(emb.frames(i, which)[keep])
        if use_mfcc and data.rows is not None:
            from cpckit.evaluation.mfcc import mfcc_frames

            m = mfcc_frames(data.rows.wave(i), sr)
            frames = align[utt[i]]
            n = min(len(m), len(frames))
            mfcc_sets.append(m[:n])
            mfcc_labels.append(frames[:n])
    yy = None if y_utt is None else y_utt[have]
    gg = None if g is None else g[have]
    fixed = None
    if data.fixed is not None:
        pos = {r: j for j, r in enumerate(have)}
        fixed = (
            np.asarray([pos[r] for r in data.fixed[0].tolist() if r in pos], dtype=np.int64),
            np.asarray([pos[r] for r in data.fixed[1].tolist() if r in pos], dtype=np.int64),
        )
        if not len(fixed[0]) or not len(fixed[1]):
            raise CpckitError(
                "--frame-labels: the train or the test folder has no aligned utterance"
            )
    splits = option_splits(opts, len(have), yy, gg, fixed)
    all_sets = {k: (v, labels) for k, v in sets.items()}
    if mfcc_sets:
        all_sets["MFCC|frames (10 ms)"] = (mfcc_sets, mfcc_labels)
    rows = []
    n_classes = len(np.unique(np.concatenate(labels)))
    for key, (seqs, labs) in all_sets.items():
        name, which = key.split("|")
        scores = []
        chance = 0.0
        for tr, te in splits:
            res = probe_frames(
                [seqs[j] for j in tr],
                [labs[j] for j in tr],
                [seqs[j] for j in te],
                [labs[j] for j in te],
                classifier=opts.classifier,
                max_frames=opts.max_frames,
                seed=opts.seed,
            )
            scores.append((res.train_accuracy, res.test_accuracy, res.n_train, res.n_test))
            chance += res.chance_accuracy / len(splits)
        features = which if name == "MFCC" else f"{which} frames"
        rows.append(
            _mean_row(name, features, "frame", protocol, opts.classifier, scores, n_classes, chance)
        )
    info = {
        "alignments": str(Path(opts.frame_labels).resolve()),
        "aligned_utterances": len(have),
        "utterances_without_alignment": len(utt) - len(have),
        "frame_classes": n_classes,
        "vocabulary": vocab,
        "max_frames": opts.max_frames,
    }
    return rows, info


# ----------------------------------------------------------------------------- geometry, t-SNE


def geometry_row(name: str, emb: EmbeddedRows) -> dict[str, Any]:
    """Alignment (over rows of >= 2 valid steps) and uniformity of ``emb``'s context vectors."""
    from cpckit.evaluation.geometry import NoisyEstimateWarning, alignment, uniformity

    ok = emb.n_steps >= 2
    out: dict[str, Any] = {"name": name, "features": "context (pooled)", "n": int(ok.sum())}
    notes = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", NoisyEstimateWarning)
            a = alignment(emb.view_a[ok], emb.view_b[ok])
            u = uniformity(emb.context)
        notes = [str(w.message) for w in caught if issubclass(w.category, NoisyEstimateWarning)]
        out["alignment"] = float(a)
        out["uniformity"] = float(u)
    except CpckitError as exc:
        out["alignment"] = None
        out["uniformity"] = None
        notes.append(str(exc))
    if notes:
        out["note"] = "; ".join(notes)
    return out


def _tsne(
    data: _Data, y: np.ndarray | None, names: list[str] | None, out_dir: Path, seed: int
) -> str | None:
    from cpckit.evaluation.plots import plot_tsne
    from cpckit.evaluation.tsne import tsne_2d

    if len(data.emb.context) < 5:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        points, idx = tsne_2d(data.emb.context, seed=seed)
    labels = np.full(len(data.emb.context), -1, dtype=np.int64) if y is None else y
    png = out_dir / f"tsne_eval_{data.modality}.png"
    plot_tsne(
        points,
        labels[idx],
        png,
        title=f"t-SNE of {data.modality} context vectors (cpckit evaluate)",
        label_names=names,
    )
    return png.name


# ----------------------------------------------------------------------------- output


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


def markdown_tables(result: dict[str, Any]) -> str:
    """The accuracy and geometry tables of an evaluation, as Markdown."""
    lines = [
        "| name | features | level | protocol | classifier | train acc | test acc | std "
        "| n train | n test | chance |",
        "| --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in result.get("rows", []):
        lines.append(
            "| "
            + " | ".join(
                _fmt(r.get(k))
                for k in (
                    "name",
                    "features",
                    "level",
                    "protocol",
                    "classifier",
                    "train_accuracy",
                    "test_accuracy",
                    "std",
                    "n_train",
                    "n_test",
                    "chance_accuracy",
                )
            )
            + " |"
        )
    geo = result.get("geometry", [])
    if geo:
        lines += [
            "",
            "| name | features | alignment | uniformity | n |",
            "| --- | --- | ---: | ---: | ---: |",
        ]
        for g in geo:
            lines.append(
                f"| {g['name']} | {g['features']} | {_fmt(g.get('alignment'))} | "
                f"{_fmt(g.get('uniformity'))} | {g['n']} |"
            )
    return "\n".join(lines)


def _write(result: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    from cpckit.training.run_folder import atomic_write_text

    out_dir.mkdir(parents=True, exist_ok=True)
    js = out_dir / EVALUATION_JSON
    md = out_dir / EVALUATION_MD
    atomic_write_text(json.dumps(result, indent=2) + "\n", js)
    src = result["data"]
    where = src.get("embeddings") or src.get("root")
    head = [
        "# Evaluation",
        "",
        f"- checkpoint: `{result['checkpoint']}`",
        f"- data: `{where}` ({src['rows']} rows, {result['modality']})"
        + (
            f"; test: `{src.get('test_root') or src.get('test_embeddings')}`"
            if src.get("test_rows")
            else ""
        ),
        f"- labels: {result['label_key']} ({len(result['label_names'])} classes)"
        if result.get("label_key")
        else "- labels: none (frame-level only)",
        f"- protocol: {result['protocol']['name']}; classifier: {result['classifier']}; "
        f"seed {result['protocol']['seed']}",
        "",
        markdown_tables(result),
    ]
    if result.get("figures"):
        head += [""] + [f"![{f}]({f})" for f in result["figures"]]
    atomic_write_text("\n".join(head) + "\n", md)
    return js, md


# ----------------------------------------------------------------------------- entry point


def evaluate_checkpoint(
    checkpoint: str | Path,
    *,
    audio_root: str | None = None,
    image_root: str | None = None,
    embeddings: str | None = None,
    test_root: str | None = None,
    test_embeddings: str | None = None,
    out_dir: str | Path | None = None,
    options: EvaluateOptions | None = None,
    run_data: bool = False,
) -> dict[str, Any]:
    """Probe a checkpoint's features and the asked baselines; write evaluation.json / .md.

    Args:
        checkpoint: ``cpc_model.pth`` or its run folder.
        audio_root / image_root / embeddings: the data, exactly one of them
            (or none, with ``run_data``).
        run_data: evaluate on the run's own data and probe split, rebuilt
            from its saved config: the rows of the end-of-training
            ``metrics.json``, which this then reproduces.
        test_root: a held-out folder (fixed split) for ``--protocol split``.
        test_embeddings: the same for a table.
        out_dir: where the files go (default: the checkpoint's run folder).
        options: everything else (:class:`EvaluateOptions`).

    Returns:
        The content of ``evaluation.json`` (with ``paths`` of the files written).

    Raises:
        CpckitError: a missing checkpoint or folder, conflicting flags, a
            label key the data does not have, and every probe's own checks.
    """
    from cpckit.api import load

    t0 = time.perf_counter()
    opts = options or EvaluateOptions()
    given = [
        (f, v)
        for f, v in (
            ("--audio-root", audio_root),
            ("--image-root", image_root),
            ("--embeddings", embeddings),
        )
        if v is not None
    ]
    if run_data and (given or test_root is not None or test_embeddings is not None):
        raise CpckitError(
            "--run-data evaluates on the run's own data and split; it takes no --audio-root, "
            "--image-root, --embeddings or --test-root"
        )
    if len(given) != 1 and not run_data:
        raise CpckitError(
            "give exactly one of --audio-root, --image-root, --embeddings (or --run-data)"
            + (f" (got {' and '.join(f for f, _ in given)})" if given else "")
        )
    if test_root is not None and embeddings is not None:
        raise CpckitError(
            "--test-root goes with --audio-root/--image-root; for a table use --test-embeddings"
        )
    if test_embeddings is not None and embeddings is None:
        raise CpckitError("--test-embeddings goes with --embeddings")
    _check_options(opts, test_root is not None or test_embeddings is not None)
    pre = load(checkpoint)
    opts = resolve_options(opts, pre.config, run_data)
    ckpt = Path(checkpoint)
    run_dir = ckpt if ckpt.is_dir() else ckpt.parent
    out = Path(out_dir) if out_dir is not None else run_dir

    if run_data:
        modality = pre.modalities[0]
    elif embeddings is not None:
        from cpckit.evaluation.embed import load_embeddings

        modality = str(load_embeddings(embeddings).get("modality", np.asarray("audio")))
    else:
        modality = "audio" if audio_root is not None else "image"
    if modality not in pre.modalities:
        raise CpckitError(f"the checkpoint has no {modality} encoder; it has {pre.modalities}")
    names = _baseline_names(opts, modality, embeddings is not None)
    label_key = opts.label_key
    if run_data and label_key is None:
        label_key = "label"  # the labels the run's own probe uses
    if (
        label_key is None
        and modality == "image"
        and embeddings is None
        and opts.label_regex is None
    ):
        label_key = "folder"  # class folders
    if label_key is None and opts.frame_labels is None:
        raise CpckitError(
            "evaluate needs labels: give --label-key (a --label-regex group, 'folder' for the "
            "parent folder, or a label array of --embeddings), or --frame-labels"
        )
    keys = [("--label-key", label_key), ("--group-key", opts.group_key)]
    if run_data:
        data = _run_data(pre, modality, opts)
        _check_keys(data.labels, keys, False)
    elif embeddings is not None:
        data = _embeddings_data(pre, embeddings, test_embeddings, bool(names), keys)
    else:
        root = audio_root if audio_root is not None else image_root
        assert root is not None
        data = _folder_data(pre, modality, root, test_root, opts, keys)
    if data.emb.context.shape[1] != int(pre.config.model.c_dim):
        raise CpckitError(
            f"the embeddings have {data.emb.context.shape[1]}-d context vectors but the "
            f"checkpoint's model has c_dim = {pre.config.model.c_dim}: embed with this checkpoint"
        )

    y = g = None
    label_names: list[str] = []
    if run_data and label_key == "label" and data.emb.labels is not None:
        y, label_names = data.emb.labels, list(data.info["label_names"])
    elif label_key is not None:
        y, label_names = _codes(_key_values(data, label_key, "--label-key"))
    if opts.group_key is not None:
        g, _ = _codes(_key_values(data, opts.group_key, "--group-key"))
    protocol = RUN_SPLIT if run_data else protocol_name(opts, data.fixed is not None)
    rows: list[dict[str, Any]] = []
    cfg = pre.config
    random_emb = None
    if "random" in names:
        assert data.rows is not None
        random_emb = _embed(
            random_model(cfg, opts.seed),
            modality,
            data.rows,
            cfg,
            opts,
            opts.frame_labels is not None,
            "embedding (random init)",
        )
    if y is not None:
        inputs = []
        for b in ("mfcc", "pixels"):
            if b in names:
                assert data.rows is not None
                feats = input_features(b, data.rows, int(cfg.data.sample_rate))
                inputs.append((INPUT_BASELINES[b], feats))
        level = "utterance" if modality == "audio" else "image"
        utt, chance = utterance_rows(
            data.emb, random_emb, inputs, y, g, data.fixed, opts, level, protocol
        )
        rows += utt
        trained: list[str] = [b for b in ("supervised", "finetune") if b in names]
        if trained:
            splits = option_splits(opts, len(y), y, g, data.fixed)
            rows += _trained_rows(
                trained, pre, data, y, len(label_names), splits, protocol, opts, chance
            )
    frame_info = None
    if opts.frame_labels is not None:
        frame_rows, frame_info = _frame_rows(
            pre, data, random_emb, "mfcc" in names, opts, y, g, protocol
        )
        rows += frame_rows
    geometry = []
    if opts.geometry and data.emb.n_steps.any():
        # on a run's own data, the held-out rows, as metrics.json measures them
        held = data.fixed[1] if run_data and data.fixed is not None else np.arange(len(data.emb.n_steps))
        geometry.append(geometry_row("CPC", data.emb.take(held)))
        if random_emb is not None:
            geometry.append(geometry_row("random init", random_emb.take(held)))
    out.mkdir(parents=True, exist_ok=True)
    figures = []
    if opts.tsne:
        fig = _tsne(data, y, label_names or None, out, opts.seed)
        if fig is not None:
            figures.append(fig)
    result: dict[str, Any] = {
        "checkpoint": str(Path(checkpoint).resolve()),
        "modality": modality,
        "data": data.info,
        "label_key": label_key,
        "group_key": opts.group_key,
        "label_names": label_names,
        "protocol": {
            "name": opts.protocol,
            "description": protocol,
            "seed": opts.seed,
            "folds": opts.folds if opts.protocol == "kfold" else None,
            "fit_fraction": opts.fit_fraction if opts.protocol == "fraction" else None,
            "test_fraction": opts.test_fraction
            if opts.protocol in ("split", "group") and data.fixed is None
            else None,
        },
        "classifier": opts.classifier,
        "pool": opts.pool,
        "baselines": names,
        "rows": rows,
        "geometry": geometry,
        "frames": frame_info,
        "figures": figures,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    js, md = _write(result, out)
    result["paths"] = {"json": str(js), "markdown": str(md)}
    return result
