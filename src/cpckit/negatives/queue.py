"""A FIFO queue of latents from past batches (MoCo, He et al. 2020) and its sampler.

:class:`LatentQueue` is the one queue module: buffers ``queue (Q, D)``,
``ptr`` and ``filled`` (so its contents are saved in checkpoints and
restored on resume) and an explicit :meth:`LatentQueue.enqueue`. Samplers
that read past latents (:class:`QueueSampler`, and
:class:`~cpckit.negatives.hard.HardSampler` with ``source="queue"``) hold a
reference to one; only one of them enqueues.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor, nn

from cpckit.negatives.base import (
    NegativeQuery,
    NegativeSampler,
    NegativeScores,
    flat_bank,
    gather_shared,
    score_all,
    score_candidates,
)

__all__ = ["LatentQueue", "QueueSampler", "gather_from_processes", "queue_bank", "valid_keys"]


def gather_from_processes(x: Tensor) -> Tensor:
    """Concatenate ``x (N_r, ...)`` of every process in rank order (torch.distributed).

    Processes may hold different ``N_r``. Without an initialised process
    group (or with one process) ``x`` is returned as is.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    world = dist.get_world_size()
    n = torch.tensor([x.shape[0]], device=x.device, dtype=torch.long)
    sizes = [torch.zeros_like(n) for _ in range(world)]
    dist.all_gather(sizes, n)
    counts = [int(s.item()) for s in sizes]
    longest = max(counts)
    if longest == 0:
        return x
    padded = x.new_zeros((longest, *x.shape[1:]))
    padded[: x.shape[0]] = x
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded.contiguous())
    return torch.cat([p[:c] for p, c in zip(parts, counts)])


def valid_keys(query: NegativeQuery) -> Tensor:
    """The query's keys ``(N, D)`` at valid (not padded) latent steps, detached."""
    bank, valid = flat_bank(query)
    bank = bank.detach()
    return bank if valid is None else bank[valid]


class LatentQueue(nn.Module):
    """FIFO of the ``size`` most recent keys.

    Slots ``[0, filled)`` hold keys; ``ptr`` is the next slot written. Keys
    enter in order, wrapping around once the queue is full, so the oldest
    key is overwritten first. Under DDP, :meth:`enqueue` first gathers the
    keys of every process, so every process holds the same queue.

    Args:
        size: ``Q``, keys kept (typically 4096 to 65536).
        dim: ``D``, key dimension.
    """

    queue: Tensor
    ptr: Tensor
    filled: Tensor

    def __init__(self, size: int, dim: int) -> None:
        super().__init__()
        if size < 1:
            raise ValueError(f"queue size = {size} must be >= 1")
        if dim < 1:
            raise ValueError(f"queue dim = {dim} must be >= 1")
        self.size = size
        self.dim = dim
        self.register_buffer("queue", torch.zeros(size, dim))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))
        self.register_buffer("filled", torch.zeros((), dtype=torch.long))

    @property
    def is_full(self) -> bool:
        return int(self.filled.item()) >= self.size

    def slot_valid(self) -> Tensor:
        """``(Q,)`` True for slots that hold a key."""
        return torch.arange(self.size, device=self.queue.device) < self.filled

    @torch.no_grad()
    def enqueue(self, keys: Tensor, *, gather: bool = True) -> None:
        """Append ``keys (N, D)`` (of all processes when ``gather``), oldest out first.

        When more than ``Q`` keys arrive at once, only the last ``Q`` are kept.
        """
        if keys.dim() != 2 or keys.shape[1] != self.dim:
            raise ValueError(
                f"enqueue expects keys of shape (N, {self.dim}), got {tuple(keys.shape)}"
            )
        keys = keys.detach()
        if gather:
            keys = gather_from_processes(keys)
        n = keys.shape[0]
        if n == 0:
            return
        skip = max(0, n - self.size)
        keys = keys[skip:].to(self.queue.dtype)
        slots = (
            self.ptr + skip + torch.arange(keys.shape[0], device=self.queue.device)
        ) % self.size
        self.queue.index_copy_(0, slots, keys.to(self.queue.device))
        self.ptr.copy_((self.ptr + n) % self.size)
        self.filled.copy_(torch.clamp(self.filled + n, max=self.size))

    def extra_repr(self) -> str:
        return f"size={self.size}, dim={self.dim}"


def queue_bank(queue: LatentQueue, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """The queue's keys ``(Q, D)`` in ``dtype`` and which slots hold one ``(Q,)``."""
    return queue.queue.to(dtype), queue.slot_valid()


class QueueSampler(NegativeSampler):
    """Negatives from a queue of keys of past batches (MoCo, He et al. 2020).

    Each position draws ``count`` keys uniformly from the filled slots,
    shared by its K predictions; with ``count >= size`` every slot is scored.
    Empty slots are masked, so an empty queue (the first step) contributes
    nothing. :meth:`update` enqueues the step's valid keys (with cosine
    similarity, the normalised ones); with a momentum key encoder
    (:class:`~cpckit.negatives.momentum.MomentumEncoder`) the objective hands
    it the key encoder's latents instead. Queue keys are never the positive.

    A queue is not used alone: its keys come from earlier encoder states
    than the positive, and a model can learn to tell the two apart instead
    of predicting. :func:`~cpckit.negatives.registry.parse_mode` therefore
    adds in-batch negatives to any configuration with a queue and no
    sampler of the current batch (docs/negatives.md).

    Args:
        count: negatives per prediction (``>= size``: the whole queue).
        queue: the queue to read (and, with ``enqueue``, to fill).
        enqueue: whether :meth:`update` adds this step's keys.
    """

    name = "queue"

    def __init__(self, count: int, queue: LatentQueue, *, enqueue: bool = True) -> None:
        super().__init__(count)
        self.use_all = count >= queue.size
        if self.use_all:
            self.count = queue.size
        self.queue = queue
        self.enqueue = enqueue

    def _indices(self, query: NegativeQuery) -> tuple[Tensor, Tensor, Tensor]:
        """Bank ``(Q, D)``, indices ``(B, T, count)`` and their mask ``(B, T, 1, count)``."""
        b, t, _, _, _ = query.shape
        bank, slot_valid = queue_bank(self.queue, query.keys.dtype)
        u = torch.rand(b, t, self.count, device=bank.device)
        idx = torch.clamp((u * self.queue.filled).long(), max=self.queue.size - 1)
        return bank, idx, slot_valid[idx].unsqueeze(2)

    def forward(self, query: NegativeQuery) -> NegativeScores:
        if self.use_all:
            bank, slot_valid = queue_bank(self.queue, query.keys.dtype)
            return NegativeScores(
                score_all(query.q, bank) * query.scale, slot_valid.view(1, 1, 1, -1)
            )
        bank, idx, mask = self._indices(query)
        return NegativeScores(score_candidates(query.q, bank, idx) * query.scale, mask)

    def gather_negatives(self, query: NegativeQuery) -> tuple[Tensor, Tensor]:
        b, t, k, _, d = query.shape
        if self.use_all:
            bank, slot_valid = queue_bank(self.queue, query.keys.dtype)
            neg = bank.view(1, 1, 1, -1, d).expand(b, t, k, -1, d).contiguous()
            return neg, slot_valid.view(1, 1, 1, -1).expand(b, t, k, -1)
        bank, idx, mask = self._indices(query)
        return gather_shared(query, bank, idx), mask.expand(b, t, k, self.count)

    @torch.no_grad()
    def update(self, query: NegativeQuery) -> None:
        if self.enqueue:
            self.queue.enqueue(valid_keys(query))

    def extra_repr(self) -> str:
        return f"count={self.count}, all={self.use_all}, enqueue={self.enqueue}"
