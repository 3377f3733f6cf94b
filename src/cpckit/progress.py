"""A progress bar on stderr for long loops (embedding, decoding, downloads); pace and ETA text."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Pace", "Progress", "format_duration"]


def format_duration(seconds: float) -> str:
    """``mm:ss``, or ``h:mm:ss`` from an hour on (as tqdm shows them); ``?`` when unknown."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class Pace:
    """Elapsed time, rate and time left of a loop over ``total`` items, from a clock.

    ``start``: the items already done when timing begins (a resumed run), so
    the rate counts only the items done since; ``total`` may be ``math.inf``
    (no end known: no time left shown). ``clock`` returns seconds.
    """

    def __init__(
        self,
        total: float,
        start: int = 0,
        *,
        unit: str = "step",
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.total = total
        self.start = start
        self.unit = unit
        self.clock = clock
        self.t0 = clock()

    def numbers(self, done: int) -> tuple[float, float, float]:
        """``(elapsed s, items per second, seconds left)`` with ``done`` items done in all.

        The rate is the mean since timing began; the time left is the items
        left at that rate (``inf`` before the first item, or with no end).
        """
        elapsed = max(self.clock() - self.t0, 0.0)
        n = done - self.start
        rate = n / elapsed if n > 0 and elapsed > 0 else 0.0
        left = self.total - done
        eta = max(left, 0) / rate if rate > 0 and math.isfinite(left) else math.inf
        return elapsed, rate, eta

    def text(self, done: int) -> str:
        """``step 30/100 2.50 steps/s elapsed 00:12 eta 00:28`` (``step 30`` with no end)."""
        elapsed, rate, eta = self.numbers(done)
        of = f"/{int(self.total)}" if math.isfinite(self.total) else ""
        return (
            f"{self.unit} {done}{of} {rate:.2f} {self.unit}s/s "
            f"elapsed {format_duration(elapsed)} eta {format_duration(eta)}"
        )


class Progress:
    """A progress bar on stderr: tqdm on a terminal, a plain line every tenth otherwise."""

    def __init__(self, total: int, desc: str, *, unit: str = "file", enabled: bool = True) -> None:
        self.total = max(0, int(total))
        self.desc = desc
        self.unit = unit
        self.done = 0
        self._bar: Any = None
        self._plain = False
        self._next = 0
        if not enabled or self.total == 0:
            return
        if sys.stderr.isatty():
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.total, desc=desc, unit=unit, file=sys.stderr)
        else:
            self._plain = True
            self._step = max(1, math.ceil(self.total / 10))
            self._next = self._step

    def update(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        elif self._plain and (self.done >= self._next or self.done >= self.total):
            print(
                f"{self.desc}: {self.done}/{self.total} {self.unit}s", file=sys.stderr, flush=True
            )
            while self._next <= self.done:
                self._next += self._step

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
