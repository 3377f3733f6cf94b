"""Variants of a step timed alternately in one process (shared by step_ab.py and step_compile.py).

Separate processes on a shared or throttled machine see different machine
states; here every round runs one step of each variant in turn, so a slow
moment costs all of them alike, and the medians compare the variants rather
than the moments.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def time_alternately(
    variants: dict[str, Callable[[], Any]], rounds: int, warmup: int
) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Seconds of each timed round per variant, and each variant's total warm-up seconds."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    warm: dict[str, float] = dict.fromkeys(variants, 0.0)
    for r in range(warmup + rounds):
        for name, step in variants.items():
            t0 = time.perf_counter()
            step()
            dt = time.perf_counter() - t0
            if r < warmup:
                warm[name] += dt
            else:
                times[name].append(dt)
    return times, warm


def print_table(title: str, times: dict[str, list[float]], warm: dict[str, float]) -> None:
    """A markdown table: warm-up, median and min seconds, and each median against the first."""
    base_name = next(iter(times))
    base = statistics.median(times[base_name])
    print(title)
    print(
        f"| variant | warm-up s | median s/step | min s/step | vs {base_name} |\n"
        "| --- | ---: | ---: | ---: | ---: |"
    )
    for name, ts in times.items():
        med = statistics.median(ts)
        print(
            f"| {name} | {warm[name]:.1f} | {med:.3f} | {min(ts):.3f} "
            f"| {med / base:.2f}x ({100 * (med / base - 1):+.1f} %) |"
        )
