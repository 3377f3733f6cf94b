"""The progress bar: plain lines every tenth when stderr is not a terminal, nothing when off;
the pace (elapsed, rate, time left) of a loop and how durations read."""

from __future__ import annotations

import math

import pytest

from cpckit.progress import Pace, Progress, format_duration


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


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "00:00"),
        (59.4, "00:59"),
        (59.6, "01:00"),
        (754, "12:34"),
        (3599.4, "59:59"),
        (3599.6, "1:00:00"),
        (3725, "1:02:05"),
        (90061, "25:01:01"),
        (math.inf, "?"),
        (math.nan, "?"),
        (-1, "?"),
    ],
)
def test_durations_read_as_a_terminal_bar_shows_them(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_pace_is_the_mean_rate_since_it_started_and_the_rest_at_that_rate() -> None:
    clock = FakeClock()
    pace = Pace(100, start=20, clock=clock)  # resumed at item 20 of 100
    assert pace.numbers(20) == (0.0, 0.0, math.inf)  # nothing done yet: no rate, no end in sight
    assert pace.text(20) == "step 20/100 0.00 steps/s elapsed 00:00 eta ?"
    clock.now += 8.0
    elapsed, rate, eta = pace.numbers(30)  # 10 items in 8 s; 70 left
    assert (elapsed, rate, eta) == (8.0, 10 / 8, 70 / (10 / 8))
    assert pace.text(30) == "step 30/100 1.25 steps/s elapsed 00:08 eta 00:56"
    clock.now += 92.0
    assert pace.numbers(100) == (100.0, 0.8, 0.0)  # at the end: nothing left
    assert pace.numbers(120)[2] == 0.0  # past a wrong total: never a negative time left


def test_pace_without_an_end_shows_no_time_left() -> None:
    clock = FakeClock()
    pace = Pace(math.inf, unit="clip", clock=clock)
    clock.now += 4.0
    assert pace.text(10) == "clip 10 2.50 clips/s elapsed 00:04 eta ?"
