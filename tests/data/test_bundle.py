"""WorkerRNG: one generator per process, seeded by (seed, worker seed) in a DataLoader worker."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.utils.data

from cpckit.data.bundle import WorkerRNG


def _draws(rng: WorkerRNG) -> tuple[list[int], list[float]]:
    return rng.numpy_generator().integers(0, 1000, 4).tolist(), torch.rand(
        4, generator=rng.torch_generator()
    ).tolist()


def test_main_process_generators_follow_the_seed():
    a, b = WorkerRNG(7), WorkerRNG(7)
    assert _draws(a) == _draws(b) and _draws(a) != _draws(WorkerRNG(7))  # a continues
    assert WorkerRNG(7).numpy_generator().integers(0, 1000, 4).tolist() == (
        np.random.default_rng([7]).integers(0, 1000, 4).tolist()
    )
    expected = torch.rand(4, generator=torch.Generator().manual_seed(7))
    assert torch.equal(torch.rand(4, generator=WorkerRNG(7).torch_generator()), expected)


def test_each_worker_seed_gets_its_own_reproducible_generators(monkeypatch: pytest.MonkeyPatch):
    draws = {}
    for worker_seed in (100, 101, 100):
        info = SimpleNamespace(seed=worker_seed, id=0)
        monkeypatch.setattr(torch.utils.data, "get_worker_info", lambda info=info: info)
        draws.setdefault(worker_seed, []).append(_draws(WorkerRNG(7)))
    assert draws[100][0] == draws[100][1] and draws[100][0] != draws[101][0]
    mixed = int(np.random.SeedSequence([7, 100]).generate_state(1)[0])
    assert (
        draws[100][0][1] == torch.rand(4, generator=torch.Generator().manual_seed(mixed)).tolist()
    )
