"""End-of-training evaluation: probes, baselines, geometry, t-SNE, metrics.json."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cpckit.config import Config
from cpckit.data.datamodule import DataBundle
from cpckit.evaluation.features import Features, extract_features, limit
from cpckit.model import CPCModel

__all__ = ["evaluate_model", "input_baseline_features"]

log = logging.getLogger(__name__)


def _has_labels(labels: np.ndarray) -> bool:
    return bool((labels >= 0).all()) and len(np.unique(labels)) >= 2


def input_baseline_features(
    modality: str, ds: Any, sample_rate: int
) -> tuple[str, np.ndarray] | None:
    """MFCC statistics (audio) or raw pixels (images) of every item, or None."""
    from torch.utils.data import DataLoader

    from cpckit.data.collate import collate

    rows = []
    if modality == "audio":
        from cpckit.evaluation.mfcc import mfcc_features

        for batch in DataLoader(ds, batch_size=64, collate_fn=collate):
            lengths = batch.get("audio_length")
            for i, wave in enumerate(batch["audio"][:, 0]):
                n = int(lengths[i]) if lengths is not None else wave.shape[0]
                rows.append(mfcc_features(wave[:n].numpy(), sample_rate))
        return "MFCC statistics", np.stack(rows)
    if modality == "image":
        from cpckit.evaluation.mfcc import pixel_features

        for batch in DataLoader(ds, batch_size=256, collate_fn=collate):
            rows.append(pixel_features(batch["image"].numpy()))
        return "raw pixels", np.concatenate(rows)
    return None


def _probe_row(
    name: str,
    features: str,
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    classifier: str = "linear",
) -> dict[str, Any]:
    from cpckit.evaluation.probe import probe_split

    res = probe_split(train_x, train_y, test_x, test_y, classifier=classifier)
    return {
        "name": name,
        "features": features,
        "protocol": "fixed split",
        "train_accuracy": float(res.train_accuracy),
        "test_accuracy": float(res.test_accuracy),
    }


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
    model: CPCModel,
    random_model: CPCModel | None,
    modality: str,
    bundle: DataBundle,
    cfg: Config,
    out_dir: Path,
) -> dict[str, Any]:
    from cpckit.evaluation.geometry import alignment, uniformity

    ev = cfg.eval
    bs = max(8, cfg.train.batch_size)
    train_ds = limit(bundle.probe_train, ev.max_examples, cfg.train.seed)
    test_ds = limit(bundle.probe_test, ev.max_examples, cfg.train.seed + 1)
    sizes = f"{len(train_ds)} + {len(test_ds)}"  # type: ignore[arg-type]
    with _Stage(f"{modality} features of {sizes} examples"):
        tr: Features = extract_features(model, modality, train_ds, batch_size=bs, pool=ev.pool)
        te: Features = extract_features(model, modality, test_ds, batch_size=bs, pool=ev.pool)
    out: dict[str, Any] = {}
    labelled = _has_labels(tr.labels) and _has_labels(te.labels)
    baselines: list[dict[str, Any]] = []
    if ev.probe and labelled:
        from cpckit.evaluation.probe import probe_split

        p = probe_split(tr.context, tr.labels, te.context, te.labels, classifier=ev.classifier)
        out["probe"] = {
            "train_accuracy": float(p.train_accuracy),
            "test_accuracy": float(p.test_accuracy),
            "n_train": len(tr.labels),
            "n_test": len(te.labels),
            "n_features": int(tr.context.shape[1]),
            "pool": ev.pool,
            "classifier": ev.classifier,
        }
        q = probe_split(tr.latent, tr.labels, te.latent, te.labels, classifier=ev.classifier)
        out["latent_probe"] = {
            "train_accuracy": float(q.train_accuracy),
            "test_accuracy": float(q.test_accuracy),
        }
        baselines.append(
            {
                "name": "CPC",
                "features": "context (pooled)",
                "protocol": "fixed split",
                **{k: out["probe"][k] for k in ("train_accuracy", "test_accuracy")},
            }
        )
        baselines.append(
            {
                "name": "CPC",
                "features": "latent (pooled)",
                "protocol": "fixed split",
                **out["latent_probe"],
            }
        )
        if ev.baselines:
            if random_model is not None:
                with _Stage(f"{modality} features of the random-init model"):
                    rtr = extract_features(
                        random_model, modality, train_ds, batch_size=bs, pool=ev.pool
                    )
                    rte = extract_features(
                        random_model, modality, test_ds, batch_size=bs, pool=ev.pool
                    )
                baselines.append(
                    _probe_row(
                        "random init",
                        "context (pooled)",
                        rtr.context,
                        rtr.labels,
                        rte.context,
                        rte.labels,
                        ev.classifier,
                    )
                )
            with _Stage(f"{modality} input-level baseline features"):
                btr = input_baseline_features(modality, train_ds, cfg.data.sample_rate)
                bte = input_baseline_features(modality, test_ds, cfg.data.sample_rate)
            if btr is not None and bte is not None:
                baselines.append(
                    _probe_row(btr[0], "input", btr[1], tr.labels, bte[1], te.labels, ev.classifier)
                )
        out["baselines"] = baselines
    if ev.geometry:
        out["alignment"] = float(alignment(te.view_a, te.view_b))
        out["uniformity"] = float(uniformity(te.context))
    if ev.tsne:
        from cpckit.evaluation.plots import plot_tsne
        from cpckit.evaluation.tsne import tsne_2d

        with _Stage(f"{modality} t-SNE of {len(te.context)} points"):
            points, idx = tsne_2d(te.context, seed=cfg.train.seed)
        names = bundle.label_names if labelled else None
        plot_tsne(
            points,
            te.labels[idx],
            out_dir / f"tsne_{modality}.png",
            title=f"t-SNE of {modality} context vectors (held-out)",
            label_names=names,
        )
    return out


def evaluate_model(
    model: CPCModel, bundle: DataBundle, cfg: Config, out_dir: Path, final_loss: float | None
) -> dict[str, Any]:
    """Evaluate every modality of ``model`` and write ``metrics.json``."""
    random_model = None
    if cfg.eval.baselines and cfg.eval.probe:
        from cpckit.build import build_model

        with torch.random.fork_rng():
            torch.manual_seed(cfg.train.seed + 12345)
            random_model = build_model(cfg)
        random_model.eval()
    metrics: dict[str, Any] = {"final_loss": final_loss}
    per: dict[str, dict[str, Any]] = {}
    for modality in model.modalities:
        per[modality] = _evaluate_modality(model, random_model, modality, bundle, cfg, out_dir)
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
