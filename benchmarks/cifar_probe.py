"""CIFAR airplane vs automobile: the probe of a run, beside the same model with random weights.

The context of every ``train/`` and ``test/`` image of the image root is
embedded through the one evaluation path
(:func:`cpckit.evaluation.frames.embed_rows`, pooled as the run's
``eval.pool``, by default the per-quadrant means of ``configs/cifar10.yaml``),
a probe is fit on ``train/`` and scored on ``test/``
(:func:`cpckit.evaluation.probe.probe_split`); the same for the same
architecture with random weights (:func:`cpckit.evaluation.baselines.random_model`).
``benchmarks/time_to_quality.py --task cifar`` calls :func:`measure` every
minute of training.

    python benchmarks/cifar_probe.py --run outputs_cifar10
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


def measure(
    run: str, root: str | None = None, classifier: str = "linear", max_per_split: int = 2000
) -> dict[str, Any]:
    """Test accuracy of the trained context and of random weights (``max_per_split`` images each)."""
    import numpy as np
    import torch

    from cpckit import api
    from cpckit.data.labels import encode_labels
    from cpckit.data.rows import open_folder
    from cpckit.evaluation.baselines import random_model
    from cpckit.evaluation.frames import embed_rows
    from cpckit.evaluation.probe import probe_split

    pre = api.load(run)
    cfg = pre.config
    root = root or cfg.data.image_root
    if root is None:
        raise SystemExit("the run's config names no data.image_root: pass --root")
    if cfg.train.threads > 0:
        torch.set_num_threads(cfg.train.threads)
    splits = {}
    for split in ("train", "test"):
        data = open_folder(Path(root) / split, "image", image_size=cfg.data.image_size)
        labels = data.row_labels("folder")
        keep = np.random.default_rng(0).permutation(len(labels))[:max_per_split]
        splits[split] = (data.rows, labels, np.sort(keep))
    _, names = encode_labels(splits["train"][1])
    out: dict[str, Any] = {"run": str(run), "classifier": classifier, "rows": {}}
    for name, model in (("cpc", pre.model), ("random", random_model(cfg, cfg.train.seed))):
        feats = {}
        for split, (rows, labels, keep) in splits.items():
            sub = torch.utils.data.Subset(rows, keep.tolist())
            x = embed_rows(model.eval(), "image", sub, pool=cfg.eval.pool).context
            y = np.array([names.index(labels[i]) for i in keep])
            feats[split] = (x, y)
        res = probe_split(*feats["train"], *feats["test"], classifier=classifier)
        out["rows"][name] = {"test_accuracy": float(res.test_accuracy)}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--run", required=True, help="a run folder holding cpc_model.pth")
    p.add_argument("--root", help="folder with train/ and test/ (default: the run's image root)")
    p.add_argument("--classifier", default="linear", choices=("linear", "linear-cv"))
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args(argv)
    result = measure(args.run, args.root, args.classifier)
    for name, row in result["rows"].items():
        print(f"{name:<8}{row['test_accuracy']:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
