"""Context models: causality, the transformer's learned positions and length limit."""

from __future__ import annotations

import pytest
import torch

from cpckit.context import build_context


@pytest.mark.parametrize("kind", ["gru", "lstm", "transformer"])
def test_context_models_are_causal(kind: str) -> None:
    torch.manual_seed(0)
    ctx = build_context(kind, z_dim=8, c_dim=16, layers=2, heads=4, ff_dim=32).eval()
    z = torch.randn(2, 10, 8)
    c = ctx(z)
    assert c.shape == (2, 10, 16)
    z2 = z.clone()
    z2[:, 6:] = torch.randn(2, 4, 8)
    c2 = ctx(z2)
    assert torch.allclose(c[:, :6], c2[:, :6], atol=1e-5)
    assert not torch.allclose(c[:, 6:], c2[:, 6:], atol=1e-3)


def test_transformer_learned_positions_and_length_limit() -> None:
    ctx = build_context("transformer", z_dim=4, c_dim=8, heads=2, positional="learned", max_len=5)
    assert ctx(torch.randn(1, 5, 4)).shape == (1, 5, 8)
    with pytest.raises(ValueError, match="longer than max_len = 5"):
        ctx(torch.randn(1, 6, 4))
