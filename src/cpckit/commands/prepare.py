"""``cpckit prepare``: download a public dataset and lay it out for training."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "cmd_prepare"]

DATASETS = ("fsdd", "librispeech", "cifar10")

# What to train on each dataset once it is ready.
_NEXT = {
    "fsdd": "cpckit train --config configs/fsdd.yaml --audio-root {path}",
    "librispeech": "cpckit train --config configs/librispeech.yaml --audio-root {path}/<subset>",
    "cifar10": "cpckit train --modality image --use-mock-data false --image-root {path}",
}


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "prepare",
        help="download a public dataset (FSDD, LibriSpeech, CIFAR-10) and lay it out",
        description="Download a public dataset into --root, check its checksum, extract it "
        "and lay it out for `cpckit train`. A broken download resumes where it stopped, "
        "and finished steps are not repeated. Without internet, put the archive in "
        "ROOT/downloads/ (CIFAR-10's in ROOT/cifar10_raw/downloads/) and run the same command.",
        epilog="examples:\n"
        "  cpckit prepare fsdd --root data/fsdd\n"
        "  cpckit prepare librispeech --root data --subsets dev-clean,train-clean-100\n"
        "  cpckit prepare cifar10                 # data/images/class0, class1: 2000 each\n"
        "  cpckit prepare cifar10 --root data/cifar --classes cat,dog --max-per-class 500",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("dataset", choices=DATASETS, help="the dataset to prepare")
    p.add_argument(
        "--root", type=Path, default=Path("data"), help="folder to put it in [default: data]"
    )
    p.add_argument(
        "--subsets",
        metavar="A,B",
        help="librispeech: comma-separated subsets, e.g. dev-clean,train-clean-100 "
        "[default: train-clean-100]",
    )
    p.add_argument(
        "--classes",
        metavar="A,B",
        help="cifar10: comma-separated labels 0-9 or class names, e.g. 0,1 or cat,dog; "
        "written to images/class<label>/ [default: 0,1 (airplane, automobile)]",
    )
    p.add_argument(
        "--max-per-class",
        metavar="N",
        help="cifar10: at most N training images per class (5000: all) [default: 2000]",
    )
    p.add_argument(
        "--max-test-per-class",
        metavar="N",
        help="cifar10: at most N test images per class [default: all]",
    )
    p.add_argument(
        "--no-test",
        action="store_true",
        help="cifar10: do not write the test images (images_test/)",
    )
    p.add_argument("--release", metavar="V", help="fsdd: the release to download [default: 1.0.9]")
    p.add_argument(
        "--base-url",
        metavar="URL",
        help="download from this mirror instead of the dataset's own site",
    )
    p.add_argument(
        "--keep-archive", action="store_true", help="keep the downloaded archive after extraction"
    )
    p.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bars [default: shown when stderr is a terminal]",
    )
    p.set_defaults(func=cmd_prepare)
    return p


# Flags that only one dataset takes: flag -> (dataset, option of cpckit.data.prepare).
_ONLY_FOR = {
    "--subsets": ("librispeech", "subsets"),
    "--classes": ("cifar10", "classes"),
    "--max-per-class": ("cifar10", "max_per_class"),
    "--max-test-per-class": ("cifar10", "max_test_per_class"),
    "--no-test": ("cifar10", "test"),
    "--release": ("fsdd", "version"),
}


def _count(flag: str, value: str | None) -> int | None:
    from cpckit.errors import ConfigError

    if value is None:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{flag} = {value!r} is not valid: expected a whole number >= 1")
    return int(value)


def _classes(value: str) -> list[int]:
    """``--classes`` as labels, checked here so that a bad one is named by its flag."""
    from cpckit.data.cifar10 import class_labels

    return class_labels([v for v in value.split(",") if v.strip()], "--classes")


def cmd_prepare(args: argparse.Namespace) -> int:
    from cpckit.data.prepare import prepare_main
    from cpckit.errors import ConfigError

    given: dict[str, Any] = {
        "--subsets": args.subsets,
        "--classes": args.classes,
        "--max-per-class": _count("--max-per-class", args.max_per_class),
        "--max-test-per-class": _count("--max-test-per-class", args.max_test_per_class),
        "--no-test": False if args.no_test else None,
        "--release": args.release,
    }
    options: dict[str, Any] = {}
    for flag, value in given.items():
        if value is None:
            continue
        dataset, option = _ONLY_FOR[flag]
        if dataset != args.dataset:
            raise ConfigError(
                f"{flag} is an option of `cpckit prepare {dataset}`, not {args.dataset}"
            )
        options[option] = _classes(value) if flag == "--classes" else value
    options["base_url"] = args.base_url
    options["keep_archive"] = True if args.keep_archive else None
    options["progress"] = sys.stderr.isatty() and not args.no_progress
    path = prepare_main(args.dataset, args.root, **options)
    print("next: " + _NEXT[args.dataset].format(path=path))
    return 0
