"""When the model's hand-written CPU paths apply.

The encoder, the GRU context and candidate scoring have CPU paths with their
own backward passes (channels-last conv as matrix products, backward through
time, chunked scoring). They compute in the dtype they are given; under
autocast (mixed precision) the plain modules run instead, so autocast's
casting rules stay in charge.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch
from torch import Tensor

__all__ = ["single_thread", "use_fast_path"]


def _autocast_enabled(device_type: str) -> bool:
    try:
        return bool(torch.is_autocast_enabled(device_type))
    except TypeError:  # torch < 2.4
        if device_type == "cpu":
            return bool(torch.is_autocast_cpu_enabled())
        return bool(torch.is_autocast_enabled())


def use_fast_path(x: Tensor) -> bool:
    """True for a CPU tensor outside autocast (``CPCKIT_FAST_PATH=0`` turns the paths off)."""
    if os.environ.get("CPCKIT_FAST_PATH") == "0":
        return False
    return x.device.type == "cpu" and not _autocast_enabled("cpu")


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run torch ops on one thread inside the block.

    For loops of many small ops (a recurrence over time steps, chunks of
    candidates): splitting an op of a few thousand elements across threads
    costs more in synchronisation than it saves, and when the cores are
    shared with other processes a thread waiting for a descheduled partner
    stalls the whole op.
    """
    n = torch.get_num_threads()
    if n == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)
