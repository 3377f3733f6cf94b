"""MomentumEncoder: the key encoder's update formula, frozen parameters, copied buffers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cpckit.negatives.momentum import MomentumEncoder


def _encoders() -> dict[str, nn.Module]:
    torch.manual_seed(0)
    return {"audio": nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))}


def test_neg_momentum_update_formula() -> None:
    online = nn.ModuleDict(_encoders())
    key = MomentumEncoder(online, momentum=0.9)
    assert all(not p.requires_grad for p in key.parameters())
    before = [p.detach().clone() for p in key.parameters()]
    with torch.no_grad():
        for p in online.parameters():
            p.add_(torch.randn_like(p))
        online["audio"][1].running_mean.fill_(3.0)  # type: ignore[index]
    key.step(online)
    for k0, q, k1 in zip(before, online.parameters(), key.parameters()):
        assert torch.allclose(k1, 0.9 * k0 + 0.1 * q)
    assert torch.equal(key.encoders["audio"][1].running_mean, torch.full((4,), 3.0))  # type: ignore[index]
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        MomentumEncoder(online, momentum=1.0)
