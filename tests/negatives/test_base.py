"""Every sampler (the NegativeSampler contract): shapes, counts, the positive never a negative,
fast scores = naive ones; chunked scoring per prediction."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from cpckit.negatives.base import NegativeSampler, score_per_prediction
from cpckit.negatives.cross_modal import CrossModalSampler
from cpckit.negatives.hard import HardSampler
from cpckit.negatives.in_batch import InBatchSampler, SameSequenceSampler
from cpckit.negatives.queue import LatentQueue, QueueSampler
from cpckit.negatives.same_group import SameGroupSampler
from cpckit.negatives.synthetic import SyntheticSampler
from cpckit.similarity import Similarity
from helpers.negatives import check_against_reference, make_output, make_query

B, L, K, D = 3, 10, 3, 8


def _queue_sampler(count: int, size: int = 12, fill: int = 12) -> QueueSampler:
    queue = LatentQueue(size, D).double()
    queue.enqueue(
        torch.randn(fill, D, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    )
    return QueueSampler(count, queue)


def _long_sequence_synthetic() -> SyntheticSampler:
    sampler = SyntheticSampler(4, sigma=0.3)
    sampler.SEQUENCE_GEMM_RATIO = 0  # score shuffled latents by gathering, as for long sequences
    return sampler


def _samplers() -> dict[str, Callable[[], NegativeSampler]]:
    return {
        "inbatch": lambda: InBatchSampler(5),
        "inbatch-share3": lambda: InBatchSampler(5, share=3),
        "samesequence": lambda: SameSequenceSampler(5),
        "samesequence-share4": lambda: SameSequenceSampler(5, share=4),
        "samegroup": lambda: SameGroupSampler(5),
        "samegroup-share2": lambda: SameGroupSampler(5, share=2),
        "queue-filling": lambda: _queue_sampler(5, size=40, fill=9),
        "queue-full": lambda: _queue_sampler(5),
        "queue-all": lambda: _queue_sampler(40, size=12, fill=7),
        "queue-all-full": lambda: _queue_sampler(40, size=12, fill=20),
        "synthetic": lambda: SyntheticSampler(5, sigma=0.3),
        "synthetic-window": lambda: SyntheticSampler(6, sigma=0.3, window=2),
        "synthetic-gather": lambda: _long_sequence_synthetic(),
        "hard-batch": lambda: HardSampler(4),
        "hard-pool": lambda: HardSampler(4, pool=11),
        "hard-queue": lambda: HardSampler(4, source="queue", queue=_queue_sampler(1).queue),
        "crossmodal": lambda: CrossModalSampler(5),
    }


@pytest.mark.parametrize("kind", ["dot", "cosine"])
@pytest.mark.parametrize("name", sorted(_samplers()))
def test_neg_fast_scores_equal_materialised_reference(name: str, kind: str) -> None:
    valid = torch.ones(B, L, dtype=torch.bool)
    valid[2, 7:] = False
    out = make_output(B, L, K, D, valid=valid)
    other = make_output(2, 6, 1, D, seed=3, valid=torch.rand(2, 6) > 0.3)
    groups = torch.tensor([4, 4, -1])
    query = make_query(out, Similarity(kind, 0.4), groups=groups, other=other)
    sampler = _samplers()[name]()
    for seed in range(3):
        check_against_reference(sampler, query, seed)


@pytest.mark.parametrize("name", sorted(_samplers()))
def test_neg_positive_is_never_a_negative(name: str) -> None:
    out = make_output(B, L, K, D, seed=1)
    other = make_output(2, 6, 1, D, seed=2)
    query = make_query(out, Similarity("dot"), groups=torch.tensor([1, 1, 2]), other=other)
    sampler = _samplers()[name]()
    pos = out.z[:, 1:].unfold(1, K, 1).movedim(-1, 2)  # (B, T, K, D)
    for seed in range(5):
        torch.manual_seed(seed)
        neg, mask = sampler.gather_negatives(query)
        equal = (neg == pos.unsqueeze(-2)).all(-1)
        assert not (equal & mask).any()


@pytest.mark.parametrize(
    ("name", "width", "exact"),
    [
        ("inbatch", 6, False),
        ("samesequence", 6, False),
        ("samegroup", 6, False),
        ("inbatch-share3", 6, False),
        ("queue-full", 5, True),
        ("queue-all-full", 12, True),
        ("synthetic", 5, True),
        ("synthetic-window", 6, True),
        ("hard-batch", 4, True),
        ("hard-pool", 4, True),
        ("crossmodal", 5, True),
    ],
)
def test_neg_shapes_and_counts(name: str, width: int, exact: bool) -> None:
    out = make_output(B, L, K, D, seed=6)
    other = make_output(2, 6, 1, D, seed=2)
    query = make_query(out, Similarity("dot"), groups=torch.tensor([0, 0, 1]), other=other)
    sampler = _samplers()[name]()
    torch.manual_seed(0)
    res = sampler(query)
    assert res.scores.shape == (B, L - K, K, width)
    counts = res.mask.expand_as(res.scores).sum(-1)
    count = sampler.count
    if exact:
        assert (counts == count).all()
    else:  # one fewer where the positive was drawn twice
        assert (counts <= count).all() and (counts >= count - 1).all()
        assert (counts == count).float().mean() > 0.8


def test_neg_score_per_prediction_gradcheck_across_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    import cpckit.negatives.base as base

    monkeypatch.setattr(base, "CHUNK_ELEMENTS", 30)  # several chunks of a few rows
    q = torch.randn(2, 3, 2, 5, dtype=torch.float64, requires_grad=True)
    bank = torch.randn(9, 5, dtype=torch.float64, requires_grad=True)
    idx = torch.randint(0, 9, (2, 3, 2, 4))
    assert torch.autograd.gradcheck(lambda a, c: score_per_prediction(a, c, idx), (q, bank))
    ref = (q.unsqueeze(-2) * bank[idx]).sum(-1)
    assert torch.allclose(score_per_prediction(q, bank, idx), ref)
