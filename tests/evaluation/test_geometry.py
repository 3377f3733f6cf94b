"""Alignment and uniformity against hand-computed values and the paper's pseudocode."""

from __future__ import annotations

import inspect
import math
import warnings

import numpy as np
import pytest
import torch

from cpckit.errors import CpckitError
from cpckit.evaluation.geometry import (
    GeometryEstimate,
    NoisyEstimateWarning,
    alignment,
    l2_normalize,
    uniformity,
)


def _paper_uniformity(x: torch.Tensor, t: float = 2.0) -> float:
    """Wang & Isola 2020, appendix pseudocode, on normalised float64 features."""
    x = torch.nn.functional.normalize(x.double(), dim=1)
    return float(torch.pdist(x, p=2).pow(2).mul(-t).exp().mean().log())


def _paper_alignment(x: torch.Tensor, y: torch.Tensor, alpha: float = 2.0) -> float:
    x = torch.nn.functional.normalize(x.double(), dim=1)
    y = torch.nn.functional.normalize(y.double(), dim=1)
    return float((x - y).norm(p=2, dim=1).pow(alpha).mean())


def test_eval_geometry_uniformity_orthogonal_pair_is_minus_four() -> None:
    with pytest.warns(NoisyEstimateWarning):
        value = uniformity(np.array([[1.0, 0.0], [0.0, 1.0]]))
    assert value == pytest.approx(-4.0, abs=1e-12)
    assert isinstance(value, float)


def test_eval_geometry_uniformity_is_scale_invariant() -> None:
    with pytest.warns(NoisyEstimateWarning):
        value = uniformity(np.array([[3.0, 0.0], [0.0, 0.25]]))
    assert value == pytest.approx(-4.0, abs=1e-12)


def test_eval_geometry_uniformity_three_points_by_hand() -> None:
    # e1, -e1, e2: squared distances 4, 2, 2.
    x = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])
    expected = math.log((math.exp(-8.0) + 2 * math.exp(-4.0)) / 3)
    with pytest.warns(NoisyEstimateWarning):
        assert uniformity(x) == pytest.approx(expected, abs=1e-12)
    with pytest.warns(NoisyEstimateWarning):
        assert uniformity(x, t=1.0) == pytest.approx(
            math.log((math.exp(-4.0) + 2 * math.exp(-2.0)) / 3)
        )


def test_eval_geometry_uniformity_matches_paper_pseudocode_across_blocks() -> None:
    x = torch.randn(1500, 16, generator=torch.Generator().manual_seed(0)) * 5.0
    assert uniformity(x) == pytest.approx(_paper_uniformity(x), abs=1e-10)
    assert uniformity(x.numpy(), t=0.5) == pytest.approx(_paper_uniformity(x, t=0.5), abs=1e-10)


def test_eval_geometry_uniformity_stable_for_large_t() -> None:
    with pytest.warns(NoisyEstimateWarning):
        assert uniformity(np.eye(2), t=500.0) == pytest.approx(-1000.0)  # t * squared distance 2


def test_eval_geometry_uniformity_subsamples_and_says_so() -> None:
    assert inspect.signature(uniformity).parameters["max_samples"].default == 5000
    x = np.random.default_rng(1).normal(size=(1200, 8))
    sub = uniformity(x, max_samples=1000, seed=0)
    full = uniformity(x, max_samples=5000)
    assert isinstance(sub, GeometryEstimate)
    assert (sub.n_used, sub.n_total, sub.subsampled) == (1000, 1200, True)
    assert sub.note == "on 1000 of 1200 samples (seeded subsample)"
    assert (full.n_used, full.subsampled, full.note) == (1200, False, "on all 1200")
    assert sub == pytest.approx(full, abs=0.02)
    assert uniformity(x, max_samples=1000, seed=0) == sub
    assert uniformity(x, max_samples=1000, seed=1) != sub


def test_eval_geometry_alignment_by_hand() -> None:
    x = np.random.default_rng(2).normal(size=(120, 5))
    assert alignment(x, x) == pytest.approx(0.0, abs=1e-12)
    assert alignment(x, -x) == pytest.approx(4.0)
    assert alignment(x, -x, alpha=1.0) == pytest.approx(2.0)
    e1 = np.tile([1.0, 0.0], (100, 1))
    e2 = np.tile([0.0, 1.0], (100, 1))
    assert alignment(e1, e2) == pytest.approx(2.0)
    assert alignment(e1, e2, alpha=1.0) == pytest.approx(math.sqrt(2.0))


def test_eval_geometry_alignment_scale_invariant_and_matches_paper() -> None:
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(200, 12, generator=gen)
    y = x + 0.3 * torch.randn(200, 12, generator=gen)
    value = alignment(x, y)
    assert value == pytest.approx(_paper_alignment(x, y), abs=1e-9)
    assert alignment(7.0 * x, 0.01 * y) == pytest.approx(value, abs=1e-9)
    assert alignment(x.float(), y.float(), alpha=3.0) == pytest.approx(
        _paper_alignment(x, y, 3.0), abs=1e-6
    )


def test_eval_geometry_noisy_warning_threshold() -> None:
    x = np.random.default_rng(4).normal(size=(100, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        uniformity(x)
        alignment(x, x)
    with pytest.warns(
        NoisyEstimateWarning, match="uniformity from only 99 samples is a noisy estimate"
    ):
        uniformity(x[:99])
    with pytest.warns(NoisyEstimateWarning, match="alignment from only 5 pairs"):
        alignment(x[:5], x[:5])


def test_eval_geometry_guard_messages() -> None:
    with pytest.raises(CpckitError) as exc:
        uniformity(np.ones((1, 4)))
    assert str(exc.value) == "uniformity needs at least 2 samples, got 1"
    with pytest.raises(CpckitError) as exc:
        alignment(np.ones((0, 4)), np.ones((0, 4)))
    assert str(exc.value) == "alignment needs at least 1 positive pair, got 0"
    with pytest.raises(CpckitError) as exc:
        alignment(np.ones((3, 4)), np.ones((3, 5)))
    assert (
        str(exc.value) == "alignment x and y must have the same shape (N, D), got (3, 4) and (3, 5)"
    )
    with pytest.raises(CpckitError) as exc:
        uniformity(np.ones(5))
    assert str(exc.value) == "uniformity x must have shape (N, D), got shape (5,)"


def test_eval_geometry_zero_vectors_named_with_count() -> None:
    x = np.random.default_rng(5).normal(size=(150, 4))
    x[[3, 70]] = 0.0
    with pytest.raises(CpckitError) as exc:
        uniformity(x)
    assert (
        str(exc.value)
        == "uniformity x: 2 of 150 vectors have zero norm and cannot be L2-normalised"
    )
    with pytest.raises(CpckitError, match="alignment y: 2 of 150 vectors have zero norm"):
        alignment(np.ones_like(x), x)
    with pytest.raises(CpckitError, match="features: 1 of 1 vectors"):
        l2_normalize(np.zeros((1, 3)))


def test_eval_geometry_rejects_nonfinite_and_bad_parameters() -> None:
    x = np.ones((4, 2))
    x[1, 0] = np.inf
    with pytest.raises(CpckitError, match="NaN or infinite values in 1 of 4 rows"):
        uniformity(x)
    with pytest.raises(CpckitError, match="t must be > 0, got 0"):
        uniformity(np.eye(3), t=0)
    with pytest.raises(CpckitError, match="alpha must be > 0, got -1"):
        alignment(np.eye(3), np.eye(3), alpha=-1)
