"""Two-dimensional t-SNE maps of feature vectors.

t-SNE: van der Maaten & Hinton 2008, "Visualizing Data using t-SNE". The
FFT-accelerated gradient of openTSNE (Linderman et al. 2019, "Fast
interpolation-based t-SNE for improved visualization of single-cell RNA-seq
data"; Poličar et al. 2024, "openTSNE: a modular Python library for t-SNE
dimensionality reduction and embedding") is used when openTSNE is installed
(the ``tsne`` extra: ``pip install 'cpckit[tsne]'``); scikit-learn's
Barnes-Hut t-SNE otherwise (1.5 s for the 512 held-out vectors of the
default run; openTSNE pays off from thousands of points).
``benchmarks/tsne.py`` measures both (figures in ``docs/evaluation.md``).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import warnings
from typing import NamedTuple

import numpy as np

from cpckit.errors import CpckitError

__all__ = ["BACKENDS", "TsneEmbedding", "available_backends", "tsne_2d"]

log = logging.getLogger(__name__)

BACKENDS = ("auto", "opentsne", "sklearn")
"""Valid values of ``tsne_2d(backend=...)``; ``auto`` prefers openTSNE."""

_MIN_POINTS = 4


class TsneEmbedding(NamedTuple):
    """A t-SNE map and the input rows it shows.

    Attributes:
        points: ``(N', 2)`` float64 map coordinates.
        indices: ``(N',)`` int64 rows of the input features that the points
            are (sorted; ``arange(N)`` when nothing was subsampled), so labels
            are picked as ``labels[indices]``.
    """

    points: np.ndarray
    indices: np.ndarray


def available_backends() -> list[str]:
    """The t-SNE implementations importable here, preferred first."""
    found = ["sklearn"]
    if importlib.util.find_spec("openTSNE") is not None:
        found.insert(0, "opentsne")
    return found


def _n_jobs(n_jobs: int | None) -> int:
    """Thread count: ``None`` and ``-1`` mean all cores."""
    if n_jobs is not None and (n_jobs == 0 or n_jobs < -1):
        raise CpckitError(
            f"tsne n_jobs={n_jobs} is invalid: use a positive count or -1 (all cores)"
        )
    if n_jobs is None or n_jobs == -1:
        return max(1, os.cpu_count() or 1)
    return n_jobs


def _reduce(x: np.ndarray, pca_dims: int | None, seed: int) -> np.ndarray:
    """PCA to ``pca_dims`` dimensions when the features have more (and enough rows)."""
    if pca_dims is None or x.shape[1] <= pca_dims or x.shape[0] <= pca_dims:
        return x
    from sklearn.decomposition import PCA

    return PCA(n_components=pca_dims, random_state=seed, svd_solver="randomized").fit_transform(x)


EXACT_NEIGHBORS_UP_TO = 20000
"""Exact kNN search (scikit-learn) up to this many points, Annoy above.

At 10,000 points in 50 dimensions the exact search takes about a fifth of
the time of openTSNE's default approximate (Annoy) index.
"""

FFT_FROM = 1000
"""FFT-interpolated repulsive forces from this many points, Barnes-Hut below."""

FFT_INTS_IN_INTERVAL = 2.0
"""Map units per interpolation interval of the FFT gradient (openTSNE's default is 1).

The FFT grid grows with the square of the map's extent, and well-separated
clusters spread the map wide; 2 units per interval cut the CPU time at
10,000 points by about 2x with the same trustworthiness and kNN label
accuracy (``benchmarks/tsne.py``, ``docs/evaluation.md``).
"""


def _run_opentsne(x: np.ndarray, perplexity: float, seed: int, n_jobs: int) -> np.ndarray:
    import openTSNE

    n = x.shape[0]
    tsne = openTSNE.TSNE(
        n_components=2,
        perplexity=perplexity,
        random_state=seed,
        n_jobs=n_jobs,
        neighbors="exact" if n <= EXACT_NEIGHBORS_UP_TO else "auto",
        negative_gradient_method="fft" if n >= FFT_FROM else "bh",
        ints_in_interval=FFT_INTS_IN_INTERVAL,
        verbose=False,
    )
    return np.asarray(tsne.fit(x), dtype=np.float64)


def _run_sklearn(x: np.ndarray, perplexity: float, seed: int, n_jobs: int) -> np.ndarray:
    from sklearn.manifold import TSNE

    tsne = TSNE(
        n_components=2,
        perplexity=perplexity,
        init="pca",
        learning_rate="auto",
        method="barnes_hut",
        random_state=seed,
        n_jobs=n_jobs,
    )
    return np.asarray(tsne.fit_transform(x), dtype=np.float64)


def tsne_2d(
    features: np.ndarray,
    seed: int = 0,
    perplexity: float = 30.0,
    max_points: int = 10000,
    *,
    pca_dims: int | None = None,
    backend: str = "auto",
    n_jobs: int | None = 1,
) -> TsneEmbedding:
    """Embed feature vectors in 2-D with t-SNE (van der Maaten & Hinton 2008).

    More than ``max_points`` rows are subsampled first (seeded, without
    replacement); ``indices`` says which rows are shown. With ``pca_dims``,
    wider features are reduced by PCA first: at 10,000 points this halves
    the time for 3072-d inputs but keeps fewer true neighbours, and gives
    nothing at 256-d (``docs/evaluation.md``), so it is off by default. The
    perplexity is lowered to ``(N' - 1) / 3`` when there are too few points
    for it, with a warning.

    Args:
        features: ``(N, F)`` feature vectors (numpy or anything ``np.asarray``
            accepts).
        seed: seed of the subsampling, the PCA and the t-SNE optimisation.
        perplexity: effective number of neighbours of each point.
        max_points: at most this many rows are embedded.
        pca_dims: PCA dimensions before t-SNE (e.g. 50 for raw pixels);
            ``None`` = no PCA.
        backend: one of :data:`BACKENDS`. ``auto`` uses openTSNE when it is
            installed (about 4x less CPU time than scikit-learn at 10,000 points,
            same trustworthiness), else scikit-learn.
        n_jobs: threads for every stage (OpenMP and BLAS pools are capped to
            it); ``None`` or ``-1`` = all cores. One by default: 10,000
            points take about 20 s of one core, and when other jobs share
            the cores, OpenMP threads that wait spin (two threads ran 2.7x
            slower than one on a busy 2-core machine).

    Returns:
        ``TsneEmbedding(points (N', 2), indices (N',))``; unpacks as a pair.

    Raises:
        CpckitError: on a wrong shape, non-finite values, fewer than 4 rows,
            a non-positive perplexity or ``max_points``, or an unknown or
            unavailable backend.
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise CpckitError(f"tsne features must have shape (N, F), got shape {tuple(x.shape)}")
    if x.shape[0] < _MIN_POINTS:
        raise CpckitError(f"tsne needs at least {_MIN_POINTS} points, got {x.shape[0]}")
    if not np.isfinite(x).all():
        bad = int((~np.isfinite(x)).any(axis=1).sum())
        raise CpckitError(
            f"tsne features contain NaN or infinite values in {bad} of {x.shape[0]} rows"
        )
    if perplexity <= 0:
        raise CpckitError(f"tsne perplexity must be > 0, got {perplexity}")
    if max_points < _MIN_POINTS:
        raise CpckitError(f"tsne max_points must be >= {_MIN_POINTS}, got {max_points}")
    if pca_dims is not None and pca_dims < 2:
        raise CpckitError(f"tsne pca_dims must be >= 2 or None, got {pca_dims}")
    if backend not in BACKENDS:
        raise CpckitError(f"tsne backend {backend!r} is unknown; valid: {', '.join(BACKENDS)}")
    found = available_backends()
    if backend == "auto":
        backend = found[0]
    elif backend not in found:
        raise CpckitError(
            f"tsne backend {backend!r} needs openTSNE: pip install 'cpckit[tsne]', "
            f"or use backend 'auto' or 'sklearn' (installed: {', '.join(found)})"
        )
    jobs = _n_jobs(n_jobs)

    n = x.shape[0]
    if n > max_points:
        indices = np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))
        log.info("t-SNE on a random subsample of %d of %d points", max_points, n)
        x = x[indices]
    else:
        indices = np.arange(n)
    indices = indices.astype(np.int64)

    limit = (x.shape[0] - 1) / 3.0
    if perplexity > limit:
        warnings.warn(
            f"tsne perplexity {perplexity} is too large for {x.shape[0]} points; using {limit:.3g}",
            stacklevel=2,
        )
        perplexity = limit

    from threadpoolctl import threadpool_limits

    # Both libraries parallelise with OpenMP (and the PCA with BLAS): cap every
    # pool at n_jobs, since oversubscribed OpenMP threads spin and slow down a lot.
    with threadpool_limits(limits=jobs):
        x = _reduce(x, pca_dims, seed)
        if backend == "opentsne":
            points = _run_opentsne(x, perplexity, seed, jobs)
        else:
            points = _run_sklearn(x, perplexity, seed, jobs)
    return TsneEmbedding(points=points, indices=indices)
