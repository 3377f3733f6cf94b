"""t-SNE maps: shape, finiteness, cluster separation, subsampling, guards."""

from __future__ import annotations

import numpy as np
import pytest

from cpckit.errors import CpckitError
from cpckit.evaluation.tsne import TsneEmbedding, available_backends, tsne_2d


def _two_clusters(n_per: int = 60, dim: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n_per)
    x = rng.normal(size=(2 * n_per, dim)) + np.where(y[:, None] == 1, 30.0, 0.0)
    return x, y


def _knn_agreement(points: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    d = ((points[:, None, :] - points[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    nn = np.argsort(d, axis=1)[:, :k]
    return float((labels[nn] == labels[:, None]).mean())


@pytest.mark.parametrize("backend", ["sklearn", "opentsne"])
def test_eval_tsne_separates_two_clusters(backend: str) -> None:
    if backend not in available_backends():
        pytest.skip("openTSNE is not installed")
    x, y = _two_clusters()
    emb = tsne_2d(x, seed=0, perplexity=10.0, backend=backend, n_jobs=1)
    assert isinstance(emb, TsneEmbedding)
    points, idx = emb
    assert points.shape == (120, 2)
    assert np.isfinite(points).all()
    assert idx.tolist() == list(range(120))
    assert _knn_agreement(points, y[idx]) > 0.95


def test_eval_tsne_subsamples_to_max_points() -> None:
    x, y = _two_clusters(n_per=100, dim=60)
    points, idx = tsne_2d(x, seed=3, perplexity=10.0, max_points=80, n_jobs=1)
    assert points.shape == (80, 2)
    assert len(np.unique(idx)) == 80 and np.all(np.diff(idx) > 0)
    assert idx.min() >= 0 and idx.max() < 200
    again = tsne_2d(x, seed=3, perplexity=10.0, max_points=80, n_jobs=1)
    assert np.array_equal(again.indices, idx)
    assert _knn_agreement(points, y[idx]) > 0.95


def test_eval_tsne_lowers_perplexity_for_few_points() -> None:
    x, y = _two_clusters(n_per=10, dim=4)
    with pytest.warns(UserWarning, match="perplexity 30.0 is too large for 20 points; using 6.33"):
        points, idx = tsne_2d(x, n_jobs=1)
    assert points.shape == (20, 2) and np.isfinite(points).all()
    assert _knn_agreement(points, y[idx], k=3) > 0.9


def test_eval_tsne_guards() -> None:
    with pytest.raises(CpckitError, match="at least 4 points, got 3"):
        tsne_2d(np.ones((3, 5)))
    with pytest.raises(CpckitError, match=r"shape \(N, F\), got shape \(10,\)"):
        tsne_2d(np.ones(10))
    bad = np.ones((10, 3))
    bad[2, 1] = np.nan
    with pytest.raises(CpckitError, match="NaN or infinite values in 1 of 10 rows"):
        tsne_2d(bad)
    with pytest.raises(
        CpckitError, match="backend 'umap' is unknown; valid: auto, opentsne, sklearn"
    ):
        tsne_2d(np.ones((10, 3)), backend="umap")
    with pytest.raises(CpckitError, match="perplexity must be > 0"):
        tsne_2d(np.ones((10, 3)), perplexity=0)


def test_eval_tsne_without_opentsne_falls_back_and_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    from cpckit.evaluation import tsne as tsne_mod

    real = importlib.util.find_spec
    monkeypatch.setattr(
        tsne_mod.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "openTSNE" else real(name, *a),
    )
    assert available_backends() == ["sklearn"]
    x, y = _two_clusters(n_per=20, dim=5)
    points, idx = tsne_2d(x, perplexity=5.0, n_jobs=1)  # auto: scikit-learn
    assert _knn_agreement(points, y[idx]) > 0.9
    with pytest.raises(
        CpckitError,
        match=r"backend 'opentsne' needs openTSNE: pip install 'cpckit\[tsne\]', "
        r"or use backend 'auto' or 'sklearn' \(installed: sklearn\)$",
    ):
        tsne_2d(x, backend="opentsne")
