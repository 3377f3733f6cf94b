"""Probe accuracy of a trained CIFAR run under several poolings and classifiers.

Re-scores a run folder of ``configs/cifar10.yaml`` (its ``cpc_model.pth``)
and the same model with random weights (drawn as the end-of-train
evaluation draws them) on the image root's ``train/`` and ``test/``
folders: the context and latent sequences pooled by the whole-grid mean,
per-quadrant means (``grid``), top and bottom halves (``rows2``: rows 0 to
ceil(gh/2)-1 and gh-ceil(gh/2) to gh-1) and mean and max concatenated,
each probed with ``linear`` and ``linear-cv``. The table of
docs/images.md ("same trained model, scored under each probe setting").

    python benchmarks/cifar_pooling.py outputs_cifar10 \\
        --image-root ../shared/data/cifar10-airplane-automobile
"""

from __future__ import annotations

import argparse
from pathlib import Path

POOLS = ("mean", "grid", "rows2", "meanmax")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="run folder holding cpc_model.pth")
    p.add_argument("--image-root", required=True, help="folder with train/ and test/")
    p.add_argument("--threads", type=int, default=1, help="torch threads [1]")
    args = p.parse_args()

    import numpy as np
    import torch

    from cpckit.api import load
    from cpckit.build import build_model
    from cpckit.data.image import ImageFolderDataset
    from cpckit.evaluation.probe import probe_split
    from cpckit.model import pool_grid

    torch.set_num_threads(args.threads)
    pre = load(args.run)
    cfg, model = pre.config, pre.model.eval()
    with torch.random.fork_rng():
        torch.manual_seed(cfg.train.seed + 12345)  # as evaluate_model draws its baseline
        random_model = build_model(cfg).eval()
    size = cfg.data.image_size
    root = Path(args.image_root)
    sets = {s: ImageFolderDataset(root / s, image_size=size, cache=True) for s in ("train", "test")}

    from cpckit.model import CPCModel

    def sequences(m: CPCModel, split: str) -> tuple[dict[str, torch.Tensor], np.ndarray]:
        ds = sets[split]
        xs = torch.stack([ds[i]["image"] for i in range(len(ds))])
        ys = np.array([int(ds[i]["label"]) for i in range(len(ds))])
        out: dict[str, list[torch.Tensor]] = {"context": [], "latent": []}
        with torch.no_grad():
            for s in range(0, len(xs), 256):
                z, _ = m.encode("image", xs[s : s + 256])
                out["latent"].append(z)
                out["context"].append(m.context(z))
        return {k: torch.cat(v) for k, v in out.items()}, ys

    gh, gw, order = model.grid_of("image", torch.zeros(1, 3, size, size))  # type: ignore[misc]

    def pooled(x: torch.Tensor, how: str) -> np.ndarray:
        if how == "mean":
            v = x.mean(1)
        elif how == "grid":
            v = pool_grid(x, (gh, gw), order)
        elif how == "rows2":
            h = -(-gh // 2)
            g = (
                x.view(x.shape[0], gh, gw, -1)
                if order == "raster"
                else x.view(x.shape[0], gw, gh, -1).transpose(1, 2)
            )
            v = torch.cat([g[:, :h].mean((1, 2)), g[:, gh - h :].mean((1, 2))], 1)
        else:
            v = torch.cat([x.mean(1), x.amax(1)], 1)
        return v.numpy()

    print("| model | features | pool | classifier | train acc | test acc |")
    print("| --- | --- | --- | --- | ---: | ---: |")
    for name, m in (("CPC", model), ("random weights", random_model)):
        (tr, ytr), (te, yte) = sequences(m, "train"), sequences(m, "test")
        for which in ("context", "latent"):
            for how in POOLS:
                for clf in ("linear", "linear-cv"):
                    r = probe_split(pooled(tr[which], how), ytr, pooled(te[which], how), yte, clf)
                    print(
                        f"| {name} | {which} | {how} | {clf} "
                        f"| {r.train_accuracy:.3f} | {r.test_accuracy:.3f} |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
