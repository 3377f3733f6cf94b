"""HardSampler: the most similar candidates, gradients to those only, masks when too few."""

from __future__ import annotations

import pytest
import torch

from cpckit.negatives.base import positive_index
from cpckit.negatives.hard import HardSampler
from cpckit.similarity import Similarity
from helpers.negatives import make_output, make_query

B, L, K, D = 3, 10, 3, 8


@pytest.mark.parametrize("kind", ["dot", "cosine"])
def test_neg_hard_picks_the_most_similar_and_not_the_positive(kind: str) -> None:
    out = make_output(B, L, K, D, seed=4)
    query = make_query(out, Similarity(kind, 0.5))
    torch.manual_seed(0)
    sampler = HardSampler(4)
    res = sampler(query)
    bank = query.keys.reshape(-1, D)
    all_scores = (query.q @ bank.t()) * query.scale  # (B, T, K, B*L)
    pos = positive_index(B, L - K, K, L, torch.device("cpu"))
    all_scores.scatter_(-1, pos.unsqueeze(-1), float("-inf"))
    top = all_scores.topk(4, dim=-1).values
    assert torch.allclose(res.scores.sort(-1, descending=True).values, top)


def test_neg_hard_gradient_reaches_only_selected_candidates() -> None:
    out = make_output(2, 8, 2, 4, requires_grad=True)
    query = make_query(out, Similarity("dot"))
    torch.manual_seed(0)
    sampler = HardSampler(1)
    res = sampler(query)
    torch.manual_seed(0)
    neg, _ = sampler.gather_negatives(query)
    res.scores.sum().backward()
    assert out.z.grad is not None
    picked = (out.z.reshape(-1, 4).unsqueeze(1) == neg.reshape(1, -1, 4)).all(-1).any(1)
    touched = out.z.grad.reshape(-1, 4).abs().sum(-1) > 0
    assert torch.equal(touched, picked)


def test_neg_hard_masks_when_source_smaller_than_count() -> None:
    query = make_query(make_output(1, 4, 2, D), Similarity("dot"))
    res = HardSampler(6)(query)  # 4 latents, the positive excluded: at most 3 negatives
    assert res.scores.shape[-1] == 6
    assert (res.mask.sum(-1) == 3).all()
