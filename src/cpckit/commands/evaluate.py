"""``cpckit evaluate``: probes, baselines, geometry and t-SNE of a checkpoint on a dataset."""

from __future__ import annotations

import argparse
from typing import Any

from cpckit.commands._common import (
    add_checkpoint,
    add_label_regex,
    add_out_dir,
    add_pool,
    check_out_dir,
    checkpoint_path,
    one_root,
    plain_warnings,
)

__all__ = ["add_parser", "cmd_evaluate"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "evaluate",
        help="linear/MLP probes with baselines, alignment/uniformity and t-SNE on a dataset",
        description="Fit probes (standardised features, logistic regression; or a one-hidden-"
        "layer MLP) on the pooled context and latent vectors of a checkpoint, and on the same "
        "splits on each baseline: random weights, MFCC statistics or raw pixels, the same "
        "architecture trained supervised from scratch, and fine-tuned from the CPC weights. "
        "Reports train and test accuracy per row, alignment and uniformity, and a t-SNE map; "
        "writes evaluation.json and evaluation.md into --out-dir and prints the table.",
        epilog="examples:\n"
        "  cpckit evaluate --checkpoint outputs_audio --audio-root data/fsdd \\\n"
        "      --label-regex '(?P<digit>\\d)_(?P<speaker>[a-z]+)_\\d+\\.wav' --label-key digit \\\n"
        "      --protocol group --group-key speaker --baselines random,mfcc,supervised,finetune\n"
        "  cpckit evaluate --checkpoint outputs_image --image-root data/cifar/images "
        "--test-root data/cifar/images_test\n"
        "  cpckit evaluate --checkpoint outputs_audio --run-data   # metrics.json's rows again\n"
        "  cpckit evaluate --checkpoint run --embeddings emb.npz --label-key speaker "
        "--protocol kfold\n"
        "  cpckit evaluate --checkpoint run --embeddings emb.npz --label-key digit "
        "--protocol logo --group-key speaker\n"
        "  cpckit evaluate --checkpoint run --audio-root LibriSpeech/dev-clean "
        "--frame-labels alignments.txt",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_checkpoint(p)
    src = p.add_argument_group("data (exactly one)")
    src.add_argument("--audio-root", metavar="DIR", help="folder of audio files (recursive)")
    src.add_argument("--image-root", metavar="DIR", help="folder of images (class subfolders)")
    src.add_argument(
        "--embeddings",
        metavar="FILE.npz",
        help="a `cpckit embed` table (baselines re-read the folder it records)",
    )
    src.add_argument(
        "--run-data",
        action="store_true",
        help="the run's own data and probe split, rebuilt from its config: the rows of its "
        "metrics.json, reproduced (classifier, pool and seed default to the run's)",
    )
    lab = p.add_argument_group("labels")
    add_label_regex(lab)
    lab.add_argument(
        "--label-key",
        metavar="K",
        help="the label to probe: a regex group, 'folder', or a label array of --embeddings "
        "[default for images: folder]",
    )
    lab.add_argument(
        "--group-key", metavar="G", help="groups for --protocol group and logo (e.g. speaker)"
    )
    lab.add_argument(
        "--frame-labels",
        metavar="ALIGNMENTS.txt",
        help="frame-level probe: one line per utterance, its id (file name without extension) "
        "then one label per 10 ms frame",
    )
    pro = p.add_argument_group("protocol")
    pro.add_argument(
        "--protocol",
        default="split",
        help="split (--test-root, or a seeded ratio split) | kfold | fraction (fit on "
        "--fit-fraction, test on the rest) | group (test on unseen groups) | logo (leave one "
        "group out: each --group-key group held out in turn, mean and std over the folds) "
        "[default: split]",
    )
    pro.add_argument("--test-root", metavar="DIR", help="held-out folder: a fixed train/test split")
    pro.add_argument(
        "--test-embeddings", metavar="FILE.npz", help="held-out table, with --embeddings"
    )
    pro.add_argument(
        "--test-fraction",
        type=float,
        default=0.2,
        metavar="F",
        help="held-out share of the rows (split) or of the groups (group) [default: 0.2]",
    )
    pro.add_argument("--folds", type=int, default=5, help="k of kfold [default: 5]")
    pro.add_argument(
        "--fit-fraction",
        type=float,
        default=0.1,
        metavar="F",
        help="share fitted on by the fraction protocol [default: 0.1]",
    )
    pro.add_argument(
        "--classifier",
        default=None,
        help="linear | linear-cv (C by 5-fold CV on the training rows) | mlp "
        "[default: linear; with --run-data the run's eval.classifier]",
    )
    pro.add_argument(
        "--max-frames",
        type=int,
        default=20000,
        metavar="N",
        help="frame-level probes: at most N frames per side (seeded subsample) [default: 20000]",
    )
    pro.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of splits, models, classifiers [default: 0; with --run-data the run's "
        "train.seed]",
    )
    base = p.add_argument_group("baselines")
    base.add_argument(
        "--baselines",
        metavar="A,B",
        help="comma-separated: random, mfcc (audio), pixels (images), supervised, finetune; or "
        "none [default: random and mfcc/pixels; none with --embeddings]",
    )
    base.add_argument(
        "--finetune-epochs", type=int, default=5, help="supervised/finetune epochs [default: 5]"
    )
    base.add_argument(
        "--finetune-lr",
        type=float,
        default=1e-3,
        metavar="LR",
        help="supervised/finetune learning rate (the fine-tuned encoder uses LR / 10) [default: 1e-3]",
    )
    base.add_argument(
        "--finetune-batch-size", type=int, default=16, metavar="N", help="[default: 16]"
    )
    base.add_argument(
        "--finetune-window-seconds",
        type=float,
        metavar="S",
        help="audio: train the end-to-end baselines on random windows of S seconds [default: whole clips]",
    )
    out = p.add_argument_group("output")
    add_pool(out)
    out.add_argument(
        "--batch-size",
        type=int,
        default=32,
        metavar="N",
        help="files per embedding batch [default: 32]",
    )
    out.add_argument("--no-geometry", action="store_true", help="skip alignment and uniformity")
    out.add_argument("--no-tsne", action="store_true", help="skip the t-SNE map")
    add_out_dir(
        out,
        "where evaluation.json/.md and tsne_eval_*.png go [default: the checkpoint's run folder]",
    )
    p.set_defaults(func=cmd_evaluate)
    return p


@plain_warnings()
def cmd_evaluate(args: argparse.Namespace) -> int:
    from cpckit.evaluation.protocols import EvaluateOptions, evaluate_checkpoint, markdown_tables

    ckpt = checkpoint_path(args)
    flag, value = ("", None) if args.run_data else one_root(args, embeddings=True)
    opts = EvaluateOptions(
        protocol=args.protocol,
        classifier="linear" if args.classifier is None else args.classifier,
        label_regex=args.label_regex,
        label_key=args.label_key,
        group_key=args.group_key,
        baselines=None if args.baselines is None else args.baselines.split(","),
        frame_labels=args.frame_labels,
        test_fraction=args.test_fraction,
        folds=args.folds,
        fit_fraction=args.fit_fraction,
        seed=0 if args.seed is None else args.seed,
        max_frames=args.max_frames,
        pool="mean" if args.pool is None else args.pool,
        batch_size=args.batch_size,
        finetune_epochs=args.finetune_epochs,
        finetune_lr=args.finetune_lr,
        finetune_batch_size=args.finetune_batch_size,
        finetune_window_seconds=args.finetune_window_seconds,
        geometry=not args.no_geometry,
        tsne=not args.no_tsne,
        progress=not args.no_progress,
        run_defaults=tuple(k for k in ("seed", "classifier", "pool") if getattr(args, k) is None),
    )
    check_out_dir(args)
    result = evaluate_checkpoint(
        ckpt,
        audio_root=value if flag == "--audio-root" else None,
        image_root=value if flag == "--image-root" else None,
        embeddings=value if flag == "--embeddings" else None,
        test_root=args.test_root,
        test_embeddings=args.test_embeddings,
        out_dir=args.out_dir,
        options=opts,
        run_data=args.run_data,
    )
    print(markdown_tables(result))
    print(f"wrote {result['paths']['json']} and {result['paths']['markdown']}")
    for fig in result["figures"]:
        print(f"figure: {fig}")
    return 0
