"""InBatchSampler: draws shared over a run of positions, and the share setting."""

from __future__ import annotations

import pytest
import torch

from cpckit.negatives.in_batch import InBatchSampler
from cpckit.similarity import Similarity
from helpers.negatives import make_output, make_query

B, L, K, D = 3, 10, 3, 8


@pytest.mark.parametrize("share", [2, 3, 7, 20])
def test_neg_shared_draws_repeat_within_a_run_of_positions(share: int) -> None:
    query = make_query(make_output(B, L, K, D, seed=4), Similarity("dot"))
    t = L - K
    torch.manual_seed(0)
    drawn, idx, mask = InBatchSampler(30, share=share)._indices(query)
    runs = -(-t // share)
    assert drawn.shape == (B, runs, 31)
    assert idx.shape == (B, t, 31) and mask.shape == (B, t, K, 31)
    for pos in range(t):
        assert torch.equal(idx[:, pos], drawn[:, pos // share])
    if runs > 1:  # independent draws for different runs
        assert not torch.equal(drawn[:, 0], drawn[:, 1])


@pytest.mark.parametrize("share", [0, -1, 1.5, True])
def test_neg_share_must_be_a_positive_integer(share: object) -> None:
    with pytest.raises(ValueError, match="share = .* must be an integer >= 1"):
        InBatchSampler(5, share=share)  # type: ignore[arg-type]
