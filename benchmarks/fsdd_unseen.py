"""Digit accuracy on unseen speakers (FSDD): CPC context vs random weights vs MFCC.

For one run folder (or a run trained here from a config, overrides and a
step budget), every clip of the folder is embedded whole through the one
evaluation path (:func:`cpckit.evaluation.frames.embed_rows`) and probed:

- digit, leave-one-speaker-out: the probe is fit on the clips of all speakers
  but one and tested on the held-out speaker, for every speaker; the figure
  is the mean of the folds (:func:`cpckit.evaluation.probe.probe_logo`, the
  probe of ``cpckit evaluate --protocol logo``);
- speaker, 5-fold stratified (:func:`cpckit.evaluation.probe.probe_kfold`).

Each for the trained model's pooled context, the same architecture with
random weights (:func:`cpckit.evaluation.baselines.random_model`) and MFCC
statistics (:func:`cpckit.evaluation.baselines.input_features`), all in the
same process. The probe is ``linear-cv`` (standardised features, C chosen by
cross-validation on the training side only) with ``--classifier linear-cv``;
the default ``linear`` (C = 1) keeps a row to about a minute on a shared CPU.

    python benchmarks/fsdd_unseen.py --run outputs_fsdd
    python benchmarks/fsdd_unseen.py --config configs/fsdd.yaml --steps 400 \
        --out /tmp/fsdd_run negatives.mode=samegroup --json /tmp/row.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

# one BLAS thread: the probes' many small fits only contend on a small shared CPU
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

DIGIT_KEY = "digit"
SPEAKER_KEY = "speaker"
QUIET_EVAL = ("eval.tsne=false", "eval.report=false", "eval.geometry=false", "eval.baselines=false")


def train_run(config: str, overrides: list[str], steps: int, out: str) -> float:
    """Train ``config`` (+ overrides) for ``steps`` optimizer steps into ``out``; the seconds."""
    from cpckit.config import load_config
    from cpckit.training.run import train

    cfg = load_config(
        config,
        [*QUIET_EVAL, *overrides, f"train.max_steps={steps}", f"train.out_dir={out}"],
    )
    t0 = time.perf_counter()
    train(cfg, stdout_is_tty=False)
    return time.perf_counter() - t0


def loso(
    features: np.ndarray, labels: np.ndarray, groups: np.ndarray, classifier: str
) -> dict[str, Any]:
    """Leave-one-group-out probe accuracy (:func:`cpckit.evaluation.probe.probe_logo`, as
    ``cpckit evaluate --protocol logo``): mean over folds and each fold's figure."""
    from cpckit.evaluation.probe import probe_logo

    res = probe_logo(features, labels, groups, classifier=classifier)
    assert res.folds is not None
    return {
        "mean": float(res.test_accuracy),
        "folds": [round(f.test_accuracy, 4) for f in res.folds],
    }


def speaker_probe(features: np.ndarray, speakers: np.ndarray, classifier: str) -> float:
    from cpckit.evaluation.probe import probe_kfold

    return probe_kfold(features, speakers, folds=5, classifier=classifier).test_accuracy


def measure(
    run: str,
    root: str | None = None,
    seed: int | None = None,
    classifier: str = "linear",
    *,
    with_speaker: bool = True,
    inputs: bool = True,
) -> dict[str, Any]:
    """The table's figures for the model saved in ``run`` (see the module notes).

    ``with_speaker=False`` leaves out the speaker probe, ``inputs=False`` the
    MFCC row (the time-to-quality curve probes often).
    """
    import torch

    from cpckit import api
    from cpckit.data.labels import encode_labels
    from cpckit.data.rows import open_folder
    from cpckit.evaluation.baselines import input_features, random_model
    from cpckit.evaluation.frames import embed_rows

    pretrained = api.load(run)
    cfg = pretrained.config
    model = pretrained.model.eval()
    seed = cfg.train.seed if seed is None else seed
    root = root or cfg.data.audio_root
    if root is None:
        raise SystemExit("the run's config names no data.audio_root: pass --root")
    if cfg.train.threads > 0:
        torch.set_num_threads(cfg.train.threads)
    data = open_folder(
        root,
        "audio",
        sample_rate=cfg.data.sample_rate,
        normalize=cfg.data.normalize,
        encoder=model.encoders["audio"],
        label_regex=cfg.data.label_regex,
    )
    digits, _ = encode_labels(data.row_labels(DIGIT_KEY))
    speakers, _ = encode_labels(data.row_labels(SPEAKER_KEY))
    t0 = time.perf_counter()
    feats = {
        "cpc": embed_rows(model, "audio", data.rows).context,
        "random": embed_rows(random_model(cfg, seed), "audio", data.rows).context,
    }
    if inputs:
        feats["mfcc"] = input_features("mfcc", data.rows, cfg.data.sample_rate)
    out: dict[str, Any] = {
        "run": str(run),
        "n_clips": len(digits),
        "classifier": classifier,
        "rows": {},
    }
    for name, x in feats.items():
        out["rows"][name] = {"loso_digit": loso(x, digits, speakers, classifier)}
        if with_speaker:
            out["rows"][name]["speaker_5fold"] = speaker_probe(x, speakers, classifier)
    out["probe_seconds"] = round(time.perf_counter() - t0, 1)
    return out


def print_table(result: dict[str, Any]) -> None:
    rows = result["rows"]
    print(f"{'features':<16}{'LOSO digit':>12}   {'per speaker':<30}{'speaker 5-fold':>15}")
    for name, label in (
        ("cpc", "CPC context"),
        ("random", "random weights"),
        ("mfcc", "MFCC stats"),
    ):
        r = rows[name]
        folds = " ".join(f"{f:.3f}" for f in r["loso_digit"]["folds"])
        print(
            f"{label:<16}{r['loso_digit']['mean']:>12.3f}   {folds:<30}{r['speaker_5fold']:>15.3f}"
        )
    cpc = rows["cpc"]["loso_digit"]["mean"]
    print(
        f"CPC - random weights: {cpc - rows['random']['loso_digit']['mean']:+.3f}   "
        f"CPC - MFCC: {cpc - rows['mfcc']['loso_digit']['mean']:+.3f}"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--run", help="a run folder holding cpc_model.pth")
    p.add_argument("--config", help="train this config first (with --steps and --out)")
    p.add_argument("--steps", type=int, default=400, help="optimizer steps when training")
    p.add_argument("--out", help="run folder to train into")
    p.add_argument("--root", help="audio folder to probe (default: the run's data.audio_root)")
    p.add_argument("--json", help="write the figures here")
    p.add_argument(
        "--classifier",
        default="linear",
        choices=("linear", "linear-cv"),
        help="probe: linear (C = 1) or linear-cv (C by 5-fold CV on the training side; "
        "about 45 times the fits)",
    )
    p.add_argument("overrides", nargs="*", help="section.key=value for the trained config")
    args = p.parse_args(argv)
    train_seconds = None
    if args.config:
        if not args.out:
            p.error("--config needs --out")
        train_seconds = train_run(args.config, args.overrides, args.steps, args.out)
        run = args.out
    elif args.run:
        if args.overrides:
            p.error("overrides apply only when training (--config)")
        run = args.run
    else:
        p.error("give --run or --config")
    result = measure(run, args.root, classifier=args.classifier)
    result["steps"] = args.steps if args.config else None
    result["overrides"] = args.overrides
    result["train_seconds"] = None if train_seconds is None else round(train_seconds, 1)
    print_table(result)
    if train_seconds is not None:
        print(f"training: {args.steps} steps in {train_seconds / 60:.1f} min")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
