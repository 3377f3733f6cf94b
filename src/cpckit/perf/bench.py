"""``cpckit bench``: time the training step, count its FLOPs, compare with the machine."""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from cpckit.config import Config
from cpckit.perf.measure import (
    count_step_flops,
    current_rss_mb,
    format_mb,
    matmul_seconds,
    peak_rss_mb,
)
from cpckit.perf.step import TrainStep, batch_items, synthetic_batch
from cpckit.training.process import process_settings, set_threads

__all__ = ["BenchResult", "format_result", "run_bench"]

MATMUL_SIZE = 2048


@dataclass
class BenchResult:
    """One benchmark run; every rate is measured in the same process and run.

    Attributes:
        seconds_per_step: median seconds of one training step (forward,
            loss, backward, optimizer step).
        min_seconds_per_step: fastest step.
        flops_per_step: matmul and convolution FLOPs of one forward and
            backward pass (``torch.utils.flop_counter``).
        achieved_flops_per_second: ``flops_per_step / seconds_per_step``.
        matmul_flops_per_second: median rate of a dense fp32
            ``2048 x 2048`` matmul on the same threads, measured before and
            after the steps.
        flop_ratio: achieved over matmul FLOP/s.
        peak_rss_mb: peak resident memory of the whole process (interpreter,
            torch, model, warm-up and timed steps), before any Lightning run.
        audio_seconds_per_second / images_per_second: throughput in input units.
        lightning_seconds_per_step: median step through the Lightning Trainer
            (as ``cpckit train`` runs it), when measured.
        lightning_bare_seconds_per_step: median of the bare steps run
            alternately with the Lightning steps (one after each).
        lightning_overhead: ``lightning / interleaved bare - 1``, when measured.
        settings: process settings in force (OpenMP wait policy, malloc tuning),
            as :func:`cpckit.training.process.tune_process` left them.
    """

    config: str | None
    modality: str
    batch: int
    threads: int
    steps: int
    warmup: int
    seconds_per_step: float
    median_seconds_per_step: float
    min_seconds_per_step: float
    step_seconds: list[float]
    flops_per_step: int
    achieved_flops_per_second: float
    matmul_flops_per_second: float
    flop_ratio: float
    peak_rss_mb: float
    rss_before_model_mb: float
    first_step_seconds: float
    audio_seconds_per_second: float | None = None
    images_per_second: float | None = None
    lightning_seconds_per_step: float | None = None
    lightning_bare_seconds_per_step: float | None = None
    lightning_overhead: float | None = None
    torch_version: str = field(default_factory=lambda: str(torch.__version__))
    settings: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def run_bench(
    cfg: Config,
    *,
    steps: int = 10,
    warmup: int = 2,
    threads: int = 0,
    config_path: str | None = None,
    lightning_steps: int = 0,
    seed: int = 0,
) -> BenchResult:
    """Time ``steps`` training steps of ``cfg`` on random inputs after ``warmup`` steps.

    Args:
        threads: torch intra-op threads (0: keep the current setting).
        lightning_steps: also time this many steps through the Lightning
            Trainer (0: skip).
    """
    if steps < 1 or warmup < 0:
        raise ValueError(f"steps = {steps} must be >= 1 and warmup = {warmup} >= 0")
    set_threads(threads)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    rss_before = current_rss_mb()
    step = TrainStep(cfg)
    batch_size = cfg.train.batch_size
    batches = [synthetic_batch(cfg, batch_size, gen) for _ in range(2)]

    matmul_times = matmul_seconds(MATMUL_SIZE)
    t0 = time.perf_counter()
    step(batches[0])
    first = time.perf_counter() - t0
    for i in range(1, warmup):
        step(batches[i % 2])
    times = []
    for i in range(steps):
        t0 = time.perf_counter()
        step(batches[i % 2])
        times.append(time.perf_counter() - t0)
    matmul_times += matmul_seconds(MATMUL_SIZE)
    peak = peak_rss_mb()

    flops = count_step_flops(lambda: step.loss(batches[0]), step.params)
    median = statistics.median(times)
    matmul_rate = 2 * MATMUL_SIZE**3 / statistics.median(matmul_times)
    achieved = flops / median
    items = batch_items(cfg, batches[0])
    result = BenchResult(
        config=config_path,
        modality=cfg.data.modality,
        batch=batch_size,
        threads=torch.get_num_threads(),
        steps=steps,
        warmup=warmup,
        seconds_per_step=median,
        median_seconds_per_step=median,
        min_seconds_per_step=min(times),
        step_seconds=[round(t, 5) for t in times],
        flops_per_step=flops,
        achieved_flops_per_second=achieved,
        matmul_flops_per_second=matmul_rate,
        flop_ratio=achieved / matmul_rate,
        peak_rss_mb=peak,
        rss_before_model_mb=rss_before,
        first_step_seconds=first,
        audio_seconds_per_second=(
            items["audio_seconds"] / median if "audio_seconds" in items else None
        ),
        images_per_second=items["images"] / median if "images" in items else None,
        settings=process_settings(),
    )
    if lightning_steps > 0:
        from cpckit.perf.lightning_path import lightning_step_seconds

        lit_times, bare_times = lightning_step_seconds(
            cfg, batches, lightning_steps, max(warmup, 1), bare=step
        )
        lit, bare = statistics.median(lit_times), statistics.median(bare_times)
        result.lightning_seconds_per_step = lit
        result.lightning_bare_seconds_per_step = bare
        result.lightning_overhead = lit / bare - 1.0
    return result


def format_result(r: BenchResult) -> str:
    """Aligned ``name: value`` lines for a terminal."""
    lines = [
        f"config:                  {r.config or '(defaults)'}  [{r.modality}]",
        f"batch / threads:         {r.batch} / {r.threads}",
        f"steps (warm-up):         {r.steps} ({r.warmup}); first step {r.first_step_seconds:.3f} s",
        f"seconds per step:        median {r.median_seconds_per_step:.4f}  "
        f"min {r.min_seconds_per_step:.4f}",
    ]
    if r.audio_seconds_per_second is not None:
        lines.append(f"audio seconds / second:  {r.audio_seconds_per_second:.1f}")
    if r.images_per_second is not None:
        lines.append(f"images / second:         {r.images_per_second:.1f}")
    lines += [
        f"FLOPs per step:          {r.flops_per_step / 1e9:.2f} G (matmul + conv, fwd + bwd)",
        f"achieved FLOP/s:         {r.achieved_flops_per_second / 1e9:.1f} G",
        f"dense matmul FLOP/s:     {r.matmul_flops_per_second / 1e9:.1f} G "
        f"({MATMUL_SIZE}x{MATMUL_SIZE} fp32, same threads)",
        f"FLOP ratio:              {100 * r.flop_ratio:.1f} %",
        f"peak RSS:                {format_mb(r.peak_rss_mb)} (process peak; "
        f"{format_mb(r.rss_before_model_mb)} before the model)",
    ]
    lines.append("settings:                " + ", ".join(f"{k} {v}" for k, v in r.settings.items()))
    if r.lightning_seconds_per_step is not None and r.lightning_overhead is not None:
        lines.append(
            f"Lightning step:          {r.lightning_seconds_per_step:.4f} s "
            f"({100 * r.lightning_overhead:+.1f} % vs {r.lightning_bare_seconds_per_step:.4f} s "
            "of bare steps run alternately)"
        )
    return "\n".join(lines)
