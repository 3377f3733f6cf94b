"""Memory readings of cpckit bench on Linux, on other POSIX systems and without ``resource``."""

from __future__ import annotations

import math
import sys
from types import SimpleNamespace

import pytest

from cpckit.perf import measure


def test_peak_rss_reads_proc_then_resource_then_gives_up(monkeypatch: pytest.MonkeyPatch) -> None:
    assert measure.peak_rss_mb() > 10 and measure.current_rss_mb() > 10
    monkeypatch.setattr(measure, "_proc_status_mb", lambda field: None)  # no /proc: macOS, BSD
    kb = 2048 * 1024 if sys.platform == "darwin" else 2048  # ru_maxrss is bytes on macOS
    fake = SimpleNamespace(RUSAGE_SELF=0, getrusage=lambda who: SimpleNamespace(ru_maxrss=kb))
    monkeypatch.setattr(measure, "_posix_resource", lambda: fake)
    assert measure.peak_rss_mb() == 2.0 and measure.current_rss_mb() == 2.0
    monkeypatch.setattr(measure, "_posix_resource", lambda: None)  # Windows
    assert math.isnan(measure.peak_rss_mb()) and math.isnan(measure.current_rss_mb())


def test_format_mb_says_unknown_for_a_missing_reading() -> None:
    assert measure.format_mb(723.6) == "724 MB"
    assert measure.format_mb(math.nan) == "unknown"


def test_posix_resource_is_the_module_or_none(monkeypatch: pytest.MonkeyPatch) -> None:
    found = measure._posix_resource()
    assert found is None or hasattr(found, "getrusage")
    monkeypatch.setitem(sys.modules, "resource", None)  # import resource raises ImportError
    assert measure._posix_resource() is None
