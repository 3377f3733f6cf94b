"""``cpckit bench`` through the CLI on tiny configs: the report's keys and sane values."""

from __future__ import annotations

import json
import math

import pytest

from cpckit import cli
from cpckit.cli import main
from helpers.configs import TINY_CONV

KEYS = (
    "seconds_per_step",
    "median_seconds_per_step",
    "min_seconds_per_step",
    "flops_per_step",
    "achieved_flops_per_second",
    "matmul_flops_per_second",
    "flop_ratio",
    "peak_rss_mb",
)


@pytest.fixture
def bench_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make sure ``bench`` is among the CLI's subcommands (see the test below)."""
    if "bench" not in cli.SUBCOMMAND_MODULES:
        monkeypatch.setattr(cli, "SUBCOMMAND_MODULES", [*cli.SUBCOMMAND_MODULES, "bench"])


def _run_json(capsys: pytest.CaptureFixture[str], args: list[str]) -> dict[str, object]:
    assert main(["bench", *args, "--json"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert len(lines) == 1
    out = json.loads(lines[0])
    assert isinstance(out, dict)
    return out


def _positive_finite(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def test_perf_bench_is_a_registered_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    assert "bench" in cli.SUBCOMMAND_MODULES, "add 'bench' to SUBCOMMAND_MODULES in cpckit/cli.py"
    main([])
    assert "bench" in capsys.readouterr().out


@pytest.mark.usefixtures("bench_registered")
def test_perf_bench_audio_json_has_every_key_with_sane_values(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = _run_json(
        capsys,
        ["--steps", "2", "--warmup", "1", "--threads", "1", "--batch-size", "3", *TINY_CONV],
    )
    for key in (*KEYS, "audio_seconds_per_second"):
        assert _positive_finite(out[key]), (key, out.get(key))
    assert out["batch"] == 3 and out["threads"] == 1 and out["steps"] == 2
    assert out["modality"] == "audio"
    assert out["min_seconds_per_step"] <= out["seconds_per_step"]  # type: ignore[operator]
    assert out["flop_ratio"] == pytest.approx(
        out["achieved_flops_per_second"] / out["matmul_flops_per_second"]  # type: ignore[operator]
    )
    assert "images_per_second" not in out


@pytest.mark.usefixtures("bench_registered")
def test_perf_bench_image_reports_images_per_second(capsys: pytest.CaptureFixture[str]) -> None:
    out = _run_json(
        capsys,
        [
            "--modality", "image", "--steps", "1", "--warmup", "1", "--batch-size", "2",
            "model.z_dim=8", "model.c_dim=8", "model.prediction_steps=2",
            "image_encoder.width=8", "image_encoder.depth=1", "data.image_size=16",
        ],
    )  # fmt: skip
    assert out["modality"] == "image"
    for key in (*KEYS, "images_per_second"):
        assert _positive_finite(out[key]), (key, out.get(key))
    assert "audio_seconds_per_second" not in out


@pytest.mark.usefixtures("bench_registered")
def test_perf_bench_times_the_lightning_path_too(capsys: pytest.CaptureFixture[str]) -> None:
    out = _run_json(
        capsys,
        [
            "--steps",
            "2",
            "--warmup",
            "1",
            "--lightning-steps",
            "2",
            "--batch-size",
            "2",
            *TINY_CONV,
        ],
    )
    assert _positive_finite(out["lightning_seconds_per_step"])
    assert _positive_finite(out["lightning_bare_seconds_per_step"])
    lit, bare = out["lightning_seconds_per_step"], out["lightning_bare_seconds_per_step"]
    assert out["lightning_overhead"] == pytest.approx(lit / bare - 1.0)  # type: ignore[operator]


@pytest.mark.usefixtures("bench_registered")
def test_perf_bench_text_report_and_bad_steps(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--steps", "1", "--warmup", "0", *TINY_CONV]) == 0
    text = capsys.readouterr().out
    for label in ("seconds per step", "FLOP ratio", "peak RSS", "audio seconds / second"):
        assert label in text
    for flag, value, low in (("--steps", "0", 1), ("--warmup", "-5", 0), ("--threads", "-2", 0)):
        with pytest.raises(SystemExit) as stop:
            main(["bench", flag, value, *TINY_CONV])
        assert stop.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert (
            err
            == f"cpckit bench: error: argument {flag}: expected an integer >= {low}, got {value}"
        )


@pytest.mark.usefixtures("bench_registered")
def test_perf_bench_runs_a_momentum_key_encoder_config(capsys: pytest.CaptureFixture[str]) -> None:
    """Queue with a momentum key encoder: the objective needs the model (both paths)."""
    momentum = ["negatives.queue_size=16", "negatives.n_queue=6", "negatives.momentum=0.99"]
    out = _run_json(
        capsys,
        [
            "--steps", "2", "--warmup", "1", "--lightning-steps", "1", "--batch-size", "2",
            "--neg-mode", "queue", *TINY_CONV, *momentum,
        ],
    )  # fmt: skip
    assert _positive_finite(out["seconds_per_step"])
    assert _positive_finite(out["lightning_seconds_per_step"])
