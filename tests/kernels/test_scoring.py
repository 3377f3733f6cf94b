"""Chunked index scoring against materialised candidates: same scores, same
gradients, in float64."""

from __future__ import annotations

import pytest
import torch

from cpckit.kernels.scoring import score_gathered
from cpckit.negatives.base import score_candidates
from helpers.kernels import plain_scores


def test_kernels_fast_scoring_matches_materialised_candidates() -> None:
    torch.manual_seed(1)
    q = torch.randn(3, 7, 4, 5, dtype=torch.float64, requires_grad=True)
    bank = torch.randn(40, 5, dtype=torch.float64, requires_grad=True)
    idx = torch.randint(0, 40, (3, 7, 11))
    grad = torch.randn(3, 7, 4, 11, dtype=torch.float64)

    fast = score_candidates(q, bank, idx)
    fast_q, fast_bank = torch.autograd.grad(fast, (q, bank), grad)
    ref = plain_scores(q, bank, idx)
    ref_q, ref_bank = torch.autograd.grad(ref, (q, bank), grad)

    torch.testing.assert_close(fast, ref)
    torch.testing.assert_close(fast_q, ref_q)
    torch.testing.assert_close(fast_bank, ref_bank)


@pytest.mark.parametrize("block", [2, 3, 7, 10])
def test_kernels_fast_scoring_of_shared_runs_matches_materialised_candidates(block: int) -> None:
    torch.manual_seed(1)
    q = torch.randn(3, 7, 4, 5, dtype=torch.float64, requires_grad=True)
    bank = torch.randn(40, 5, dtype=torch.float64, requires_grad=True)
    runs = -(-7 // block)
    idx = torch.randint(0, 40, (3, runs, 11))
    grad = torch.randn(3, 7, 4, 11, dtype=torch.float64)

    fast = score_candidates(q, bank, idx, block)
    fast_q, fast_bank = torch.autograd.grad(fast, (q, bank), grad)
    per_position = idx.repeat_interleave(block, dim=1)[:, :7]
    ref = plain_scores(q, bank, per_position)
    ref_q, ref_bank = torch.autograd.grad(ref, (q, bank), grad)

    torch.testing.assert_close(fast, ref)
    torch.testing.assert_close(fast_q, ref_q)
    torch.testing.assert_close(fast_bank, ref_bank)


def test_kernels_fast_scoring_without_bank_gradient() -> None:
    q = torch.randn(2, 3, 2, 4, requires_grad=True)
    bank = torch.randn(10, 4)  # e.g. a queue: no gradient
    idx = torch.randint(0, 10, (2, 3, 5))
    (g_q,) = torch.autograd.grad(score_candidates(q, bank, idx).sum(), (q,))
    (r_q,) = torch.autograd.grad(plain_scores(q, bank, idx).sum(), (q,))
    torch.testing.assert_close(g_q, r_q)


@pytest.mark.parametrize(("rows", "one_thread"), [(1, False), (3, True), (8, False)])
def test_kernels_score_gathered_across_chunks(rows: int, one_thread: bool) -> None:
    """Chunks of ``rows`` positions, the last one short: the scores of one
    gather of everything, and gradcheck on ``q`` and the bank."""
    torch.manual_seed(8)
    q = torch.randn(7, 3, 4, dtype=torch.float64, requires_grad=True)
    bank = torch.randn(12, 4, dtype=torch.float64, requires_grad=True)
    idx = torch.randint(0, 12, (7, 5))
    ref = torch.einsum("pkd,pnd->pkn", q, bank[idx])
    torch.testing.assert_close(score_gathered(q, bank, idx, rows, one_thread), ref)
    assert torch.autograd.gradcheck(
        lambda a, b: score_gathered(a, b, idx, rows, one_thread), (q, bank)
    )
