"""The latent queue: FIFO order, wrap-around, checkpoints, warm-up, filled by the objective
(momentum keys or own latents); under DDP the keys of every process (2 processes, gloo, CPU)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from cpckit.model import CPCOutput
from cpckit.negatives.hard import HardSampler
from cpckit.negatives.in_batch import InBatchSampler
from cpckit.negatives.momentum import MomentumEncoder
from cpckit.negatives.queue import LatentQueue, QueueSampler
from cpckit.objective import CPCObjective
from cpckit.similarity import Similarity
from helpers.negatives import make_output, make_query


def _rows(start: int, n: int, d: int = 2) -> torch.Tensor:
    return torch.arange(start, start + n, dtype=torch.float32).unsqueeze(1).repeat(1, d)


def test_neg_queue_fifo_order_and_wrap_around() -> None:
    q = LatentQueue(5, 2)
    assert int(q.filled) == 0 and int(q.ptr) == 0 and not q.is_full
    q.enqueue(_rows(0, 3))
    assert q.queue[:3, 0].tolist() == [0, 1, 2] and int(q.filled) == 3 and int(q.ptr) == 3
    assert q.slot_valid().tolist() == [True, True, True, False, False]
    q.enqueue(_rows(3, 4))  # 3, 4 fill the end; 5, 6 overwrite the oldest (0, 1)
    assert q.queue[:, 0].tolist() == [5, 6, 2, 3, 4]
    assert int(q.ptr) == 2 and int(q.filled) == 5 and q.is_full
    q.enqueue(_rows(7, 1))
    assert q.queue[:, 0].tolist() == [5, 6, 7, 3, 4] and int(q.ptr) == 3


def test_neg_queue_keeps_last_size_keys_of_a_large_batch() -> None:
    q = LatentQueue(4, 2)
    q.enqueue(_rows(0, 1))
    q.enqueue(_rows(1, 10))  # keys 1..10: only 7..10 survive, written as if one by one
    assert sorted(q.queue[:, 0].tolist()) == [7, 8, 9, 10]
    assert int(q.ptr) == 11 % 4
    # the next key overwrites the oldest survivor (7)
    q.enqueue(_rows(11, 1))
    assert sorted(q.queue[:, 0].tolist()) == [8, 9, 10, 11]


def test_neg_queue_rejects_wrong_dim() -> None:
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        LatentQueue(4, 3).enqueue(torch.zeros(2, 2))


def test_neg_queue_state_dict_round_trip_through_objective() -> None:
    def objective() -> CPCObjective:
        return CPCObjective({"audio": [QueueSampler(4, LatentQueue(16, 8))]}, Similarity("dot"))

    a = objective()
    out = make_output(2, 7, 2, 8)
    query = a.query(out, None, None)
    a.update({"audio": query})
    a.update({"audio": query})  # 28 keys through a queue of 16: wrapped
    state = a.state_dict()
    assert {"samplers.audio.0.queue.queue", "samplers.audio.0.queue.ptr"} <= set(state)
    b = objective()
    b.load_state_dict(state)
    qa, qb = a.samplers["audio"][0].queue, b.samplers["audio"][0].queue  # type: ignore[index]
    assert torch.equal(qa.queue, qb.queue)
    assert int(qb.ptr) == 28 % 16 and int(qb.filled) == 16
    torch.manual_seed(0)
    la = a({"audio": out}).loss
    torch.manual_seed(0)
    lb = b({"audio": out}).loss
    assert la.item() == pytest.approx(lb.item())


def test_neg_queue_mode_trains_from_an_empty_queue() -> None:
    from cpckit.config import NegativesConfig
    from cpckit.negatives.registry import build_samplers

    samplers = build_samplers(NegativesConfig(mode="queue", n_negatives=6, n_queue=5), dim=8)
    assert [s.name for s in samplers] == ["inbatch", "queue"]
    for s in samplers:
        s.double()
    out = make_output(2, 9, 3, 8, requires_grad=True)
    obj = CPCObjective({"audio": samplers}, Similarity("dot"))
    torch.manual_seed(0)
    res = obj({"audio": out})
    res.loss.backward()
    assert torch.isfinite(res.loss) and res.loss.item() > 0
    assert out.z.grad is not None and out.z.grad.abs().sum() > 0
    query = obj.query(out, None, None)
    torch.manual_seed(0)
    (_, batch_mask), (_, queue_mask) = (s.gather_negatives(query) for s in samplers)
    assert not queue_mask.any()  # the empty queue contributes nothing yet
    assert (batch_mask.sum(-1) <= 6).all() and (batch_mask.sum(-1) == 6).float().mean() > 0.8
    obj.update({"audio": query})
    torch.manual_seed(1)
    _, queue_mask = samplers[1].gather_negatives(query)
    assert queue_mask.all()  # 18 keys in: every draw hits a filled slot


def test_neg_queue_draws_only_filled_slots() -> None:
    d = 4
    queue = LatentQueue(10, d).double()
    sampler = QueueSampler(6, queue)
    query = make_query(make_output(1, 5, 2, d), Similarity("dot"))
    queue.enqueue(torch.full((3, d), 7.0, dtype=torch.float64))
    torch.manual_seed(0)
    neg, mask = sampler.gather_negatives(query)
    assert mask.all() and (neg == 7.0).all()
    every = QueueSampler(50, queue)  # count >= size: every slot, empty ones masked
    res = every(query)
    assert res.scores.shape[-1] == 10
    assert (res.mask.expand_as(res.scores).sum(-1) == 3).all()
    queue.enqueue(torch.full((7, d), 9.0, dtype=torch.float64))
    assert every(query).mask.all()


def test_neg_queue_update_enqueues_valid_detached_keys_only() -> None:
    valid = torch.ones(2, 6, dtype=torch.bool)
    valid[1, 4:] = False
    out = make_output(2, 6, 2, 3, valid=valid, requires_grad=True)
    sampler = QueueSampler(2, LatentQueue(20, 3).double())
    sampler.update(make_query(out, Similarity("dot")))
    q = sampler.queue
    assert int(q.filled) == 10
    assert torch.equal(q.queue[:10], out.z.detach().reshape(-1, 3)[valid.reshape(-1)])
    assert not q.queue.requires_grad


def test_neg_queue_stores_normalised_keys_with_cosine() -> None:
    obj = CPCObjective(
        {"audio": [QueueSampler(2, LatentQueue(40, 8).double())]}, Similarity("cosine")
    )
    out = make_output(2, 7, 2, 8)
    obj.update({"audio": obj.query(out, None, None)})
    q = obj.samplers["audio"][0].queue  # type: ignore[index]
    assert torch.allclose(q.queue[:14].norm(dim=-1), torch.ones(14, dtype=torch.float64))


def test_neg_hard_shares_the_queue_and_only_the_queue_sampler_fills_it() -> None:
    from cpckit.config import NegativesConfig
    from cpckit.negatives.registry import build_samplers

    cfg = NegativesConfig(mode="queue+hard", hard_source="queue", queue_size=32, n_hard=2)
    _, queue_s, hard_s = build_samplers(cfg, dim=3)
    assert isinstance(hard_s, HardSampler) and isinstance(queue_s, QueueSampler)
    assert hard_s.queue is queue_s.queue and not hard_s.enqueue
    query = make_query(make_output(2, 5, 2, 3), Similarity("dot"))
    for s in (queue_s, hard_s):
        s.update(query)
    assert int(queue_s.queue.filled) == 10
    alone = build_samplers(NegativesConfig(mode="hard", hard_source="queue"), dim=3)[1]
    assert isinstance(alone, HardSampler) and alone.enqueue


class _TinyModel(nn.Module):
    """Just enough of CPCModel for the key encoder: ``encoders``."""

    def __init__(self, d: int) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.encoders = nn.ModuleDict({"audio": nn.Linear(2, d)})


def test_neg_objective_enqueues_momentum_keys() -> None:
    d = 4
    model = _TinyModel(d)
    key = MomentumEncoder(model.encoders, momentum=0.5)
    sampler = QueueSampler(2, LatentQueue(64, d))
    obj = CPCObjective({"audio": [sampler]}, Similarity("dot"), key_encoder=key)
    x = torch.randn(2, 6, 2)
    z = model.encoders["audio"](x)
    out = CPCOutput(z=z, c=torch.zeros(2, 6, 1), pred=torch.randn(2, 4, 2, d), valid=None)
    query = obj.query(out, None, None)
    with pytest.raises(ValueError, match="batch and the model"):
        obj.update({"audio": query})
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(2.0)  # an optimizer step
    weight = model.encoders["audio"].weight
    assert isinstance(weight, torch.Tensor)
    expected_weight = 0.5 * (weight / 2) + 0.5 * weight
    obj.update({"audio": query}, batch={"audio": x}, model=model)  # type: ignore[arg-type]
    assert torch.allclose(key.encoders["audio"].weight, expected_weight)  # type: ignore[arg-type]
    keys = key.encoders["audio"](x).detach().reshape(-1, d)
    assert torch.allclose(sampler.queue.queue[:12], keys)
    assert not torch.allclose(sampler.queue.queue[:12], z.detach().reshape(-1, d))


def test_neg_objective_without_momentum_enqueues_own_latents() -> None:
    sampler = QueueSampler(2, LatentQueue(64, 4).double())
    obj = CPCObjective({"audio": [InBatchSampler(2), sampler]}, Similarity("dot"))
    out = make_output(2, 6, 2, 4, requires_grad=True)
    obj.update({"audio": obj.query(out, None, None)})
    assert torch.equal(sampler.queue.queue[:12], out.z.detach().reshape(-1, 4))


WORLD = 2


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        torch.set_num_threads(1)
        queue = LatentQueue(8, 2)
        # rank r sends r + 2 keys (different counts per process) valued 10 r + i
        keys = (10 * rank + torch.arange(rank + 2, dtype=torch.float32)).unsqueeze(1).repeat(1, 2)
        queue.enqueue(keys)
        queue.enqueue(keys + 100)
        torch.save(queue.state_dict(), Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_neg_ddp_queue_gathers_keys_of_all_processes(tmp_path: Path) -> None:
    mp.start_processes(
        _worker,
        args=(str(tmp_path / "init"), str(tmp_path)),
        nprocs=WORLD,
        join=True,
        start_method="fork",
    )
    states = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    # step 1 fills slots 0-4 with rank 0's [0, 1] then rank 1's [10, 11, 12];
    # step 2 writes the same + 100 to slots 5, 6, 7, 0, 1 (wrapping around)
    expected = [111.0, 112.0, 10.0, 11.0, 12.0, 100.0, 101.0, 110.0]
    for state in states:
        assert state["queue"][:, 0].tolist() == expected
        assert int(state["filled"]) == 8 and int(state["ptr"]) == 10 % 8
    assert torch.equal(states[0]["queue"], states[1]["queue"])
