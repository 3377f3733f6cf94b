"""Random queries and naive, loop-based references for the negatives tests."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from cpckit.model import CPCOutput
from cpckit.negatives.base import NegativeQuery, NegativeSampler
from cpckit.similarity import Similarity


def make_output(
    b: int = 3,
    length: int = 10,
    k: int = 3,
    d: int = 8,
    *,
    seed: int = 0,
    valid: Tensor | None = None,
    requires_grad: bool = False,
) -> CPCOutput:
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(b, length, d, generator=g, dtype=torch.float64)
    pred = torch.randn(b, length - k, k, d, generator=g, dtype=torch.float64)
    z.requires_grad_(requires_grad)
    pred.requires_grad_(requires_grad)
    return CPCOutput(z=z, c=torch.zeros(b, length, 1), pred=pred, valid=valid)


def make_query(
    out: CPCOutput,
    sim: Similarity,
    *,
    groups: Tensor | None = None,
    other: CPCOutput | None = None,
) -> NegativeQuery:
    """The query the objective itself builds (:meth:`CPCObjective.query`), not a copy of it."""
    from cpckit.negatives.in_batch import InBatchSampler
    from cpckit.objective import CPCObjective

    objective = CPCObjective({"audio": [InBatchSampler(1)]}, sim)
    return objective.query(out, other, groups)


def reference_scores(query: NegativeQuery, neg: Tensor) -> Tensor:
    """``(B, T, K, n)`` scores of materialised negatives ``(B, T, K, n, D)``."""
    return (query.q.unsqueeze(-2) * neg).sum(-1) * query.scale


def check_against_reference(sampler: NegativeSampler, query: NegativeQuery, seed: int = 0) -> None:
    """Fast scores equal the reference's wherever the masks (which must agree) say True."""
    torch.manual_seed(seed)
    fast = sampler(query)
    torch.manual_seed(seed)
    neg, mask = sampler.gather_negatives(query)
    b, t, k, _ = query.q.shape
    assert neg.shape[:3] == (b, t, k)
    assert fast.scores.shape == neg.shape[:4]
    fast_mask = fast.mask.expand_as(fast.scores)
    assert torch.equal(fast_mask, mask.expand_as(fast.scores))
    ref = reference_scores(query, neg)
    assert torch.allclose(fast.scores[fast_mask], ref[fast_mask], atol=1e-9, rtol=1e-7)


def similarity(kind: str, temperature: float, p: Tensor, v: Tensor) -> float:
    if kind == "cosine":
        return float(p @ v / (p.norm() * v.norm()) / temperature)
    return float(p @ v)


def naive_loss(
    pred: Tensor,
    z: Tensor,
    negatives: list[tuple[Tensor, Tensor]],
    *,
    kind: str,
    temperature: float,
    valid: Tensor | None = None,
    debiased: bool = False,
    tau_plus: float = 0.1,
    step_weights: list[float] | None = None,
) -> float:
    """The CPC loss, one prediction at a time, from materialised negatives.

    ``negatives`` holds each sampler's ``(neg (B, T, K, n, D), mask)``.
    """
    b, t, k, _ = pred.shape
    per_step: list[list[float]] = [[] for _ in range(k)]
    for bi in range(b):
        for ti in range(t):
            for ki in range(k):
                target = ti + ki + 1
                if valid is not None and not bool(valid[bi, target]):
                    continue
                p = pred[bi, ti, ki]
                s_pos = similarity(kind, temperature, p, z[bi, target])
                s_neg = [
                    similarity(kind, temperature, p, neg[bi, ti, ki, j])
                    for neg, mask in negatives
                    for j in range(neg.shape[3])
                    if bool(mask.expand(b, t, k, neg.shape[3])[bi, ti, ki, j])
                ]
                if debiased:
                    n = len(s_neg)
                    g = (sum(math.exp(s) for s in s_neg) - n * tau_plus * math.exp(s_pos)) / (
                        1 - tau_plus
                    )
                    g = max(g, n * math.exp(-1 / temperature))
                    loss = -math.log(math.exp(s_pos) / (math.exp(s_pos) + g))
                else:
                    logits = [s_pos, *s_neg]
                    top = max(logits)
                    lse = top + math.log(sum(math.exp(x - top) for x in logits))
                    loss = lse - s_pos
                per_step[ki].append(loss)
    means = [sum(v) / max(1, len(v)) for v in per_step]
    weights = step_weights or [1.0] * k
    return sum(w * m for w, m in zip(weights, means)) / sum(weights)
