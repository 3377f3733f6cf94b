"""Measurements: dense matmul speed, FLOPs of a step, resident memory."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

import torch
from torch import Tensor

__all__ = ["count_step_flops", "current_rss_mb", "format_mb", "matmul_seconds", "peak_rss_mb"]


def _posix_resource() -> ModuleType | None:
    """The POSIX ``resource`` module, or None where there is none (Windows)."""
    try:
        import resource
    except ImportError:
        return None
    return resource


def matmul_seconds(size: int = 2048, reps: int = 5) -> list[float]:
    """Seconds of each of ``reps`` fp32 ``size x size`` matmuls (after one warm-up).

    One matmul is ``2 * size**3`` FLOPs; it runs on torch's current thread count.
    """
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=gen)
    b = torch.randn(size, size, generator=gen)
    out = torch.empty(size, size)
    torch.mm(a, b, out=out)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.mm(a, b, out=out)
        times.append(time.perf_counter() - t0)
    return times


def count_step_flops(loss_fn: Callable[[], Tensor], params: Sequence[Tensor]) -> int:
    """FLOPs of one forward and backward pass (matmuls and convolutions).

    Counted by :class:`torch.utils.flop_counter.FlopCounterMode`: matrix
    products and convolutions (their backward included), not elementwise work.
    Gradients left in ``params`` are cleared afterwards.
    """
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        loss_fn().backward()
    for p in params:
        p.grad = None
    return int(counter.get_total_flops())


def _proc_status_mb(field: str) -> float | None:
    status = Path("/proc/self/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0  # kB
    return None


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB.

    On Linux the high-water mark of this process's own address space
    (``VmHWM``), which, unlike ``ru_maxrss``, does not carry over the
    parent's size when the process was started by fork and exec. Elsewhere
    ``ru_maxrss`` of the POSIX ``resource`` module, and NaN where neither
    exists (Windows), so ``cpckit bench`` still runs there.
    """
    hwm = _proc_status_mb("VmHWM")
    if hwm is not None:
        return hwm
    resource = _posix_resource()
    if resource is None:
        return math.nan
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def format_mb(mb: float) -> str:
    """``"724 MB"``, or ``"unknown"`` for a reading this platform cannot take."""
    return "unknown" if math.isnan(mb) else f"{mb:.0f} MB"


def current_rss_mb() -> float:
    """Resident memory of this process now, in MB (``VmRSS``; peak where unknown)."""
    rss = _proc_status_mb("VmRSS")
    return rss if rss is not None else peak_rss_mb()
