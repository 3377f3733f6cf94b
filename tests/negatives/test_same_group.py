"""SameGroupSampler: draws from the sequence's group or its own sequence, never padding."""

from __future__ import annotations

import torch

from cpckit.negatives.same_group import SameGroupSampler, group_partners
from cpckit.similarity import Similarity
from helpers.negatives import make_output, make_query

B, L, K, D = 3, 10, 3, 8


def test_neg_samegroup_draws_from_group_or_own_sequence() -> None:
    b, length = 5, 12
    groups = torch.tensor([0, 1, 0, 0, -1])  # seq 1 alone, seq 4 without group
    partners = group_partners(groups, b, torch.device("cpu"))
    expected = torch.tensor(
        [
            [0, 0, 1, 1, 0],
            [0, 1, 0, 0, 0],
            [1, 0, 0, 1, 0],
            [1, 0, 1, 0, 0],
            [0, 0, 0, 0, 1],
        ],
        dtype=torch.bool,
    )
    assert torch.equal(partners, expected)
    query = make_query(make_output(b, length, K, D), Similarity("dot"), groups=groups)
    torch.manual_seed(0)
    idx = SameGroupSampler(20)._draw(query, query.q.shape[1])  # (B, T, n+1)
    seq = idx // length
    for bi in range(b):
        assert expected[bi, seq[bi]].all()
    assert set(seq[0].unique().tolist()) == {2, 3}


def test_neg_samegroup_without_groups_is_own_sequence() -> None:
    query = make_query(make_output(B, L, K, D), Similarity("dot"))
    torch.manual_seed(0)
    idx = SameGroupSampler(9)._draw(query, query.q.shape[1])
    assert torch.equal(idx // L, torch.arange(B).view(B, 1, 1).expand_as(idx))


def test_neg_samegroup_never_draws_padding() -> None:
    valid = torch.ones(4, L, dtype=torch.bool)
    valid[1, 4:] = False
    query = make_query(
        make_output(4, L, K, D, valid=valid), Similarity("dot"), groups=torch.tensor([3, 3, 3, 3])
    )
    torch.manual_seed(0)
    idx = SameGroupSampler(30)._draw(query, query.q.shape[1])
    assert valid.reshape(-1)[idx].all()
