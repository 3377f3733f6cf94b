"""Process settings for training on CPU: glibc malloc thresholds, OpenMP waiting, threads.

``cpckit train`` and ``cpckit bench`` apply :func:`tune_process` first
thing, before torch is imported (OpenMP reads its settings when torch's
library loads), and :func:`set_threads` once the config is read.

**malloc.** A training step allocates and frees the same large activations
every time. By default glibc serves blocks above its mmap threshold (which
adapts up to 32 MB) with fresh ``mmap`` pages and unmaps them on free, so
every step page-faults its largest tensors in again and the kernel zeroes
each page; and it trims free memory at the top of the heap back to the
system as soon as 128 kB lie there. Raising both thresholds keeps freed
memory in the process for the next step.

**OpenMP.** After each parallel region, OpenMP's worker threads spin for a
while waiting for the next one. On a machine whose cores are shared with
other processes, a spinning worker takes a core from the thread that has
work, and a worker that was descheduled stalls every op until it runs
again. ``OMP_WAIT_POLICY=PASSIVE`` lets idle workers sleep at once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = [
    "MMAP_THRESHOLD",
    "TRIM_THRESHOLD",
    "process_settings",
    "set_threads",
    "tune_allocator",
    "tune_process",
]

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 1 << 30
"""Only blocks from 1 GB up come from mmap (and go back on free)."""

TRIM_THRESHOLD = 1 << 30
"""Free memory at the heap's top is returned once it exceeds 1 GB."""

_allocator_tuned: bool | None = None


def tune_process() -> dict[str, bool]:
    """Apply the settings that help; returns what was applied.

    ``CPCKIT_PROCESS_TUNING=0`` turns all of it off. An ``OMP_WAIT_POLICY`` or
    glibc ``MALLOC_*_THRESHOLD_`` already in the environment wins.
    """
    if os.environ.get("CPCKIT_PROCESS_TUNING") == "0":
        return {"malloc": False, "omp_passive": False}
    passive = False
    if "OMP_WAIT_POLICY" not in os.environ and "torch" not in sys.modules:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        passive = True
    return {"malloc": tune_allocator(), "omp_passive": passive}


def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds for this process; True when applied.

    A no-op (False) off glibc, or when glibc's ``MALLOC_MMAP_THRESHOLD_`` /
    ``MALLOC_TRIM_THRESHOLD_`` are set. Affects allocations made afterwards.
    """
    global _allocator_tuned
    if _allocator_tuned is not None:
        return _allocator_tuned
    _allocator_tuned = False
    if not sys.platform.startswith("linux"):
        return False
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    _allocator_tuned = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
    return _allocator_tuned


def process_settings() -> dict[str, str]:
    """The settings in force, for a report: OpenMP wait policy, malloc thresholds."""
    return {
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(OpenMP default)"),
        "malloc_thresholds": "raised" if _allocator_tuned else "glibc default",
    }


def set_threads(threads: int, world: int = 1) -> None:
    """Torch intra-op threads (``train.threads``; 0 keeps torch's default).

    With ``world > 1`` processes, ``OMP_NUM_THREADS`` is set as well: the
    processes that Lightning starts read it.
    """
    if threads <= 0:
        return
    import torch

    torch.set_num_threads(threads)
    if world > 1:
        os.environ["OMP_NUM_THREADS"] = str(threads)
