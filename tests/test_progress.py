"""The progress bar: plain lines every tenth when stderr is not a terminal, nothing when off."""

from __future__ import annotations

import pytest

from cpckit.progress import Progress


def test_progress_prints_a_plain_line_every_tenth(capsys: pytest.CaptureFixture[str]):
    bar = Progress(20, "decoding", unit="clip")
    for _ in range(20):
        bar.update()
    bar.close()
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"decoding: {n}/20 clips" for n in range(2, 21, 2)]


def test_progress_disabled_or_empty_prints_nothing(capsys: pytest.CaptureFixture[str]):
    for bar in (Progress(5, "x", enabled=False), Progress(0, "y")):
        bar.update(5)
        bar.close()
    assert capsys.readouterr().err == ""
