"""t-SNE speed and quality: scikit-learn (Barnes-Hut) against openTSNE (FFT).

Data: a Gaussian mixture in 256 dimensions (``--dim``) (10 clusters; each cluster spreads
along its own 8-dimensional subspace plus small isotropic noise), 10,000
points by default. For each implementation, with and without PCA to 50
dimensions first, it prints the wall-clock seconds, the CPU seconds of the
process (all threads) and three quality scores of the 2-D map. When other
jobs share the cores, OpenMP threads spin while they wait and both figures
swell; ``--threads 1`` then gives the steadiest CPU seconds.
Quality scores:

- ``trust``: trustworthiness (Venna & Kaski 2001) with 10 neighbours on a
  random 2,000-point subset of the map (the full 10,000 x 10,000 distance
  matrices would need gigabytes);
- ``knn_keep``: mean fraction of each point's 10 nearest neighbours in the
  input that are also among its 10 nearest neighbours in the map;
- ``knn_label``: 10-NN cluster-label accuracy in the map (leave-one-out).

Run::

    .venv/bin/python benchmarks/tsne.py [--n 10000] [--dim 256] [--threads 2]

then ``cpckit.evaluation.tsne.tsne_2d`` (the library choice: openTSNE with
exact neighbours and a coarser FFT grid) is timed too, without and with PCA. The load average is printed before and after, since other jobs
on the machine slow every wall-clock figure down.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np


def mixture(
    n: int, dim: int, clusters: int = 10, sub_dim: int = 8, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``(n, dim)`` points of a Gaussian mixture and their cluster labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, clusters, size=n)
    centres = rng.normal(0.0, 1.0, size=(clusters, dim)) * 3.0
    bases = rng.normal(0.0, 1.0, size=(clusters, sub_dim, dim))
    u = rng.normal(0.0, 1.0, size=(n, sub_dim))
    x = (
        centres[labels]
        + np.einsum("ns,nsd->nd", u, bases[labels])
        + 0.5 * rng.normal(size=(n, dim))
    )
    return x.astype(np.float32), labels


def quality(
    x: np.ndarray, y: np.ndarray, labels: np.ndarray, k: int = 10, seed: int = 0
) -> dict[str, float]:
    """Trustworthiness (subset), kNN preservation and kNN label accuracy of map ``y``."""
    from sklearn.manifold import trustworthiness
    from sklearn.neighbors import NearestNeighbors

    nn_x = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x, return_distance=False)[:, 1:]
    nn_y = NearestNeighbors(n_neighbors=k + 1).fit(y).kneighbors(y, return_distance=False)[:, 1:]
    keep = np.mean([len(np.intersect1d(a, b, assume_unique=True)) / k for a, b in zip(nn_x, nn_y)])
    votes = labels[nn_y]
    pred = np.array([np.bincount(v).argmax() for v in votes])
    label_acc = float((pred == labels).mean())
    sub = np.random.default_rng(seed).choice(len(x), size=min(2000, len(x)), replace=False)
    trust = trustworthiness(x[sub], y[sub], n_neighbors=k)
    return {"trust": float(trust), "knn_keep": float(keep), "knn_label": label_acc}


def timed(fn: Callable[[], np.ndarray]) -> tuple[np.ndarray, float, float]:
    """Result, wall seconds and process CPU seconds of ``fn()``."""
    t0, c0 = time.perf_counter(), time.process_time()
    y = fn()
    return y, time.perf_counter() - t0, time.process_time() - c0


def load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def pca50(x: np.ndarray, seed: int = 0) -> np.ndarray:
    from sklearn.decomposition import PCA

    return PCA(n_components=50, random_state=seed, svd_solver="randomized").fit_transform(x)


def run_sklearn(x: np.ndarray, threads: int, pca: bool) -> np.ndarray:
    from sklearn.manifold import TSNE

    z = pca50(x) if pca else x
    return TSNE(
        n_components=2,
        perplexity=30.0,
        init="pca",
        learning_rate="auto",
        method="barnes_hut",
        random_state=0,
        n_jobs=threads,
    ).fit_transform(z)


def run_opentsne(x: np.ndarray, threads: int, pca: bool) -> np.ndarray:
    import openTSNE

    z = pca50(x) if pca else x
    return np.asarray(openTSNE.TSNE(perplexity=30.0, random_state=0, n_jobs=threads).fit(z))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10000, help="number of points")
    parser.add_argument("--dim", type=int, default=256, help="feature dimension")
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count() or 1, help="threads for each library"
    )
    parser.add_argument("--skip-raw", action="store_true", help="skip the library runs without PCA")
    parser.add_argument(
        "--only", default="", help="run only implementations whose name contains this"
    )
    args = parser.parse_args()

    x, labels = mixture(args.n, args.dim)
    print(
        f"{args.n} points, {args.dim} dims, {args.threads} threads, {os.cpu_count()} cores; load {load()}"
    )
    runs: list[tuple[str, Callable[[], np.ndarray]]] = []
    for pca in (True, False):
        if pca is False and args.skip_raw:
            continue
        tag = "PCA-50" if pca else f"raw {args.dim}-d"
        runs.append((f"sklearn barnes_hut, {tag}", lambda p=pca: run_sklearn(x, args.threads, p)))
        try:
            import openTSNE  # noqa: F401

            runs.append((f"openTSNE fft, {tag}", lambda p=pca: run_opentsne(x, args.threads, p)))
        except ImportError:
            print("openTSNE is not installed: pip install 'cpckit[tsne]'")

    from cpckit.evaluation.tsne import available_backends, tsne_2d

    backend = available_backends()[0]
    runs.append(
        (
            f"cpckit tsne_2d ({backend}), no PCA",
            lambda: tsne_2d(x, seed=0, n_jobs=args.threads).points,
        )
    )
    runs.append(
        (
            f"cpckit tsne_2d ({backend}), PCA-50",
            lambda: tsne_2d(x, seed=0, pca_dims=50, n_jobs=args.threads).points,
        )
    )
    if args.only:
        runs = [(name, fn) for name, fn in runs if args.only in name]

    results: dict[str, tuple[float, float]] = {}
    print(
        f"{'implementation':34s} {'wall s':>7s} {'cpu s':>7s} {'trust':>7s} {'knn_keep':>9s} {'knn_label':>9s}"
    )
    from threadpoolctl import threadpool_limits

    for name, fn in runs:
        with threadpool_limits(limits=args.threads):
            y, wall, cpu = timed(fn)
        q = quality(x, y, labels)
        results[name] = (wall, cpu)
        print(
            f"{name:34s} {wall:7.1f} {cpu:7.1f} {q['trust']:7.3f} {q['knn_keep']:9.3f} {q['knn_label']:9.3f}",
            flush=True,
        )

    base = results.get("sklearn barnes_hut, PCA-50")
    if base is not None:
        for name, (wall, cpu) in results.items():
            if not name.startswith("sklearn"):
                print(
                    f"sklearn (PCA-50) / {name}: wall {base[0] / wall:.1f}x, cpu {base[1] / cpu:.1f}x"
                )
    print(f"load after: {load()}")


if __name__ == "__main__":
    main()
