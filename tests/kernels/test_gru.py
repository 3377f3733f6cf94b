"""The GRU layer with its own backward against the GRU equations and nn.GRU, in float64."""

from __future__ import annotations

import pytest
import torch

from cpckit.context import GRUContext
from cpckit.kernels.gru import gru_layer
from helpers.kernels import plain_gru


@pytest.mark.parametrize("layers", [1, 2])
def test_kernels_fast_gru_matches_the_gru_equations(layers: int) -> None:
    torch.manual_seed(2)
    ctx = GRUContext(z_dim=6, c_dim=5, layers=layers).double()
    z = torch.randn(3, 9, 6, dtype=torch.float64, requires_grad=True)
    grad = torch.randn(3, 9, 5, dtype=torch.float64)
    params = [z, *ctx.parameters()]

    fast = ctx(z)
    fast_grads = torch.autograd.grad(fast, params, grad)
    ref = plain_gru(ctx.rnn, z)
    ref_grads = torch.autograd.grad(ref, params, grad)

    torch.testing.assert_close(fast, ref)
    torch.testing.assert_close(fast, ctx.rnn(z)[0])
    for a, b in zip(fast_grads, ref_grads):
        torch.testing.assert_close(a, b)


def test_kernels_gru_layer_gradcheck() -> None:
    torch.manual_seed(7)
    rnn = torch.nn.GRU(3, 4, batch_first=True).double()
    x = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(gru_layer, (x, *rnn.parameters()))
