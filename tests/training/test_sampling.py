"""EpochSampler: seeded order, DDP sharding that matches one process, resume skip."""

from __future__ import annotations

import pytest
import torch

from cpckit.training.sampling import EpochSampler, make_run_loader


def _batches(sampler: EpochSampler, size: int) -> list[list[int]]:
    order = list(sampler)
    return [order[i : i + size] for i in range(0, len(order), size)]


@pytest.mark.parametrize(("n", "world"), [(48, 2), (64, 4), (50, 3)])
def test_train_sampler_shards_form_the_single_process_batches(n: int, world: int) -> None:
    single = EpochSampler(n, seed=7)
    single.set_epoch(3)
    shards = []
    for rank in range(world):
        s = EpochSampler(n, seed=7, num_replicas=world, rank=rank)
        s.set_epoch(3)
        shards.append(_batches(s, 4))
    assert len({len(s) for s in shards}) == 1  # every process runs as many batches
    global_batches = _batches(single, 4 * world)
    assert len(global_batches) == len(shards[0])
    for i, batch in enumerate(global_batches[:-1]):
        assert sorted(idx for shard in shards for idx in shard[i]) == sorted(batch)
    last = {idx for shard in shards for idx in shard[-1]}
    padding = set(list(single)[: (-n) % world])  # the first indices, repeated to even out
    assert set(global_batches[-1]) <= last <= set(global_batches[-1]) | padding
    covered = sorted({idx for shard in shards for b in shard for idx in b})
    assert covered == list(range(n))


def test_train_sampler_order_is_a_function_of_seed_and_epoch() -> None:
    a, b = EpochSampler(32, seed=1), EpochSampler(32, seed=1)
    assert list(a) == list(b)
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first and sorted(a) == list(range(32))
    a.set_epoch(0)
    assert list(a) == first
    assert list(EpochSampler(32, seed=2)) != first
    assert list(EpochSampler(32, shuffle=False)) == list(range(32))


def test_train_sampler_skip_applies_to_the_next_epoch_pass_only() -> None:
    s = EpochSampler(20, seed=0)
    full = list(s)
    s.skip_next(8)
    assert list(s) == full[8:]
    assert list(s) == full


def test_train_run_loader_batches_follow_the_sampler() -> None:
    ds = [{"audio": torch.full((1, 4), float(i)), "label": torch.tensor(i)} for i in range(10)]
    loader, sampler = make_run_loader(ds, 4, seed=3, shuffle=True)  # type: ignore[arg-type]
    labels = [int(x) for batch in loader for x in batch["label"]]
    assert labels == list(sampler)
    assert len(loader) == 3


def test_train_sampler_rejects_bad_ranks() -> None:
    with pytest.raises(ValueError, match="rank"):
        EpochSampler(10, num_replicas=2, rank=2)
