"""The training step of the canonical CPC audio config: speed, FLOP ratio, memory, profile.

Runs ``cpckit bench`` (as ``python -m cpckit.commands.bench``) in a fresh
process per batch size, so each peak RSS is that process's own, prints a
table, optionally the profile's top operations, and writes every result as
JSON. The "Training step" section of benchmarks/README.md records the figures.

    python benchmarks/step.py                        # batch 8 and 32
    python benchmarks/step.py --batches 8 --profile  # plus the top operations
    python benchmarks/step.py --lightning-steps 10   # plus `cpckit train`'s path
    python benchmarks/step.py --with-plain           # plus the plain modules, same run
    python benchmarks/step.py --share 1 8            # negatives.share_positions 1 and 8

``--with-plain`` also times each batch size with ``CPCKIT_FAST_PATH=0`` and
``CPCKIT_PROCESS_TUNING=0``: ``nn.Conv1d``, ``nn.GRU`` and the plain layer
norm, with glibc's and OpenMP's default settings (the "before" of
docs/performance.md), and prints the speed-up of the fast path over it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "cpc_paper_audio.yaml"


PLAIN_ENV = {"CPCKIT_FAST_PATH": "0", "CPCKIT_PROCESS_TUNING": "0"}


def run_bench(
    batch: int, args: argparse.Namespace, plain: bool = False, share: int = 1
) -> dict[str, Any]:
    cmd = [
        sys.executable, "-m", "cpckit.commands.bench", "--config", str(args.config),
        "--batch-size", str(batch), "--steps", str(args.steps), "--warmup", str(args.warmup),
        "--lightning-steps", str(args.lightning_steps), "--json",
        f"negatives.share_positions={share}",
    ]  # fmt: skip
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    env = {**os.environ, **PLAIN_ENV} if plain else None
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    line = next(x for x in out.splitlines() if x.startswith("{"))
    result: dict[str, Any] = json.loads(line)
    result["path"] = "plain" if plain else "fast" if share == 1 else f"fast, share {share}"
    result["share_positions"] = share
    return result


def run_profile(batch: int, args: argparse.Namespace, plain: bool = False, share: int = 1) -> str:
    cmd = [
        sys.executable, __file__, "--profile-child", "--config", str(args.config),
        "--batches", str(batch), "--top", str(args.top), "--share", str(share),
    ]  # fmt: skip
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    env = {**os.environ, **PLAIN_ENV} if plain else None
    return subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout


def profile_child(args: argparse.Namespace) -> None:
    """Profile three steps after two warm-up steps; print the top operations by self CPU time."""
    from cpckit.training.process import tune_process

    tune_process()
    import torch
    from torch.profiler import ProfilerActivity, profile

    from cpckit.config import load_config
    from cpckit.perf.step import TrainStep, synthetic_batch

    if args.threads:
        torch.set_num_threads(args.threads)
    batch = args.batches[0]
    overrides = [f"train.batch_size={batch}", f"negatives.share_positions={args.share[0]}"]
    cfg = load_config(args.config, overrides)
    torch.manual_seed(0)
    step = TrainStep(cfg)
    data = synthetic_batch(cfg, batch, torch.Generator().manual_seed(0))
    for _ in range(2):
        step(data)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(3):
            step(data)
    table = prof.key_averages().table(
        sort_by="self_cpu_time_total", row_limit=args.top, max_name_column_width=48
    )
    print(table)


def table(results: list[dict[str, Any]]) -> str:
    rows = [
        "| path | batch | s/step median (min) | audio s/s | GFLOP/step | achieved GFLOP/s "
        "| matmul GFLOP/s | ratio | peak RSS MB | Lightning s/step |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lit = r.get("lightning_seconds_per_step")
        lit_text = "-" if lit is None else f"{lit:.3f} ({100 * r['lightning_overhead']:+.1f} %)"
        rows.append(
            f"| {r.get('path', 'fast')} | {r['batch']} | {r['seconds_per_step']:.3f} ({r['min_seconds_per_step']:.3f}) "
            f"| {r['audio_seconds_per_second']:.1f} | {r['flops_per_step'] / 1e9:.1f} "
            f"| {r['achieved_flops_per_second'] / 1e9:.1f} "
            f"| {r['matmul_flops_per_second'] / 1e9:.1f} | {100 * r['flop_ratio']:.1f} % "
            f"| {r['peak_rss_mb']:.0f} | {lit_text} |"
        )
    return "\n".join(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default=str(CONFIG), help="config [configs/cpc_paper_audio.yaml]")
    p.add_argument("--batches", type=int, nargs="+", default=[8, 32], help="batch sizes [8 32]")
    p.add_argument("--steps", type=int, default=10, help="timed steps per run [10]")
    p.add_argument("--warmup", type=int, default=2, help="warm-up steps per run [2]")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument(
        "--lightning-steps", type=int, default=0, help="also time the Lightning path [0: off]"
    )
    p.add_argument("--profile", action="store_true", help="print the profile's top operations")
    p.add_argument("--top", type=int, default=10, help="operations in the profile table [10]")
    p.add_argument("--out", default=None, help="write the results as JSON to this file")
    p.add_argument(
        "--with-plain", action="store_true", help="also time the plain modules (the 'before')"
    )
    p.add_argument(
        "--share",
        type=int,
        nargs="+",
        default=[1],
        help="negatives.share_positions values to time the fast path with [1]",
    )
    p.add_argument("--profile-child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.profile_child:
        profile_child(args)
        return
    results = []
    for batch in args.batches:
        for share in args.share:
            results.append(run_bench(batch, args, share=share))
            print(json.dumps(results[-1]), flush=True)
        if args.with_plain:
            results.append(run_bench(batch, args, plain=True))
            print(json.dumps(results[-1]), flush=True)
    print()
    print(table(results))
    if args.with_plain:
        print()
        plains = {r["batch"]: r for r in results if r["path"] == "plain"}
        for fast in results:
            plain = plains[fast["batch"]]
            if fast is plain:
                continue
            speedup = plain["seconds_per_step"] / fast["seconds_per_step"]
            memory = plain["peak_rss_mb"] / fast["peak_rss_mb"]
            print(
                f"batch {fast['batch']}: {fast['path']} {speedup:.2f}x faster than the plain "
                f"modules, {memory:.2f}x less peak memory"
            )
    if args.profile:
        for batch in args.batches:
            for share in args.share:
                print(
                    f"\nTop operations, batch {batch}, {'fast' if share == 1 else f'fast, share {share}'}"
                    " (self CPU time over 3 steps):"
                )
                print(run_profile(batch, args, share=share))
            if args.with_plain:
                print(f"\nTop operations, batch {batch}, plain modules:")
                print(run_profile(batch, args, plain=True))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
