"""``cpckit finetune``: train encoder + context + a linear head on labelled files."""

from __future__ import annotations

import argparse
from typing import Any

from cpckit.commands._common import (
    add_checkpoint,
    add_label_regex,
    add_out_dir,
    add_pool,
    check_out_dir,
    checkpoint_and_data,
    plain_warnings,
)

__all__ = ["add_parser", "cmd_finetune"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "finetune",
        help="fine-tune a trained model end to end as a classifier (or train it from scratch)",
        description="Put a linear head on the time-pooled context of a trained model and train "
        "encoder, context model and head with cross-entropy (Adam) on labelled files; report "
        "train and test accuracy and write the fine-tuned model (cpc_model.pth, readable by "
        "cpckit.load, with the head under 'classifier') and finetune.json.",
        epilog="examples:\n"
        "  cpckit finetune --checkpoint outputs_audio --audio-root data/fsdd \\\n"
        "      --label-regex '(?P<digit>\\d)_(?P<speaker>[a-z]+)_\\d+\\.wav' --label-key digit\n"
        "  cpckit finetune --checkpoint outputs_image --image-root data/cifar/images "
        "--test-root data/cifar/images_test --epochs 3\n"
        "  cpckit finetune ... --from-scratch     # the supervised baseline",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_checkpoint(p)
    p.add_argument("--audio-root", metavar="DIR", help="folder of labelled audio files")
    p.add_argument("--image-root", metavar="DIR", help="folder of images (class subfolders)")
    add_label_regex(p)
    p.add_argument(
        "--label-key",
        metavar="K",
        help="the label to learn: a --label-regex group, or 'folder' [default for images: folder]",
    )
    p.add_argument("--test-root", metavar="DIR", help="held-out folder to test on (a fixed split)")
    p.add_argument(
        "--test-fraction",
        type=float,
        default=0.2,
        metavar="F",
        help="without --test-root: seeded stratified share of the files held out (0: none) "
        "[default: 0.2]",
    )
    p.add_argument(
        "--epochs", type=int, default=5, help="passes over the training files [default: 5]"
    )
    p.add_argument(
        "--lr", type=float, default=1e-3, help="Adam learning rate of the head [default: 1e-3]"
    )
    p.add_argument(
        "--encoder-lr",
        type=float,
        metavar="LR",
        help="learning rate of the encoder and context model (0: frozen) "
        "[default: lr / 10; lr with --from-scratch]",
    )
    p.add_argument(
        "--batch-size", type=int, default=16, metavar="N", help="files per step [default: 16]"
    )
    p.add_argument(
        "--window-seconds",
        type=float,
        metavar="S",
        help="audio: train on random windows of S seconds [default: whole clips]",
    )
    add_pool(p, grid=False)
    p.add_argument(
        "--from-scratch",
        action="store_true",
        help="start from random weights (the supervised baseline) instead of the CPC weights",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the split, head and order [default: 0]"
    )
    add_out_dir(p, "where to write [default: RUN/finetune, or RUN/supervised with --from-scratch]")
    p.set_defaults(func=cmd_finetune)
    return p


@plain_warnings()
def cmd_finetune(args: argparse.Namespace) -> int:
    from cpckit.errors import UsageError
    from cpckit.evaluation.finetune import finetune_checkpoint

    ckpt, flag, root = checkpoint_and_data(args)
    modality = "audio" if flag == "--audio-root" else "image"
    if args.pool not in ("mean", "max", "last"):
        raise UsageError(f"--pool {args.pool!r} is unknown; valid: mean, max, last")
    label_key = args.label_key
    if label_key is None and modality == "image" and args.label_regex is None:
        label_key = "folder"
    if args.label_regex is not None and label_key is None:
        raise UsageError("--label-regex needs --label-key, the regex group to learn")
    check_out_dir(args)
    s = finetune_checkpoint(
        ckpt,
        root,
        modality,
        label_key=label_key,
        label_regex=args.label_regex,
        test_root=args.test_root,
        test_fraction=args.test_fraction,
        epochs=args.epochs,
        lr=args.lr,
        encoder_lr=args.encoder_lr,
        batch_size=args.batch_size,
        window_seconds=args.window_seconds,
        pool=args.pool,
        from_scratch=args.from_scratch,
        seed=args.seed,
        out_dir=args.out_dir,
        progress=not args.no_progress,
    )
    what = "trained from scratch" if s["from_scratch"] else "fine-tuned"
    test = "n/a" if s["test_accuracy"] is None else f"{s['test_accuracy']:.4f}"
    for h in s["history"]:
        print(f"epoch {h['epoch']}: loss {h['loss']:.4f}  accuracy {h['accuracy']:.4f}")
    print(
        f"{what}: {s['label_key']} ({len(s['label_names'])} classes), "
        f"train accuracy {s['train_accuracy']:.4f} (n={s['n_train']}), "
        f"test accuracy {test} (n={s['n_test']})"
    )
    print(f"wrote {s['model']} and {s['json']}")
    return 0
