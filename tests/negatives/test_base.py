"""Each sampler: shapes, counts, the positive never a negative, fast scores = naive ones."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F

from cpckit.negatives.base import NegativeSampler, positive_index, score_per_prediction
from cpckit.negatives.cross_modal import CrossModalSampler
from cpckit.negatives.hard import HardSampler
from cpckit.negatives.in_batch import InBatchSampler, SameSequenceSampler
from cpckit.negatives.queue import LatentQueue, QueueSampler
from cpckit.negatives.same_group import SameGroupSampler, group_partners
from cpckit.negatives.synthetic import SyntheticSampler
from cpckit.similarity import Similarity
from helpers.negatives import check_against_reference, make_output, make_query, similarity

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


def test_neg_score_per_prediction_gradcheck_across_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    import cpckit.negatives.base as base

    monkeypatch.setattr(base, "CHUNK_ELEMENTS", 30)  # several chunks of a few rows
    q = torch.randn(2, 3, 2, 5, dtype=torch.float64, requires_grad=True)
    bank = torch.randn(9, 5, dtype=torch.float64, requires_grad=True)
    idx = torch.randint(0, 9, (2, 3, 2, 4))
    assert torch.autograd.gradcheck(lambda a, c: score_per_prediction(a, c, idx), (q, bank))
    ref = (q.unsqueeze(-2) * bank[idx]).sum(-1)
    assert torch.allclose(score_per_prediction(q, bank, idx), ref)


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


@pytest.mark.parametrize("kind", ["dot", "cosine"])
def test_neg_objective_query_scores_equal_a_naive_similarity(kind: str) -> None:
    """q . key * scale of the objective's query is the similarity written out for one pair."""

    out = make_output(2, 6, 2, 5, seed=7)
    other = make_output(2, 6, 2, 5, seed=8)
    query = make_query(out, Similarity(kind, 0.3), other=other)
    for b, t, k, b2, t2 in [(0, 0, 0, 1, 5), (1, 3, 1, 0, 2), (1, 1, 0, 1, 1)]:
        got = float((query.q[b, t, k] * query.keys[b2, t2]).sum() * query.scale)
        want = similarity(kind, 0.3, out.pred[b, t, k], out.z[b2, t2])
        assert got == pytest.approx(want, rel=1e-9)
        assert query.other_keys is not None
        got_other = float((query.q[b, t, k] * query.other_keys[b2, t2]).sum() * query.scale)
        assert got_other == pytest.approx(
            similarity(kind, 0.3, out.pred[b, t, k], other.z[b2, t2]), rel=1e-9
        )
    assert (query.raw_keys is None) == (kind == "dot")
