"""A progress bar on stderr for long loops (embedding, decoding, downloads)."""

from __future__ import annotations

import math
import sys
from typing import Any

__all__ = ["Progress"]


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
