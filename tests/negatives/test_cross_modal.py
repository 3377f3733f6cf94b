"""CrossModalSampler: negatives from the other modality only."""

from __future__ import annotations

import pytest
import torch

from cpckit.negatives.cross_modal import CrossModalSampler
from cpckit.similarity import Similarity
from helpers.negatives import make_output, make_query

B, L, K, D = 3, 10, 3, 8


def test_neg_crossmodal_negatives_come_from_the_other_modality_only() -> None:
    out = make_output(B, L, K, D)
    other = make_output(4, 5, 1, D, seed=9)
    query = make_query(out, Similarity("dot"), other=other)
    torch.manual_seed(0)
    neg, mask = CrossModalSampler(6).gather_negatives(query)
    other_rows = other.z.reshape(-1, D)
    own_rows = out.z.reshape(-1, D)
    flat = neg.reshape(-1, D)
    in_other = (flat.unsqueeze(1) == other_rows.unsqueeze(0)).all(-1).any(1)
    in_own = (flat.unsqueeze(1) == own_rows.unsqueeze(0)).all(-1).any(1)
    assert in_other.all() and not in_own.any()
    assert mask.all()


def test_neg_crossmodal_needs_two_modalities() -> None:
    query = make_query(make_output(B, L, K, D), Similarity("dot"))
    with pytest.raises(ValueError, match="two modalities"):
        CrossModalSampler(4)(query)
