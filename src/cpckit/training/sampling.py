"""The order in which a run visits its examples: seeded, sharded over processes, resumable."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from torch.utils.data import DataLoader, Dataset, Sampler

__all__ = ["EpochSampler", "make_run_loader"]


class EpochSampler(Sampler[int]):
    """Indices of one process for one epoch, a pure function of ``(seed, epoch, rank)``.

    Epoch ``e`` visits a permutation drawn from ``(seed, e)`` (``0..n-1`` in
    order without ``shuffle``), padded by repeating its first indices to a
    multiple of ``num_replicas``; process ``rank`` takes every
    ``num_replicas``-th index starting at ``rank``, as
    ``torch.utils.data.DistributedSampler`` does. So the union of the
    processes' ``i``-th batches of size ``b`` is the ``i``-th batch of size
    ``b * num_replicas`` of a single process with the same seed.

    :meth:`skip_next` drops the first indices of the next iteration: a run
    resumed in the middle of an epoch continues where it stopped instead of
    seeing the epoch's first batches again.

    Args:
        n: dataset size.
        seed: the run's seed.
        shuffle: draw a new permutation every epoch.
        num_replicas: processes sharing the data (set by the Trainer's world size).
        rank: this process's global rank.
    """

    def __init__(
        self,
        n: int,
        *,
        seed: int = 0,
        shuffle: bool = True,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        if n < 1:
            raise ValueError(f"n = {n} must be >= 1")
        self.n = n
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = 0
        self._skip = 0
        self.num_replicas = 1
        self.rank = 0
        self.set_replicas(num_replicas, rank)

    def set_replicas(self, num_replicas: int, rank: int) -> None:
        """Shard over ``num_replicas`` processes; this one is ``rank``."""
        if num_replicas < 1 or not 0 <= rank < num_replicas:
            raise ValueError(f"need 0 <= rank < num_replicas, got rank {rank} of {num_replicas}")
        self.num_replicas = num_replicas
        self.rank = rank

    def set_epoch(self, epoch: int) -> None:
        """Called by the Trainer before each epoch."""
        self.epoch = epoch

    def skip_next(self, count: int) -> None:
        """Leave out the first ``count`` indices of the next iteration only."""
        if count < 0:
            raise ValueError(f"count = {count} must be >= 0")
        self._skip = count

    def order(self) -> np.ndarray:
        """This process's indices for the current epoch, before any skip."""
        if self.shuffle:
            perm = np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
        else:
            perm = np.arange(self.n)
        total = len(self) * self.num_replicas
        if total > self.n:
            perm = np.concatenate([perm, np.resize(perm, total - self.n)])
        return perm[self.rank : total : self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        indices = self.order()[self._skip :]
        self._skip = 0
        return iter(indices.tolist())

    def __len__(self) -> int:
        return -(-self.n // self.num_replicas)


def make_run_loader(
    ds: Dataset[Any],
    batch_size: int,
    *,
    seed: int,
    shuffle: bool,
    num_workers: int = 0,
) -> tuple[DataLoader[Any], EpochSampler]:
    """A DataLoader over ``ds`` in :class:`EpochSampler` order, and its sampler.

    The sampler shards the data itself (the Trainer runs with
    ``use_distributed_sampler=False``), so the same loader serves one
    process or many.
    """
    from cpckit.data.collate import collate

    sampler = EpochSampler(len(ds), seed=seed, shuffle=shuffle)  # type: ignore[arg-type]
    loader = DataLoader(
        ds,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        collate_fn=collate,
        persistent_workers=num_workers > 0,
    )
    return loader, sampler
