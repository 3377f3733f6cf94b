"""End-of-training evaluation: probes, baselines, geometry, t-SNE, metrics.json.

It runs the one evaluation path of the package: the run's probe rows
(:func:`~cpckit.evaluation.sources.bundle_rows`) embedded by
:func:`~cpckit.evaluation.frames.embed_rows` and probed by
:func:`~cpckit.evaluation.protocols.utterance_rows`, exactly as
``cpckit evaluate --checkpoint RUN --run-data`` does, so the two give the
same figures.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from cpckit.config import Config
from cpckit.evaluation.protocols import (
    RUN_KEYS,
    RUN_SPLIT,
    EvaluateOptions,
    bundle_rows,
    geometry_row,
    random_embedding,
    resolve_options,
    utterance_rows,
)
from cpckit.evaluation.sources import embed_with_options
from cpckit.model import CPCModel

__all__ = ["evaluate_model"]

log = logging.getLogger(__name__)

_INPUT = {"audio": "mfcc", "image": "pixels"}


def _has_labels(labels: np.ndarray | None) -> bool:
    return labels is not None and bool((labels >= 0).all()) and len(np.unique(labels)) >= 2


class _Stage:
    """Print ``eval: <what> (<seconds> s)`` when a stage of the evaluation ends."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            print(f"eval: {self.what} ({time.perf_counter() - self.start:.1f} s)", flush=True)


def _evaluate_modality(
    model: CPCModel, modality: str, bundle: Any, cfg: Config, out_dir: Path
) -> dict[str, Any]:
    ev = cfg.eval
    if not (ev.probe or ev.geometry or ev.tsne):
        return {}  # nothing asks for the vectors
    run_opts = EvaluateOptions(protocol="split", run_defaults=tuple(RUN_KEYS))
    opts = resolve_options(run_opts, cfg, run_data=True)
    rows, fixed = bundle_rows(bundle, cfg)
    train_idx, test_idx = fixed
    with _Stage(f"{modality} features of {len(train_idx)} + {len(test_idx)} examples"):
        emb = embed_with_options(model, modality, rows, cfg, opts, False, "embedding")
    out: dict[str, Any] = {}
    y = emb.labels
    labelled = _has_labels(None if y is None else y[train_idx]) and _has_labels(
        None if y is None else y[test_idx]
    )
    if ev.probe and labelled:
        assert y is not None
        random_emb = None
        baselines = [_INPUT[modality]] if ev.baselines else []
        if ev.baselines:
            with _Stage(f"{modality} features of the random-init model"):
                random_emb = random_embedding(cfg, modality, rows, opts)
        with _Stage(f"{modality} probes" + (" and input-level baselines" if baselines else "")):
            table, _ = utterance_rows(
                cfg, modality, rows, emb, random_emb, baselines, y, None, fixed, opts, RUN_SPLIT
            )
        cpc, latent = table[0], table[1]
        keys = ("train_accuracy", "test_accuracy")
        out["probe"] = {
            **{k: cpc[k] for k in keys},
            "n_train": int(len(train_idx)),
            "n_test": int(len(test_idx)),
            "n_features": int(emb.context.shape[1]),
            "pool": opts.pool,
            "classifier": opts.classifier,
        }
        out["latent_probe"] = {k: latent[k] for k in keys}
        out["baselines"] = table
    if ev.geometry:
        geo = geometry_row("CPC", emb.take(test_idx))
        out["alignment"], out["uniformity"] = geo["alignment"], geo["uniformity"]
    if ev.tsne:
        from cpckit.evaluation.plots import plot_tsne
        from cpckit.evaluation.tsne import tsne_2d

        te_context = emb.context[test_idx]
        te_labels = y[test_idx] if y is not None else np.full(len(test_idx), -1)
        with _Stage(f"{modality} t-SNE of {len(te_context)} points"):
            points, idx = tsne_2d(te_context, seed=cfg.train.seed)
        plot_tsne(
            points,
            te_labels[idx],
            out_dir / f"tsne_{modality}.png",
            title=f"t-SNE of {modality} context vectors (held-out)",
            label_names=bundle.label_names if labelled else None,
        )
    return out


def evaluate_model(
    model: CPCModel, bundle: Any, cfg: Config, out_dir: Path, final_loss: float | None
) -> dict[str, Any]:
    """Evaluate every modality of ``model`` and write ``metrics.json``."""
    metrics: dict[str, Any] = {"final_loss": final_loss}
    per: dict[str, dict[str, Any]] = {}
    for modality in model.modalities:
        per[modality] = _evaluate_modality(model, modality, bundle, cfg, out_dir)
    if len(per) == 1:
        metrics.update(next(iter(per.values())))
    else:
        metrics.update(per)
        metrics["baselines"] = [
            {**row, "name": f"{row['name']} [{m}]"}
            for m, sec in per.items()
            for row in sec.get("baselines", [])
        ]
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics
