"""The CPC objective: the loss with samplers and every loss option equals a naive per-prediction
loop; the scores of its query are the similarity written out."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch

from cpckit.model import CPCOutput
from cpckit.negatives.base import NegativeSampler
from cpckit.negatives.cross_modal import CrossModalSampler
from cpckit.negatives.hard import HardSampler
from cpckit.negatives.in_batch import InBatchSampler, SameSequenceSampler
from cpckit.negatives.queue import LatentQueue, QueueSampler
from cpckit.negatives.same_group import SameGroupSampler
from cpckit.negatives.synthetic import SyntheticSampler
from cpckit.objective import CPCObjective
from cpckit.similarity import Similarity
from helpers.negatives import make_output, make_query, naive_loss, similarity

B, L, K, D = 3, 9, 3, 6
TEMPERATURE = 0.5


def _queue(fill: int, size: int = 16) -> LatentQueue:
    # Unit keys: what the queue holds with cosine similarity (it stores mapped keys).
    keys = torch.randn(fill, D, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    queue = LatentQueue(size, D).double()
    queue.enqueue(torch.nn.functional.normalize(keys, dim=-1))
    return queue


SAMPLER_SETS: dict[str, Callable[[], list[NegativeSampler]]] = {
    "inbatch": lambda: [InBatchSampler(4)],
    "samesequence": lambda: [SameSequenceSampler(4)],
    "samegroup": lambda: [SameGroupSampler(4)],
    "inbatch+queue-empty": lambda: [InBatchSampler(3), QueueSampler(4, _queue(0))],
    "queue": lambda: [QueueSampler(4, _queue(16))],
    "queue+synthetic": lambda: [QueueSampler(4, _queue(16)), SyntheticSampler(4, sigma=0.7)],
    "inbatch+hard": lambda: [InBatchSampler(3), HardSampler(2)],
    "hard-queue+samesequence": lambda: [
        HardSampler(2, source="queue", queue=_queue(10)),
        SameSequenceSampler(2),
    ],
}

OPTIONS: dict[str, dict[str, object]] = {
    "dot": {"kind": "dot"},
    "cosine": {"kind": "cosine"},
    "cosine-debiased": {"kind": "cosine", "debiased": True, "tau_plus": 0.2},
    "dot-step-weights": {"kind": "dot", "step_weights": [3.0, 1.0, 0.5]},
    "cosine-padding-weights": {"kind": "cosine", "padding": True, "step_weights": [1.0, 2.0, 0.0]},
}


def _run(
    samplers: list[NegativeSampler], opts: dict[str, object], seed: int = 0
) -> tuple[float, float]:
    kind = str(opts["kind"])
    valid = None
    if opts.get("padding"):
        valid = torch.ones(B, L, dtype=torch.bool)
        valid[1, 6:] = False
    out = make_output(B, L, K, D, seed=seed, valid=valid)
    weights = opts.get("step_weights")
    obj = CPCObjective(
        {"audio": samplers},
        Similarity(kind, TEMPERATURE),
        debiased=bool(opts.get("debiased", False)),
        tau_plus=float(opts.get("tau_plus", 0.1)),  # type: ignore[arg-type]
        step_weights=weights,  # type: ignore[arg-type]
    )
    groups = torch.tensor([5, 5, 5])
    torch.manual_seed(seed)
    loss = obj({"audio": out}, groups).loss.item()
    query = obj.query(out, None, groups)
    torch.manual_seed(seed)
    negatives = [s.gather_negatives(query) for s in samplers]
    expected = naive_loss(
        out.pred,
        out.z,
        negatives,
        kind=kind,
        temperature=TEMPERATURE,
        valid=valid,
        debiased=bool(opts.get("debiased", False)),
        tau_plus=float(opts.get("tau_plus", 0.1)),  # type: ignore[arg-type]
        step_weights=weights,  # type: ignore[arg-type]
    )
    return loss, expected


@pytest.mark.parametrize("option", sorted(OPTIONS))
@pytest.mark.parametrize("samplers", sorted(SAMPLER_SETS))
def test_neg_loss_with_samplers_equals_naive_loop(samplers: str, option: str) -> None:
    loss, expected = _run(SAMPLER_SETS[samplers](), OPTIONS[option])
    assert loss == pytest.approx(expected, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("option", ["dot", "cosine-debiased"])
def test_neg_crossmodal_loss_equals_naive_loop(option: str) -> None:
    opts = OPTIONS[option]
    kind = str(opts["kind"])
    audio = make_output(B, L, K, D, seed=1)
    image = make_output(2, 7, K, D, seed=2)
    samplers: dict[str, list[NegativeSampler]] = {
        "audio": [CrossModalSampler(3)],
        "image": [CrossModalSampler(3), InBatchSampler(2)],
    }
    obj = CPCObjective(
        samplers,
        Similarity(kind, TEMPERATURE),
        debiased=bool(opts.get("debiased", False)),
        tau_plus=float(opts.get("tau_plus", 0.1)),  # type: ignore[arg-type]
    )
    torch.manual_seed(4)
    loss = obj({"audio": audio, "image": image}).loss.item()
    torch.manual_seed(4)
    expected = []
    for mine, other in (("audio", image), ("image", audio)):
        out = audio if mine == "audio" else image
        query = obj.query(out, other, None)
        negatives = [s.gather_negatives(query) for s in samplers[mine]]
        expected.append(
            naive_loss(
                out.pred,
                out.z,
                negatives,
                kind=kind,
                temperature=TEMPERATURE,
                debiased=bool(opts.get("debiased", False)),
                tau_plus=float(opts.get("tau_plus", 0.1)),  # type: ignore[arg-type]
            )
        )
    assert loss == pytest.approx(sum(expected) / 2, rel=1e-9)


def test_neg_debiased_hand_worked_case_through_queue_sampler() -> None:
    # One prediction (B=1, L=2, K=1) of (0, 1) whose positive is (0, 1); the queue
    # holds (1, 0) and (0.6, 0.8). Cosine with t = 0.5: s+ = 2, s- = 0 and 1.6.
    t, tau = 0.5, 0.1
    queue = LatentQueue(2, 2).double()
    queue.enqueue(torch.tensor([[1.0, 0.0], [0.6, 0.8]], dtype=torch.float64))
    obj = CPCObjective(
        {"audio": [QueueSampler(2, queue)]}, Similarity("cosine", t), debiased=True, tau_plus=tau
    )
    z = torch.tensor([[[5.0, 0.0], [0.0, 3.0]]], dtype=torch.float64)
    pred = torch.tensor([[[[0.0, 2.0]]]], dtype=torch.float64)
    out = CPCOutput(z=z, c=torch.zeros(1, 2, 1), pred=pred, valid=None)
    g = (math.exp(0.0) + math.exp(1.6) - 2 * tau * math.exp(2.0)) / (1 - tau)
    g = max(g, 2 * math.exp(-1 / t))
    expected = -math.log(math.exp(2.0) / (math.exp(2.0) + g))
    assert obj({"audio": out}).loss.item() == pytest.approx(expected, rel=1e-12)


def test_neg_equal_scores_give_log_n_plus_one_through_queue_and_synthetic() -> None:
    # All latents equal and the prediction orthogonal to them: every score is 0.
    z = torch.zeros(2, 8, 4, dtype=torch.float64)
    z[..., 0] = 1.0
    pred = torch.zeros(2, 6, 2, 4, dtype=torch.float64)
    pred[..., 1] = 1.0
    queue = LatentQueue(32, 4).double()
    queue.enqueue(torch.ones(32, 4, dtype=torch.float64) * torch.tensor([1.0, 0, 0, 0]))
    samplers: list[NegativeSampler] = [QueueSampler(5, queue), SyntheticSampler(4, sigma=1e-3)]
    obj = CPCObjective({"audio": samplers}, Similarity("dot"))
    torch.manual_seed(0)
    res = obj({"audio": CPCOutput(z=z, c=torch.zeros(2, 8, 1), pred=pred, valid=None)})
    # synthetic noise moves scores by about 1e-3 only
    assert res.loss.item() == pytest.approx(math.log(5 + 4 + 1), abs=1e-2)


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
