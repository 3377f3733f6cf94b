"""Variants of the canonical training step timed alternately in one process.

Separate processes on a shared or throttled machine see different machine
states; here every round runs one step of each variant in turn, so a slow
moment costs all of them alike, and the medians compare the variants
rather than the moments. The variants (batch ``--batch``, 2 threads):

- ``two-step first layer``: the waveform layer as a patch matrix product
  followed by the fused layer norm / ReLU / pad (``_PatchConv`` then
  ``_NormReluPad``), the form every other layer uses;
- ``first layer from patch statistics``: the default
  (``_PatchNormReluPad``, docs/performance.md);
- the default with ``negatives.share_positions`` = each of ``--share``.

    python benchmarks/step_ab.py --batch 8 --rounds 20 --share 8 16
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default=str(ROOT / "configs" / "cpc_paper_audio.yaml"))
    p.add_argument("--batch", type=int, default=8, help="batch size [8]")
    p.add_argument("--rounds", type=int, default=20, help="timed rounds [20]")
    p.add_argument("--warmup", type=int, default=2, help="untimed rounds first [2]")
    p.add_argument("--threads", type=int, default=2, help="torch threads [2]")
    p.add_argument("--share", type=int, nargs="*", default=[8, 16], help="share_positions [8 16]")
    args = p.parse_args()

    from cpckit.perf.process import tune_process

    tune_process()
    import torch

    from cpckit.config import load_config
    from cpckit.encoders import audio
    from cpckit.perf.step import TrainStep, synthetic_batch

    torch.set_num_threads(args.threads)
    fused = audio._PatchNormReluPad.apply

    def two_step(cols: Any, w: Any, gamma: Any, beta: Any, eps: float, b: int, *pad: int) -> Any:
        y = audio._PatchConv.apply(cols, w).view(b, -1, w.shape[0])
        return audio._NormReluPad.apply(y, gamma, beta, eps, *pad)

    variants: dict[str, tuple[Any, int]] = {
        "two-step first layer": (two_step, 1),
        "first layer from patch statistics": (fused, 1),
        **{f"  + share_positions={s}": (fused, s) for s in args.share},
    }
    steps = {}
    for name, (_, share) in variants.items():
        overrides = [f"train.batch_size={args.batch}", f"negatives.share_positions={share}"]
        cfg = load_config(args.config, overrides)
        torch.manual_seed(0)
        steps[name] = TrainStep(cfg)
    batch = synthetic_batch(cfg, args.batch, torch.Generator().manual_seed(0))
    times: dict[str, list[float]] = {name: [] for name in variants}
    for r in range(args.warmup + args.rounds):
        for name, (first_layer, _) in variants.items():
            audio._PatchNormReluPad.apply = first_layer  # type: ignore[method-assign]
            t0 = time.perf_counter()
            steps[name](batch)
            if r >= args.warmup:
                times[name].append(time.perf_counter() - t0)
    audio._PatchNormReluPad.apply = fused  # type: ignore[method-assign]
    base = statistics.median(times["two-step first layer"])
    print(f"batch {args.batch}, {args.threads} threads, {args.rounds} alternating rounds")
    print("| variant | median s/step | min s/step | vs two-step first layer |")
    print("| --- | ---: | ---: | ---: |")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"| {name.strip()} | {med:.3f} | {min(ts):.3f} | {100 * (med / base - 1):+.1f} % |")


if __name__ == "__main__":
    main()
