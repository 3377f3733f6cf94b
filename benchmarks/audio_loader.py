"""Audio loader throughput: clips/s and audio-seconds/s of AudioFolderDataset + collate.

For each setting (0, 1 and 2 DataLoader workers; with and without the
in-memory cache) it builds the dataset (timed: header checks, plus decoding
and resampling every clip when the cache is on), then reads every clip as
fixed windows through a ``torch.utils.data.DataLoader`` for ``--epochs``
epochs (persistent workers) and prints:

- ``build s``: dataset construction time;
- ``epoch 1`` / ``later``: clips per second in the first epoch (worker start
  included) and in the later epochs;
- ``window s/s``: seconds of window audio delivered per second (later epochs);
- ``speech s/s``: seconds of valid (unpadded) audio per second (later epochs).

Then, in the same run, it compares the loader with what training consumes:
with a config (``configs/fsdd.yaml`` by default) it builds the run's training
windows exactly as ``cpckit train`` does (:func:`real_audio_bundle`,
:func:`make_loader`), times an epoch of the loader, times training steps of
the config's model (forward, loss, backward, optimizer step; the config's
torch threads) on batches from that loader, and prints both rates in seconds
of audio windows per second and their ratio (loader / training step). A
ratio well above 1 means the loader is not what limits training.

Run::

    .venv/bin/python benchmarks/audio_loader.py [--root ../shared/data/fsdd-4spk/recordings]
        [--sample-rate 16000] [--window 1.0] [--batch-size 32] [--epochs 3]
        [--config configs/fsdd.yaml] [--steps 20] [--warmup 3] [--skip-table]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from cpckit.config import load_config
from cpckit.data.audio import AudioFolderDataset
from cpckit.data.audio_bundle import real_audio_bundle
from cpckit.data.bundle import make_loader
from cpckit.data.collate import collate
from cpckit.perf.step import TrainStep


def run(
    root: Path,
    sample_rate: int,
    window_s: float,
    batch_size: int,
    epochs: int,
    workers: int,
    cache: bool,
) -> dict[str, float]:
    """Build the dataset and time ``epochs`` passes over it."""
    window = int(round(window_s * sample_rate))
    t0 = time.perf_counter()
    ds = AudioFolderDataset(root, sample_rate, window_samples=window, cache=cache, seed=0)
    build = time.perf_counter() - t0
    gen = torch.Generator()
    gen.manual_seed(0)
    loader = DataLoader(
        ds,
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        collate_fn=collate,
        generator=gen,
        persistent_workers=workers > 0,
    )
    times: list[float] = []
    valid_samples: list[int] = []
    for _ in range(epochs):
        t = time.perf_counter()
        total = 0
        for batch in loader:
            total += int(batch["audio_length"].sum())
        times.append(time.perf_counter() - t)
        valid_samples.append(total)
    later_t = sum(times[1:]) if epochs > 1 else times[0]
    later_valid = sum(valid_samples[1:]) if epochs > 1 else valid_samples[0]
    later_clips = len(ds) * max(1, epochs - 1)
    return {
        "clips": len(ds),
        "build": build,
        "first": len(ds) / times[0],
        "later": later_clips / later_t,
        "window_s": later_clips * window_s / later_t,
        "speech_s": later_valid / sample_rate / later_t,
    }


def loader_vs_step(config: Path, steps: int, warmup: int) -> dict[str, float]:
    """Audio seconds per second: the run's loader against its training step, same process."""
    cfg = load_config(config)
    if cfg.train.threads > 0:
        torch.set_num_threads(cfg.train.threads)
    bundle = real_audio_bundle(cfg, progress=False)
    loader = make_loader(
        bundle.train,
        cfg.train.batch_size,
        shuffle=True,
        num_workers=cfg.data.num_workers,
        seed=cfg.train.seed,
    )
    window_s = cfg.data.full_duration
    for _ in loader:  # first epoch: worker start-up, page faults
        pass
    t = time.perf_counter()
    n_batches = 0
    for _ in loader:
        n_batches += 1
    loader_s = time.perf_counter() - t
    loader_rate = len(bundle.train) * window_s / loader_s  # type: ignore[arg-type]

    torch.manual_seed(cfg.train.seed)
    step = TrainStep(cfg)
    batches = []
    for batch in loader:
        if batch["audio"].shape[0] == cfg.train.batch_size:
            batches.append(batch)
        if len(batches) == warmup + steps:
            break
    for batch in batches[:warmup]:
        step(batch)
    times = []
    for batch in batches[warmup:]:
        t = time.perf_counter()
        step(batch)
        times.append(time.perf_counter() - t)
    step_s = statistics.median(times)
    step_rate = cfg.train.batch_size * window_s / step_s
    return {
        "windows": float(len(bundle.train)),  # type: ignore[arg-type]
        "batch": float(cfg.train.batch_size),
        "window_s": window_s,
        "threads": float(torch.get_num_threads()),
        "workers": float(cfg.data.num_workers),
        "loader_batch_ms": 1000 * loader_s / n_batches,
        "loader_rate": loader_rate,
        "step_ms": 1000 * step_s,
        "step_min_ms": 1000 * min(times),
        "step_rate": step_rate,
        "ratio": loader_rate / step_rate,
        "loader_share": (loader_s / n_batches) / (loader_s / n_batches + step_s),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("../shared/data/fsdd-4spk/recordings"))
    parser.add_argument("--sample-rate", type=int, default=16000)
    parser.add_argument("--window", type=float, default=1.0, help="window in seconds")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads in the main process")
    parser.add_argument(
        "--config",
        type=Path,
        default=Path("configs/fsdd.yaml"),
        help="config whose loader and training step are compared",
    )
    parser.add_argument("--steps", type=int, default=20, help="timed training steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed training steps first")
    parser.add_argument(
        "--skip-table", action="store_true", help="only the loader vs training step comparison"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not args.skip_table:
        table(args)
    compare(args)


def compare(args: argparse.Namespace) -> None:
    """Print the loader against the training step of ``args.config``."""
    r = loader_vs_step(args.config, args.steps, args.warmup)
    print()
    print(
        f"loader vs training step ({args.config}: {r['windows']:.0f} windows of "
        f"{r['window_s']:g} s, batch {r['batch']:.0f}, {r['workers']:.0f} workers, "
        f"{r['threads']:.0f} torch threads)"
    )
    print(
        f"  loader        {r['loader_batch_ms']:8.1f} ms/batch  {r['loader_rate']:8.0f} audio s/s"
    )
    print(
        f"  training step {r['step_ms']:8.1f} ms/batch  {r['step_rate']:8.0f} audio s/s  "
        f"(median of {args.steps}; fastest {r['step_min_ms']:.1f} ms)"
    )
    print(
        f"  ratio loader / training step: {r['ratio']:.1f}x; loading is "
        f"{100 * r['loader_share']:.1f}% of the time per batch (loader + step, one process)"
    )


def table(args: argparse.Namespace) -> None:
    """Print the loader throughput table (cache on / off, 0-2 workers)."""
    print(
        f"root {args.root}, {args.sample_rate} Hz, windows of {args.window:g} s, "
        f"batch {args.batch_size}, {args.epochs} epochs"
    )
    header = (
        f"{'cache':>5} {'workers':>7} {'clips':>6} {'build s':>8} {'epoch 1':>9} "
        f"{'later':>9} {'window s/s':>11} {'speech s/s':>11}"
    )
    print(header)
    print("-" * len(header))
    for cache in (False, True):
        for workers in (0, 1, 2):
            r = run(
                args.root,
                args.sample_rate,
                args.window,
                args.batch_size,
                args.epochs,
                workers,
                cache,
            )
            print(
                f"{'on' if cache else 'off':>5} {workers:>7} {r['clips']:>6.0f} {r['build']:>8.2f} "
                f"{r['first']:>9.0f} {r['later']:>9.0f} {r['window_s']:>11.0f} {r['speech_s']:>11.0f}"
            )
    print("epoch 1 / later: clips per second; s/s: seconds of audio per wall-clock second")


if __name__ == "__main__":
    main()
