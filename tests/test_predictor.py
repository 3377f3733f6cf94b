"""Predictors: one head per prediction step, each an independent linear map."""

from __future__ import annotations

import pytest
import torch

from cpckit.predictor import build_predictor


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_predictor_one_head_per_step(kind: str) -> None:
    pred = build_predictor(kind, c_dim=6, z_dim=5, steps=4, hidden=7)
    out = pred(torch.randn(2, 3, 6))
    assert out.shape == (2, 3, 4, 5)


def test_linear_predictor_heads_are_independent_linear_maps() -> None:
    pred = build_predictor("linear", c_dim=3, z_dim=2, steps=2)
    c = torch.randn(1, 1, 3)
    w = pred.heads.weight.view(2, 2, 3)
    b = pred.heads.bias.view(2, 2)
    out = pred(c)[0, 0]
    for k in range(2):
        assert torch.allclose(out[k], w[k] @ c[0, 0] + b[k], atol=1e-6)
