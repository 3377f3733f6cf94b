"""SyntheticSampler: perturbed copies and shuffled latents, their norms, windows and gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cpckit.negatives.base import positive_index
from cpckit.negatives.synthetic import SyntheticSampler
from cpckit.similarity import Similarity
from helpers.negatives import make_output, make_query

B, L, K, D = 3, 10, 3, 8


def test_neg_synthetic_halves_and_noise_scale() -> None:
    b, length, d = 4, 40, 64
    out = make_output(b, length, K, d, seed=5)
    query = make_query(out, Similarity("dot"))
    sampler = SyntheticSampler(7, sigma=0.5)
    assert (sampler.n_perturbed, sampler.n_shuffled, sampler.count) == (4, 3, 7)
    torch.manual_seed(0)
    neg, mask = sampler.gather_negatives(query)
    pos = out.z[:, 1:].unfold(1, K, 1).movedim(-1, 2).unsqueeze(-2)  # (B, T, K, 1, D)
    copies = neg[..., :4, :]
    # a copy keeps the positive's norm; noise of norm ~ sigma |z+| turns it by
    # about atan(sigma): cos = 1 / sqrt(1 + sigma^2) in high dimensions
    assert torch.allclose(copies.norm(dim=-1), pos.norm(dim=-1).expand(-1, -1, -1, 4))
    cos = F.cosine_similarity(copies, pos, dim=-1)
    assert cos.mean().item() == pytest.approx(1 / (1 + 0.5**2) ** 0.5, rel=0.03)
    # the four copies of one prediction use distinct noise vectors
    assert (copies[..., 0, :] - copies[..., 1, :]).abs().amax(-1).min() > 0
    assert mask.all()


@pytest.mark.parametrize("kind", ["dot", "cosine"])
def test_neg_synthetic_copies_lose_to_the_positive_when_pointed_at(kind: str) -> None:
    out = make_output(2, 12, K, 16, seed=3)
    pred = out.z[:, 1:].unfold(1, K, 1).movedim(-1, 2).detach().clone() * 0.7  # q = 0.7 z+
    out = type(out)(z=out.z, c=out.c, pred=pred, valid=None)
    query = make_query(out, Similarity(kind, 0.5))
    torch.manual_seed(0)
    res = SyntheticSampler(16, sigma=1.0)(query)
    pos = (query.q * query.keys[:, 1:].unfold(1, K, 1).movedim(-1, 2)).sum(-1) * query.scale
    assert (res.scores[..., :8] < pos.unsqueeze(-1)).all()


def test_neg_synthetic_shuffled_are_same_sequence_within_window() -> None:
    length, window = 30, 3
    out = make_output(B, length, K, D, seed=2)
    query = make_query(out, Similarity("dot"))
    torch.manual_seed(1)
    draw = SyntheticSampler(40, window=window)._draw(query)
    pos = positive_index(B, length - K, K, length, torch.device("cpu")).unsqueeze(-1)
    assert torch.equal(draw.shuffle_idx // length, pos.expand_as(draw.shuffle_idx) // length)
    delta = draw.shuffle_idx - pos
    assert (delta != 0).all() and (delta.abs() <= window).all()
    assert set(delta.unique().tolist()) == {-3, -2, -1, 1, 2, 3}


def test_neg_synthetic_perturbed_copies_pass_no_gradient_to_the_positive() -> None:
    out = make_output(2, 8, 2, 4, requires_grad=True)
    query = make_query(out, Similarity("dot"))
    sampler = SyntheticSampler(2)  # one perturbed, one shuffled
    torch.manual_seed(0)
    res = sampler(query)
    res.scores[..., 0].sum().backward()  # the perturbed copies only
    assert out.z.grad is None or torch.count_nonzero(out.z.grad) == 0
    assert out.pred.grad is not None and torch.count_nonzero(out.pred.grad) > 0


def test_neg_cosine_synthetic_uses_exact_norm() -> None:
    out = make_output(2, 9, 2, 6, seed=8)
    sim = Similarity("cosine", 0.2)
    query = make_query(out, sim)
    sampler = SyntheticSampler(4, sigma=2.0)
    torch.manual_seed(3)
    res = sampler(query)
    torch.manual_seed(3)
    neg, _ = sampler.gather_negatives(query)
    assert torch.allclose(neg.norm(dim=-1), torch.ones(()).double())
    ref = (F.normalize(out.pred, dim=-1).unsqueeze(-2) * neg).sum(-1) / 0.2
    assert torch.allclose(res.scores, ref)
