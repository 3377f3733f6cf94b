"""``torch.compile`` against cpckit's CPU fast path on the canonical training step.

Three bare training steps (forward, loss, backward, Adam) of
``configs/cpc_paper_audio.yaml`` are timed alternately in one process after
a warm-up (which includes compilation):

- ``fast path``: cpckit's default on CPU;
- ``plain modules``: ``CPCKIT_FAST_PATH=0`` (``nn.Conv1d``, ``nn.GRU``,
  gather-then-``bmm`` scoring);
- ``plain modules, torch.compile``: the same model wrapped in
  ``torch.compile`` (inductor, default mode); the loss stays eager.

    python benchmarks/step_compile.py --batch 8 --rounds 10
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default=str(ROOT / "configs" / "cpc_paper_audio.yaml"))
    p.add_argument("--batch", type=int, default=8, help="batch size [8]")
    p.add_argument("--rounds", type=int, default=10, help="timed rounds [10]")
    p.add_argument("--warmup", type=int, default=3, help="untimed rounds first [3]")
    p.add_argument("--threads", type=int, default=2, help="torch threads [2]")
    args = p.parse_args()

    from cpckit.perf.process import tune_process

    tune_process()
    import torch

    from cpckit.config import load_config
    from cpckit.perf.step import TrainStep, synthetic_batch

    torch.set_num_threads(args.threads)
    cfg = load_config(args.config, [f"train.batch_size={args.batch}"])
    variants: dict[str, tuple[Any, bool]] = {}
    for name, plain, compiled in [
        ("fast path", False, False),
        ("plain modules", True, False),
        ("plain modules, torch.compile", True, True),
    ]:
        torch.manual_seed(0)
        step = TrainStep(cfg)
        if compiled:
            step.module.model = torch.compile(step.module.model)  # type: ignore[assignment]
        variants[name] = (step, plain)
    batch = synthetic_batch(cfg, args.batch, torch.Generator().manual_seed(0))
    times: dict[str, list[float]] = {name: [] for name in variants}
    warm: dict[str, float] = {}
    for r in range(args.warmup + args.rounds):
        for name, (step, plain) in variants.items():
            if plain:
                os.environ["CPCKIT_FAST_PATH"] = "0"
            t0 = time.perf_counter()
            step(batch)
            dt = time.perf_counter() - t0
            os.environ.pop("CPCKIT_FAST_PATH", None)
            if r < args.warmup:
                warm[name] = warm.get(name, 0.0) + dt
            else:
                times[name].append(dt)
    base = statistics.median(times["fast path"])
    print(f"batch {args.batch}, {args.threads} threads, {args.rounds} alternating rounds")
    print("| variant | warm-up s (incl. compilation) | median s/step | min s/step | vs fast path |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"| {name} | {warm[name]:.1f} | {med:.3f} | {min(ts):.3f} | {med / base:.2f}x |")


if __name__ == "__main__":
    main()
