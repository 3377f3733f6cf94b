"""What the datasets of a run share: the bundle they come in, their loader and their random draws.

:class:`DataBundle` is what :func:`cpckit.data.datamodule.build_datasets`
returns (built by :mod:`cpckit.data.audio_bundle` or
:mod:`cpckit.data.image_bundle`), :func:`make_loader` batches a dataset with
:func:`cpckit.data.collate.collate`, and :class:`WorkerRNG` gives a dataset
or an augmentation its own random generator in each DataLoader worker.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.utils.data
from torch.utils.data import DataLoader, Dataset

from cpckit.data.collate import collate

__all__ = ["DataBundle", "WorkerRNG", "make_loader"]


@dataclass
class DataBundle:
    """Datasets of one run.

    Attributes:
        train: CPC training examples (fixed-size windows).
        probe_train: examples the probe is fit on (whole clips for real audio).
        probe_test: held-out examples the probe is tested on.
        val: optional validation examples for the loss.
        label_names: label index -> name.
        info: facts worth printing (counts, skipped files).
    """

    train: Dataset[Any]
    probe_train: Dataset[Any]
    probe_test: Dataset[Any]
    val: Dataset[Any] | None = None
    label_names: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


def make_loader(
    ds: Dataset[Any],
    batch_size: int,
    *,
    shuffle: bool,
    num_workers: int = 0,
    seed: int = 0,
    drop_last: bool = False,
) -> DataLoader[Any]:
    """A DataLoader batching ``ds`` with :func:`~cpckit.data.collate.collate`, shuffled by ``seed``."""
    gen = torch.Generator()
    gen.manual_seed(seed)
    return DataLoader(
        ds,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        collate_fn=collate,
        drop_last=drop_last,
        generator=gen,
        persistent_workers=num_workers > 0,
    )


class WorkerRNG:
    """The random generators of one dataset or augmentation: one per process.

    In the main process they are seeded by ``seed``; in a DataLoader worker
    by ``(seed, worker seed)``. The worker seed comes from the loader's
    generator, so workers draw differently from each other and from epoch
    to epoch, while a seeded loader repeats its draws. A generator is made
    again when the process or the worker seed changes.

    Args:
        seed: the seed of the owner (a dataset's or an augmentation's).
    """

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._owner: tuple[int, int | None] | None = None
        self._numpy: np.random.Generator | None = None
        self._torch: torch.Generator | None = None

    def _entropy(self) -> list[int]:
        """``[seed]`` or ``[seed, worker seed]``; forgets the generators of another owner."""
        info = torch.utils.data.get_worker_info()
        worker = None if info is None else int(info.seed)
        owner = (os.getpid(), worker)
        if owner != self._owner:
            self._owner, self._numpy, self._torch = owner, None, None
        return [self.seed] if worker is None else [self.seed, worker % (2**63)]

    def numpy_generator(self) -> np.random.Generator:
        """This process's numpy generator."""
        entropy = self._entropy()
        if self._numpy is None:
            self._numpy = np.random.default_rng(entropy)
        return self._numpy

    def torch_generator(self) -> torch.Generator:
        """This process's torch generator (a worker's seed mixes ``seed`` and the worker seed)."""
        entropy = self._entropy()
        if self._torch is None:
            seed = entropy[0]
            if len(entropy) > 1:
                seed = int(np.random.SeedSequence(entropy).generate_state(1)[0])
            self._torch = torch.Generator().manual_seed(seed)
        return self._torch
