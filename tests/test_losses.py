"""InfoNCE against naive loops and analytic values."""

from __future__ import annotations

import math

import pytest
import torch

from cpckit.losses import debiased_info_nce, info_nce
from cpckit.model import CPCOutput
from cpckit.negatives.base import NegativeQuery, positive_index
from cpckit.negatives.in_batch import InBatchSampler, SameSequenceSampler
from cpckit.objective import CPCObjective
from cpckit.similarity import Similarity


def naive_row_loss(q: torch.Tensor, pos: torch.Tensor, negs: list[torch.Tensor]) -> torch.Tensor:
    logits = torch.stack([q @ pos] + [q @ n for n in negs])
    return -torch.log_softmax(logits, 0)[0]


def test_info_nce_equal_scores_is_log_n_plus_one() -> None:
    for n in (1, 7, 128):
        pos = torch.zeros(2, 3, 4)
        neg = torch.zeros(2, 3, 4, n)
        res = info_nce(pos, neg)
        assert res.loss.item() == pytest.approx(math.log(n + 1), abs=1e-6)
        assert torch.allclose(res.step_loss, torch.full((4,), math.log(n + 1)))


def test_info_nce_masked_negatives_are_left_out() -> None:
    pos = torch.zeros(1, 1, 1)
    neg = torch.tensor([[[[0.0, 100.0, 0.0]]]])
    mask = torch.tensor([[[[True, False, True]]]])
    assert info_nce(pos, neg, mask).loss.item() == pytest.approx(math.log(3), abs=1e-6)


def test_info_nce_accuracy_counts_strict_wins() -> None:
    pos = torch.tensor([[[1.0, 0.0]]])  # (1, 1, K=2)
    neg = torch.tensor([[[[0.5, 0.2], [0.1, 0.3]]]])  # step 0 wins, step 1 loses
    res = info_nce(pos, neg)
    assert res.step_accuracy.tolist() == [1.0, 0.0]


def test_info_nce_valid_mask_and_step_weights() -> None:
    torch.manual_seed(0)
    pos, neg = torch.randn(3, 5, 2), torch.randn(3, 5, 2, 4)
    valid = torch.rand(3, 5, 2) > 0.3
    res = info_nce(pos, neg, valid=valid, step_weights=torch.tensor([3.0, 1.0]))
    row = torch.logsumexp(torch.cat([pos.unsqueeze(-1), neg], -1), -1) - pos
    per_k = [(row[..., k][valid[..., k]]).mean() for k in range(2)]
    expected = (3 * per_k[0] + per_k[1]) / 4
    assert res.loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_debiased_info_nce_hand_worked_case() -> None:
    # One prediction, N = 2 negatives, t = 0.5, tau+ = 0.1.
    pos = torch.tensor([[[1.0]]])
    neg = torch.tensor([[[[0.0, 0.5]]]])
    t, tau = 0.5, 0.1
    g = (math.exp(0.0) + math.exp(0.5) - 2 * tau * math.exp(1.0)) / (1 - tau)
    g = max(g, 2 * math.exp(-1 / t))
    expected = -math.log(math.exp(1.0) / (math.exp(1.0) + g))
    res = debiased_info_nce(pos, neg, tau_plus=tau, temperature=t)
    assert res.loss.item() == pytest.approx(expected, rel=1e-6)


def test_debiased_info_nce_with_zero_prior_is_info_nce() -> None:
    torch.manual_seed(1)
    pos, neg = torch.randn(2, 3, 4), torch.randn(2, 3, 4, 6)
    # With tau+ = 0 and a bound far below the scores, debiasing changes nothing.
    a = debiased_info_nce(pos, neg, tau_plus=0.0, temperature=0.01).loss
    b = info_nce(pos, neg).loss
    assert a.item() == pytest.approx(b.item(), rel=1e-5)


def test_debiased_bound_applies_when_estimate_is_small() -> None:
    pos = torch.tensor([[[5.0]]], dtype=torch.float64)
    neg = torch.tensor([[[[-5.0, -5.0]]]], dtype=torch.float64)
    t, tau = 0.2, 0.5
    g = 2 * math.exp(-1 / t)  # the estimate is negative, so the bound wins
    expected = -math.log(math.exp(5.0) / (math.exp(5.0) + g))
    res = debiased_info_nce(pos, neg, tau_plus=tau, temperature=t)
    assert res.loss.item() == pytest.approx(expected, rel=1e-6)


def _query(
    b: int, length: int, k: int, d: int, sim: Similarity, seed: int = 0
) -> tuple[NegativeQuery, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(b, length, d, generator=g)
    pred = torch.randn(b, length - k, k, d, generator=g)
    out = CPCOutput(z=z, c=torch.zeros(b, length, 1), pred=pred, valid=None)
    obj = CPCObjective({"audio": [InBatchSampler(3)]}, sim)
    return obj.query(out, None, None), z, pred


@pytest.mark.parametrize("sampler_cls", [InBatchSampler, SameSequenceSampler])
@pytest.mark.parametrize("kind", ["dot", "cosine"])
def test_sampler_plus_loss_equals_naive_loop(sampler_cls: type, kind: str) -> None:
    b, length, k, d, n = 3, 10, 3, 8, 5
    sim = Similarity(kind, temperature=0.3)
    g = torch.Generator().manual_seed(0)
    z = torch.randn(b, length, d, generator=g)
    pred = torch.randn(b, length - k, k, d, generator=g)
    out = CPCOutput(z=z, c=torch.zeros(b, length, 1), pred=pred, valid=None)
    sampler = sampler_cls(n)
    obj = CPCObjective({"audio": [sampler]}, sim)
    torch.manual_seed(123)
    result = obj({"audio": out}).per_modality["audio"]
    # Redraw the same candidate indices.
    torch.manual_seed(123)
    if sampler_cls is InBatchSampler:
        idx = torch.randint(0, b * length, (b, length - k, n + 1))
    else:
        idx = (
            torch.randint(0, length, (b, length - k, n + 1))
            + torch.arange(b).view(b, 1, 1) * length
        )
    flat = z.reshape(b * length, d)
    norm = (lambda v: v / v.norm()) if kind == "cosine" else (lambda v: v)
    scale = 1 / 0.3 if kind == "cosine" else 1.0
    losses = torch.zeros(b, length - k, k)
    for bi in range(b):
        for t in range(length - k):
            for kk in range(k):
                p_idx = bi * length + t + kk + 1
                cands = idx[bi, t].tolist()
                if p_idx in cands:
                    negs = [flat[j] for j in cands if j != p_idx]
                else:
                    negs = [flat[j] for j in cands[:-1]]
                q = norm(pred[bi, t, kk]) * scale
                losses[bi, t, kk] = naive_row_loss(q, norm(flat[p_idx]), [norm(v) for v in negs])
    assert result.loss.item() == pytest.approx(losses.mean().item(), abs=1e-5)
    assert torch.allclose(result.step_loss, losses.mean((0, 1)), atol=1e-5)


def test_in_batch_never_scores_the_positive_as_negative() -> None:
    b, length, k, d = 2, 6, 4, 4
    query, _, _ = _query(b, length, k, d, Similarity("dot"))
    pos = positive_index(b, length - k, k, length, torch.device("cpu"))
    for seed in range(20):
        torch.manual_seed(seed)
        sampler = InBatchSampler(b * length)  # a large draw hits every positive
        torch.manual_seed(seed)
        idx = torch.randint(0, b * length, (b, length - k, b * length + 1))
        torch.manual_seed(seed)
        neg = sampler(query)
        hit = idx.unsqueeze(2) == pos.unsqueeze(-1)
        assert not (neg.mask & hit).any()
        # every prediction keeps N negatives unless its positive was drawn twice
        count = neg.mask.sum(-1)
        twice = hit.sum(-1) >= 2
        assert torch.all(count[~twice] == b * length)


def test_all_equal_latents_give_log_n_plus_one_through_sampler() -> None:
    b, length, k, d, n = 4, 40, 3, 8, 16
    z = torch.ones(b, length, d)
    pred = torch.randn(b, length - k, k, d)
    out = CPCOutput(z=z, c=torch.zeros(b, length, 1), pred=pred, valid=None)
    obj = CPCObjective({"audio": [InBatchSampler(n)]}, Similarity("dot"))
    torch.manual_seed(0)
    res = obj({"audio": out}).per_modality["audio"]
    torch.manual_seed(0)
    neg = InBatchSampler(n)(obj.query(out, None, None))
    count = neg.mask.sum(-1).float()
    assert res.loss.item() == pytest.approx(torch.log1p(count).mean().item(), abs=1e-5)
    assert (count == n).float().mean() > 0.95


def test_padded_latents_are_neither_targets_nor_negatives() -> None:
    b, length, k, d, n = 2, 12, 2, 4, 30
    torch.manual_seed(0)
    z = torch.randn(b, length, d)
    valid = torch.ones(b, length, dtype=torch.bool)
    valid[1, 8:] = False
    out = CPCOutput(
        z=z, c=torch.zeros(b, length, 1), pred=torch.randn(b, length - k, k, d), valid=valid
    )
    obj = CPCObjective({"audio": [InBatchSampler(n)]}, Similarity("dot"))
    query = obj.query(out, None, None)
    torch.manual_seed(5)
    idx = torch.randint(0, b * length, (b, length - k, n + 1))
    torch.manual_seed(5)
    neg = InBatchSampler(n)(query)
    padded = ~valid.reshape(-1)[idx]  # (B, T, n+1)
    assert not (neg.mask & padded.unsqueeze(2)).any()
    # Changing padded latents does not change the loss when the targets there are masked.
    torch.manual_seed(9)
    a = obj({"audio": out}).loss
    z2 = z.clone()
    z2[1, 8:] = 1e3
    torch.manual_seed(9)
    b2 = obj({"audio": CPCOutput(z=z2, c=out.c, pred=out.pred, valid=valid)}).loss
    assert a.item() == pytest.approx(b2.item(), abs=1e-5)


def test_info_nce_counts_the_valid_predictions_of_each_step() -> None:
    torch.manual_seed(0)
    pos, neg = torch.randn(2, 3, 2), torch.randn(2, 3, 2, 4)
    valid = torch.tensor([[[True, True], [True, False], [False, False]]] * 2)
    assert info_nce(pos, neg, valid=valid).n_valid.tolist() == [4, 2]
    assert info_nce(pos, neg).n_valid.tolist() == [6, 6]
    assert debiased_info_nce(pos, neg, valid=valid).n_valid.tolist() == [4, 2]


def test_info_nce_without_any_valid_prediction_is_zero_not_nan() -> None:
    """Evaluation may score a batch of clips too short to predict anything: 0, counted as 0."""
    pos, neg = torch.randn(2, 3, 2), torch.randn(2, 3, 2, 4)
    res = info_nce(pos, neg, valid=torch.zeros(2, 3, 2, dtype=torch.bool))
    assert res.loss.item() == 0.0 and res.n_valid.tolist() == [0, 0]
    assert res.step_accuracy.tolist() == [0.0, 0.0]
