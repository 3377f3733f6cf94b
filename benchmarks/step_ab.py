"""Variants of the canonical training step timed alternately in one process.

One step of each variant per round (``_alternate.py``), so a slow moment of
the machine costs all of them alike. The variants (batch ``--batch``, 2
threads):

- ``two-step first layer``: the waveform layer as a patch matrix product
  followed by the fused layer norm / ReLU / pad (``PatchConv`` then
  ``NormReluPad``), the form every other layer uses;
- ``first layer from patch statistics``: the default
  (``PatchNormReluPad``, docs/performance.md);
- the default with ``negatives.share_positions`` = each of ``--share``.

    python benchmarks/step_ab.py --batch 8 --rounds 20 --share 8 16
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from _alternate import print_table, time_alternately

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

    from cpckit.training.process import tune_process

    tune_process()
    import torch

    from cpckit.config import load_config
    from cpckit.kernels import conv
    from cpckit.perf.step import TrainStep, synthetic_batch

    torch.set_num_threads(args.threads)
    fused = conv.PatchNormReluPad.apply

    def two_step(cols: Any, w: Any, gamma: Any, beta: Any, eps: float, b: int, *pad: int) -> Any:
        y = conv.patch_conv(cols, w).view(b, -1, w.shape[0])
        return conv.norm_relu_pad(y, gamma, beta, eps, *pad)

    variants: dict[str, tuple[Any, int]] = {
        "two-step first layer": (two_step, 1),
        "first layer from patch statistics": (fused, 1),
        **{f"+ share_positions={s}": (fused, s) for s in args.share},
    }
    base_cfg = load_config(args.config, [f"train.batch_size={args.batch}"])
    batch = synthetic_batch(base_cfg, args.batch, torch.Generator().manual_seed(0))
    runs: dict[str, Any] = {}
    for name, (first_layer, share) in variants.items():
        overrides = [f"train.batch_size={args.batch}", f"negatives.share_positions={share}"]
        cfg = load_config(args.config, overrides)
        torch.manual_seed(0)
        step = TrainStep(cfg)

        def run(step: TrainStep = step, first_layer: Any = first_layer) -> None:
            conv.PatchNormReluPad.apply = first_layer  # type: ignore[method-assign]
            step(batch)

        runs[name] = run
    times, warm = time_alternately(runs, args.rounds, args.warmup)
    conv.PatchNormReluPad.apply = fused  # type: ignore[method-assign]
    title = f"batch {args.batch}, {args.threads} threads, {args.rounds} alternating rounds"
    print_table(title, times, warm)


if __name__ == "__main__":
    main()
