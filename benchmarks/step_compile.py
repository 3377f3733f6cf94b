"""``torch.compile`` against cpckit's CPU fast path on the canonical training step.

Three bare training steps (forward, loss, backward, Adam) of
``configs/cpc_paper_audio.yaml`` are timed alternately in one process after
a warm-up (which includes compilation), one step of each per round
(``_alternate.py``):

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
from pathlib import Path
from typing import Any

from _alternate import print_table, time_alternately

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default=str(ROOT / "configs" / "cpc_paper_audio.yaml"))
    p.add_argument("--batch", type=int, default=8, help="batch size [8]")
    p.add_argument("--rounds", type=int, default=10, help="timed rounds [10]")
    p.add_argument("--warmup", type=int, default=3, help="untimed rounds first [3]")
    p.add_argument("--threads", type=int, default=2, help="torch threads [2]")
    args = p.parse_args()

    from cpckit.training.process import tune_process

    tune_process()
    import torch

    from cpckit.config import load_config
    from cpckit.perf.step import TrainStep, synthetic_batch

    torch.set_num_threads(args.threads)
    cfg = load_config(args.config, [f"train.batch_size={args.batch}"])
    batch = synthetic_batch(cfg, args.batch, torch.Generator().manual_seed(0))
    runs: dict[str, Any] = {}
    for name, plain, compiled in [
        ("fast path", False, False),
        ("plain modules", True, False),
        ("plain modules, torch.compile", True, True),
    ]:
        torch.manual_seed(0)
        step = TrainStep(cfg)
        if compiled:
            step.module.model = torch.compile(step.module.model)  # type: ignore[assignment]

        def run(step: TrainStep = step, plain: bool = plain) -> None:
            if plain:
                os.environ["CPCKIT_FAST_PATH"] = "0"
            try:
                step(batch)
            finally:
                os.environ.pop("CPCKIT_FAST_PATH", None)

        runs[name] = run
    times, warm = time_alternately(runs, args.rounds, args.warmup)
    title = f"batch {args.batch}, {args.threads} threads, {args.rounds} alternating rounds"
    print_table(title + " (warm-up includes compilation)", times, warm)


if __name__ == "__main__":
    main()
