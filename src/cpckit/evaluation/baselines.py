"""Baselines measured beside every CPC figure.

Frozen features: random weights, MFCC statistics, raw pixels. Trained end
to end (``cpckit evaluate`` only): the same architecture supervised from
scratch, and fine-tuned from the CPC weights.

Every evaluation path (the end-of-training ``metrics.json`` and
``cpckit evaluate``) takes its baselines from here, so they are built the
same way wherever a figure is printed.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import Dataset

from cpckit.errors import UsageError
from cpckit.evaluation.frames import max_batch_samples
from cpckit.evaluation.table import mean_row
from cpckit.model import CPCModel

if TYPE_CHECKING:
    from cpckit.evaluation.options import EvaluateOptions
    from cpckit.evaluation.sources import EvalData

__all__ = [
    "BASELINES",
    "INPUT_BASELINES",
    "RANDOM_SEED_OFFSET",
    "baseline_names",
    "input_features",
    "random_model",
    "trained_rows",
]

BASELINES = ("random", "mfcc", "pixels", "supervised", "finetune")
"""Valid names in ``--baselines`` (and ``none``)."""

RANDOM_SEED_OFFSET = 12345
"""The random-init model of seed ``s`` is drawn with ``torch.manual_seed(s + RANDOM_SEED_OFFSET)``."""

INPUT_BASELINES = {"mfcc": "MFCC statistics", "pixels": "raw pixels"}
"""Input-level baselines: name -> the row name in the results table."""


def random_model(cfg: Any, seed: int) -> CPCModel:
    """The configured architecture with random weights (eval mode), seeded by ``seed``."""
    from cpckit.build import build_model

    with torch.random.fork_rng():
        torch.manual_seed(seed + RANDOM_SEED_OFFSET)
        model = build_model(cfg)
    return model.eval()


def input_features(name: str, rows: Dataset[Any], sample_rate: int) -> np.ndarray:
    """``mfcc``: MFCC statistics of each clip's valid samples; ``pixels``: each image's pixels.

    Rows are dicts as the datasets of :mod:`cpckit.data` return them.

    Shape:
        -> ``(N, F)``
    """
    from cpckit.evaluation.mfcc import mfcc_features, pixel_features

    n = len(rows)  # type: ignore[arg-type]
    if name == "mfcc":
        feats = []
        for i in range(n):
            item = rows[i]
            wave = item["audio"][0]
            length = item.get("audio_length")
            k = int(length) if length is not None else int(wave.shape[0])
            feats.append(mfcc_features(wave[:k].numpy(), sample_rate))
        return np.stack(feats)
    if name == "pixels":
        return pixel_features(torch.stack([rows[i]["image"] for i in range(n)]).numpy())
    raise ValueError(f"input baseline {name!r} is unknown; valid: {', '.join(INPUT_BASELINES)}")


def baseline_names(opts: EvaluateOptions, modality: str, table: bool) -> list[str]:
    """The baselines asked for (``None``: random and the input baseline; none for a table)."""
    if opts.baselines is None:
        if table:
            return []
        return ["random", "mfcc" if modality == "audio" else "pixels"]
    names = [b.strip() for b in opts.baselines if b.strip()]
    if names == ["none"]:
        return []
    for b in names:
        if b not in BASELINES:
            raise UsageError(
                f"--baselines names {b!r}, which is unknown; valid: {', '.join(BASELINES)}, none"
            )
    if "mfcc" in names and modality != "audio":
        raise UsageError("--baselines mfcc is for audio; for images use pixels")
    if "pixels" in names and modality != "image":
        raise UsageError("--baselines pixels is for images; for audio use mfcc")
    return list(dict.fromkeys(names))


def trained_rows(
    names: list[str],
    pre: Any,
    data: EvalData,
    y: np.ndarray,
    n_classes: int,
    splits: list[tuple[np.ndarray, np.ndarray]],
    protocol: str,
    opts: EvaluateOptions,
    chance: float,
) -> list[dict[str, Any]]:
    """Rows of the end-to-end baselines: each model trained on every split's train rows.

    ``supervised`` starts from random weights (seed ``opts.seed + 1 + k`` on
    split ``k``); ``finetune`` from the CPC weights, its encoder and context
    model at a tenth of the head's learning rate.
    """
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
            mean_row(
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
