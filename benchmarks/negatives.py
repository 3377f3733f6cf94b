"""Negatives: cpckit's index-based scoring against the naive gather-then-score.

At the CPC paper's sizes (B=8 sequences of L=128 latents, K=12 prediction
steps, so T=116 predicting positions; N=128 negatives; D=256) it times one
forward + backward pass of the loss (positive scores, negative scores,
InfoNCE) from random ``z (B, L, D)`` and ``pred (B, T, K, D)`` that require
gradients, for two implementations of the same draws:

- ``cpckit``: the samplers' ``forward``: candidate indices shared by the K
  steps of a position, scored by one batched matmul, the positive masked;
- ``naive``: the samplers' ``gather_negatives``: a ``(B, T, K, N, D)``
  tensor of negative vectors, then multiply-sum (as CPC_audio scores them).

Both give the same loss (checked). Peak memory: each implementation runs in
a fresh Python process. Just before the first pass (inputs built, queue
filled) the kernel's peak-RSS counter is reset (``5`` written to
``/proc/self/clear_refs``); the figure is the peak resident set size
(``VmHWM``) reached during the passes minus the resident size (``VmRSS``)
before them, i.e. the memory the passes themselves needed at their peak.
torch's CPU allocator returns large blocks to the OS when they are freed,
so nothing from setup is counted. Where ``/proc`` is missing the growth of
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` is used instead (a lower bound:
it cannot be reset, so a higher peak during setup hides part of the pass's).

Time is the median wall-clock seconds of ``--repeats`` passes after one
warm-up pass; CPU seconds (all threads of the process) are given too, as
they move less when other jobs share the cores.

Run::

    .venv/bin/python benchmarks/negatives.py [--threads 1] [--repeats 5] [--write]

``--write`` puts the table into benchmarks/README.md (section "Negatives")
and docs/negatives.md (between the ``negatives-benchmark`` markers).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MODES = ("inbatch", "queue", "queue+synthetic")


def _samplers(mode: str, n: int, dim: int, queue_size: int, n_synthetic: int) -> list[Any]:
    import torch

    from cpckit.negatives.in_batch import InBatchSampler
    from cpckit.negatives.queue import LatentQueue, QueueSampler
    from cpckit.negatives.synthetic import SyntheticSampler

    out: list[Any] = []
    for name in mode.split("+"):
        if name == "inbatch":
            out.append(InBatchSampler(n))
        elif name == "queue":
            queue = LatentQueue(queue_size, dim)
            # a full queue (the steady state), the same in every process
            queue.enqueue(torch.randn(queue_size, dim, generator=torch.Generator().manual_seed(2)))
            out.append(QueueSampler(n, queue))
        elif name == "synthetic":
            out.append(SyntheticSampler(n_synthetic))
        else:
            raise SystemExit(f"benchmark: unknown sampler {name!r}")
    return out


def _status_kb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return float(line.split()[1])
    raise OSError(f"/proc/self/status has no {field}")


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS counter (Linux >= 4.0); False where unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        _status_kb("VmHWM")
    except OSError:
        return False
    return True


def _maxrss_kb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024.0 if sys.platform == "darwin" else float(kb)  # bytes on macOS


def _child(args: argparse.Namespace) -> None:
    """One implementation in this (fresh) process; prints one JSON line."""
    import torch

    from cpckit.losses import info_nce
    from cpckit.negatives.base import positive_windows
    from cpckit.objective import CPCObjective
    from cpckit.similarity import Similarity

    torch.set_num_threads(args.threads)
    b, length, k, n, d = args.batch, args.length, args.steps, args.negatives, args.dim
    t = length - k
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(b, length, d, generator=gen).requires_grad_(True)
    pred = torch.randn(b, t, k, d, generator=gen).requires_grad_(True)
    samplers = _samplers(args.mode, n, d, args.queue_size, args.synthetic)
    objective = CPCObjective({"audio": samplers}, Similarity("dot"))
    from cpckit.model import CPCOutput

    out = CPCOutput(z=z, c=z.new_zeros(b, length, 1), pred=pred, valid=None)

    def cpckit_loss() -> torch.Tensor:
        return objective({"audio": out}).loss

    def naive_loss() -> torch.Tensor:
        query = objective.query(out, None, None)
        pos = (query.q * positive_windows(query.keys, k)).sum(-1)
        scores, masks = [], []
        for sampler in samplers:
            neg, mask = sampler.gather_negatives(query)  # (B, T, K, n, D)
            scores.append((query.q.unsqueeze(-2) * neg).sum(-1) * query.scale)
            masks.append(mask)
        return info_nce(pos, torch.cat(scores, -1), torch.cat(masks, -1)).loss

    loss_fn = cpckit_loss if args.impl == "cpckit" else naive_loss

    def one_pass() -> float:
        z.grad = pred.grad = None
        torch.manual_seed(1)
        loss = loss_fn()
        loss.backward()
        return float(loss.detach())

    exact = _reset_peak()
    rss0 = _status_kb("VmRSS") if exact else _maxrss_kb()
    loss = one_pass()  # warm-up; also the value both implementations must agree on
    wall, cpu = [], []
    for _ in range(args.repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        one_pass()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    rss1 = _status_kb("VmHWM") if exact else _maxrss_kb()
    print(
        json.dumps(
            {
                "impl": args.impl,
                "mode": args.mode,
                "loss": loss,
                "seconds": sorted(wall)[len(wall) // 2],
                "cpu_seconds": sorted(cpu)[len(cpu) // 2],
                "peak_mb": (rss1 - rss0) / 1024.0,
                "peak_method": "VmHWM - VmRSS" if exact else "ru_maxrss growth",
                "threads": torch.get_num_threads(),
            }
        )
    )


def _run(impl: str, mode: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        "--impl",
        impl,
        "--mode",
        mode,
        *(
            f"--{key.replace('_', '-')}={getattr(args, key)}"
            for key in (
                "batch",
                "length",
                "steps",
                "negatives",
                "dim",
                "queue_size",
                "synthetic",
                "threads",
                "repeats",
            )
        ),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"benchmark child failed ({impl}, {mode}):\n{done.stderr}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _table(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    t = args.length - args.steps
    lines = [
        f"B={args.batch}, L={args.length} latents (T={t} predicting positions), "
        f"K={args.steps}, N={args.negatives} negatives, D={args.dim}. Rows name the samplers "
        f"timed, each alone: `queue` is the queue sampler ({args.queue_size} keys, full) without "
        "the in-batch negatives that `negatives.mode=queue` adds; `queue+synthetic` adds "
        f"{args.synthetic} synthetic negatives to it. Dot product; fp32 on CPU, "
        f"{rows[0]['threads']} thread(s). Forward + backward of the loss; median of "
        f"{args.repeats} passes; peak memory: {rows[0]['peak_method']} of a fresh process "
        "around the passes (see benchmarks/negatives.py).",
        "",
        "| negatives | implementation | seconds | CPU seconds | peak memory (MB) | loss |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['mode']} | {r['impl']} | {r['seconds']:.3f} | {r['cpu_seconds']:.3f} | "
            f"{r['peak_mb']:.0f} | {r['loss']:.4f} |"
        )
    lines += [
        "",
        "| negatives | naive / cpckit time | naive / cpckit peak memory |",
        "| --- | ---: | ---: |",
    ]
    for mode in args.modes:
        fast = next(r for r in rows if r["mode"] == mode and r["impl"] == "cpckit")
        slow = next((r for r in rows if r["mode"] == mode and r["impl"] == "naive"), None)
        if slow is None:
            continue
        lines.append(
            f"| {mode} | {slow['seconds'] / fast['seconds']:.1f}x | "
            f"{slow['peak_mb'] / max(fast['peak_mb'], 1e-9):.1f}x |"
        )
    return "\n".join(lines)


def _replace_section(text: str, heading: str, body: str) -> str:
    """Replace the body of ``## heading`` (up to the next ``## ``) or append the section."""
    block = f"## {heading}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        return pattern.sub(lambda _: block + "\n", text, count=1).rstrip() + "\n"
    return (text.rstrip() + "\n\n" if text.strip() else "") + block


def _replace_markers(text: str, body: str) -> str:
    start, end = "<!-- negatives-benchmark:start -->", "<!-- negatives-benchmark:end -->"
    if start not in text or end not in text:
        return text.rstrip() + f"\n\n{start}\n{body.strip()}\n{end}\n"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body.strip()}\n{end}{tail}"


def _write(table: str) -> None:
    command = (
        "Run `.venv/bin/python benchmarks/negatives.py --write` to measure again "
        "(cpckit's index-based scoring against gathering a `(B, T, K, N, D)` tensor of "
        "negatives, each in a fresh process; see the script's docstring for the method)."
    )
    stamp = f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}."
    body = f"{command}\n\n{stamp}\n\n{table}"
    readme = ROOT / "benchmarks" / "README.md"
    text = readme.read_text() if readme.exists() else "# Benchmarks\n"
    readme.write_text(_replace_section(text, "Negatives", body))
    doc = ROOT / "docs" / "negatives.md"
    if doc.exists():
        doc.write_text(_replace_markers(doc.read_text(), f"{stamp}\n\n{table}"))


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--length", type=int, default=128, help="latents per sequence (T = L - K)")
    p.add_argument("--steps", type=int, default=12, help="K, prediction steps")
    p.add_argument("--negatives", type=int, default=128, help="N, negatives per prediction")
    p.add_argument("--dim", type=int, default=256, help="D, latent dimension")
    p.add_argument("--queue-size", type=int, default=4096)
    p.add_argument(
        "--synthetic", type=int, default=16, help="synthetic negatives in queue+synthetic"
    )
    p.add_argument("--threads", type=int, default=1, help="torch threads [default: 1]")
    p.add_argument("--repeats", type=int, default=5, help="timed passes after a warm-up")
    p.add_argument(
        "--modes",
        default=",".join(MODES),
        help=f"comma-separated negatives modes [default: {','.join(MODES)}]",
    )
    p.add_argument("--no-naive", action="store_true", help="time cpckit only")
    p.add_argument("--write", action="store_true", help="write the results into the docs")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--impl", default="cpckit", help=argparse.SUPPRESS)
    p.add_argument("--mode", default="inbatch", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        _child(args)
        return
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    rows = []
    for mode in args.modes:
        for impl in ("cpckit",) if args.no_naive else ("cpckit", "naive"):
            row = _run(impl, mode, args)
            print(
                f"{mode:>16} {impl:>6}: {row['seconds']:.3f} s (CPU {row['cpu_seconds']:.3f} s), "
                f"peak +{row['peak_mb']:.0f} MB, loss {row['loss']:.5f}",
                flush=True,
            )
            rows.append(row)
        pair = [r for r in rows if r["mode"] == mode]
        if len(pair) == 2 and abs(pair[0]["loss"] - pair[1]["loss"]) > 1e-3 * abs(pair[0]["loss"]):
            raise SystemExit(
                f"{mode}: the implementations disagree: {pair[0]['loss']} vs {pair[1]['loss']}"
            )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    table = _table(rows, args)
    print()
    print(table)
    if args.write:
        _write(table)


if __name__ == "__main__":
    main()
