"""``cpckit bench``: seconds per training step, FLOP/s against the machine, peak memory.

Also runnable on its own: ``python -m cpckit.commands.bench [ARGS]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["add_parser", "cmd_bench", "main"]

# The config flags of ``cpckit train`` that make sense for a benchmark.
BENCH_FLAGS = (
    "--modality",
    "--batch-size",
    "--neg-mode",
    "--z-dim",
    "--c-dim",
    "--context",
    "--prediction-steps",
    "--queue-size",
    "--precision",
)

DESCRIPTION = (
    "Time N training steps (forward, loss, backward, optimizer step) of a config on random "
    "inputs after a warm-up. Reports seconds per step (median, min), throughput (audio seconds "
    "or images per second), the step's FLOPs (matmuls and convolutions, forward + backward), "
    "the achieved FLOP/s, the dense fp32 matmul FLOP/s of this machine measured in the same "
    "run, their ratio, and the process's peak resident memory."
)


def _flags() -> dict[str, tuple[str, str]]:
    from cpckit.commands.train import TRAIN_FLAGS

    return {flag: TRAIN_FLAGS[flag] for flag in BENCH_FLAGS}


def _configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    from cpckit.commands._common import at_least
    from cpckit.commands.train import add_config_args

    p.add_argument(
        "--steps", type=at_least(1), default=10, metavar="INT", help="timed steps [default: 10]"
    )
    p.add_argument(
        "--warmup",
        type=at_least(0),
        default=2,
        metavar="INT",
        help="untimed steps first [default: 2]",
    )
    p.add_argument(
        "--threads",
        type=at_least(0),
        metavar="INT",
        default=None,
        help="torch intra-op threads [default: train.threads, else torch's default]",
    )
    p.add_argument(
        "--lightning-steps",
        type=at_least(0),
        metavar="INT",
        default=0,
        help="also time this many steps through the Lightning Trainer, as `cpckit train` runs "
        "them, and report the difference with the bare step [default: 0, off]",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    add_config_args(p, _flags())
    p.set_defaults(func=cmd_bench)
    return p


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "bench",
        help="time the training step on random inputs; FLOP/s against the machine's matmul",
        description=DESCRIPTION,
    )
    return _configure(p)


def cmd_bench(args: argparse.Namespace) -> int:
    from cpckit.training.process import tune_process

    tune_process()  # as `cpckit train` does, before torch starts its thread pool
    from cpckit.commands.train import resolve_config
    from cpckit.perf.bench import format_result, run_bench

    cfg = resolve_config(args, _flags())
    threads = cfg.train.threads if args.threads is None else args.threads
    result = run_bench(
        cfg,
        steps=args.steps,
        warmup=args.warmup,
        threads=threads,
        config_path=args.config,
        lightning_steps=args.lightning_steps,
        seed=cfg.train.seed,
    )
    print(json.dumps(result.to_dict()) if args.json else format_result(result), flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m cpckit.commands.bench``: the same command without the ``cpckit`` front end."""
    from cpckit.commands._common import parse_command_line
    from cpckit.errors import CpckitError

    parser = _configure(argparse.ArgumentParser(prog="cpckit bench", description=DESCRIPTION))
    args = parse_command_line(parser, argv)
    try:
        return cmd_bench(args)
    except CpckitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
