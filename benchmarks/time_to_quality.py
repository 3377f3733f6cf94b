"""Time to quality: train ``configs/fsdd.yaml`` (or ``configs/cifar10.yaml``) and probe every minute.

The run ends at the config's epochs or after ``--minutes`` of training,
whichever comes first. Every ``--every`` seconds of training the model is
saved and probed, in the training process (probing time is not counted as
training time):

- ``--task fsdd``: as ``benchmarks/fsdd_unseen.py`` (leave-one-speaker-out
  digit accuracy of the pooled context, and of the same architecture with
  random weights);
- ``--task cifar``: as ``benchmarks/cifar_probe.py`` (probe fit on 2,000
  ``train/`` images, scored on 1,000 ``test/`` images, ``C = 1``, beside
  random weights).

Prints the curve, writes it as JSON and draws
``docs/figures/time_to_quality_{task}.png``.

    python benchmarks/time_to_quality.py --minutes 10
    python benchmarks/time_to_quality.py --task cifar --minutes 15
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

# one BLAS thread before numpy loads: the probes' small fits only contend on a shared CPU
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import lightning as L  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cifar_probe  # noqa: E402
import fsdd_unseen  # noqa: E402

TASKS = {
    "fsdd": {
        "config": "configs/fsdd.yaml",
        "ylabel": "digit accuracy, unseen speaker",
        "title": "FSDD, leave-one-speaker-out linear probe",
        "goal": 0.80,
    },
    "cifar": {
        "config": "configs/cifar10.yaml",
        "ylabel": "test accuracy, airplane vs automobile",
        "title": "CIFAR-10 airplane vs automobile, linear probe",
        "goal": 0.93,
    },
}


def task_figures(task: str, run: str, first: bool) -> dict[str, float]:
    """The curve's figures for the model saved in ``run``: CPC, random weights (and MFCC)."""
    if task == "cifar":
        rows = cifar_probe.measure(run)["rows"]
        return {"cpc": rows["cpc"]["test_accuracy"], "random": rows["random"]["test_accuracy"]}
    rows = fsdd_unseen.measure(run, with_speaker=False, inputs=first)["rows"]
    return {name: rows[name]["loso_digit"]["mean"] for name in rows}


class MinuteProbe(L.Callback):
    """Probe the model every ``every`` seconds of training; stop after ``limit`` seconds."""

    def __init__(self, cfg: Any, out: Path, every: float, limit: float, task: str) -> None:
        self.cfg, self.out, self.every, self.limit, self.task = cfg, out, every, limit, task
        self.trained = 0.0
        self.next = every
        self.curve: list[dict[str, Any]] = []
        self._t = 0.0

    def on_train_batch_start(self, trainer: Any, module: Any, batch: Any, batch_idx: int) -> None:
        self._t = time.perf_counter()

    def on_train_batch_end(
        self, trainer: Any, module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self.trained += time.perf_counter() - self._t
        if self.trained >= self.next or self.trained >= self.limit:
            self.probe(module, trainer.global_step)
            self.next += self.every
        if self.trained >= self.limit:
            trainer.should_stop = True

    def probe(self, module: Any, step: int) -> None:
        from cpckit.training.run_folder import save_model

        path = self.out / f"probe_{step}"
        path.mkdir(parents=True, exist_ok=True)
        was = module.model.training
        save_model(module.model, self.cfg, path / "cpc_model.pth")
        figures = task_figures(self.task, str(path), first=not self.curve)
        module.model.train(was)
        row: dict[str, Any] = {"minutes": round(self.trained / 60, 2), "step": step, **figures}
        self.curve.append(row)
        print(
            f"  {row['minutes']:5.1f} min  step {step:5d}  CPC {row['cpc']:.3f}  "
            f"random weights {row['random']:.3f}",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--task", default="fsdd", choices=sorted(TASKS))
    p.add_argument("--config", help="default: configs/fsdd.yaml or configs/cifar10.yaml")
    p.add_argument("--minutes", type=float, default=10.0, help="training time")
    p.add_argument("--every", type=float, default=60.0, help="seconds of training between probes")
    p.add_argument("--out", help="run folder (default /tmp/time_to_quality_TASK)")
    p.add_argument("--json", help="the curve (default /tmp/time_to_quality_TASK.json)")
    p.add_argument("--figure", help="default docs/figures/time_to_quality_TASK.png")
    p.add_argument("overrides", nargs="*")
    args = p.parse_args(argv)
    task = TASKS[args.task]
    args.config = args.config or task["config"]
    args.out = args.out or f"/tmp/time_to_quality_{args.task}"
    args.json = args.json or f"/tmp/time_to_quality_{args.task}.json"
    args.figure = args.figure or f"docs/figures/time_to_quality_{args.task}.png"

    from cpckit.config import load_config
    from cpckit.training.run import train

    out = Path(args.out)
    cfg = load_config(
        args.config,
        [*fsdd_unseen.QUIET_EVAL, "eval.probe=false", *args.overrides, f"train.out_dir={out}"],
    )
    probe = MinuteProbe(cfg, out, args.every, args.minutes * 60, args.task)
    train(cfg, stdout_is_tty=False, callbacks=[probe])
    Path(args.json).write_text(json.dumps(probe.curve, indent=2))
    print(f"{'minutes':>8}{'step':>7}{'CPC':>8}{'random':>8}")
    for r in probe.curve:
        print(f"{r['minutes']:>8.1f}{r['step']:>7d}{r['cpc']:>8.3f}{r['random']:>8.3f}")
    plot(probe.curve, Path(args.figure), task)
    return 0


def plot(curve: list[dict[str, Any]], path: Path, task: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    minutes = [r["minutes"] for r in curve]
    ax.plot(minutes, [r["cpc"] for r in curve], "o-", label="CPC context")
    ax.plot(minutes, [r["random"] for r in curve], "s--", label="random weights")
    if curve and "mfcc" in curve[0]:
        ax.axhline(curve[0]["mfcc"], color="grey", ls=":", label="MFCC statistics")
    ax.axhline(task["goal"], color="red", lw=0.8, label=f"goal {task['goal']:.2f}")
    ax.set_xlabel("training minutes (2 shared CPU cores, one torch thread)")
    ax.set_ylabel(task["ylabel"])
    ax.set_ylim(0, 1)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(task["title"])
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
