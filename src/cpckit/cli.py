"""The ``cpckit`` command line: train | config (and more subcommands as registered)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from cpckit import __version__
from cpckit.errors import CpckitError

__all__ = ["main"]

# CLI flag -> (config key, help). Values are read like ``key=value`` overrides,
# so a flag and an override are checked by the same schema.
TRAIN_FLAGS: dict[str, tuple[str, str]] = {
    "--modality": ("data.modality", "audio | image | multimodal"),
    "--use-mock-data": (
        "data.use_mock_data",
        "true: built-in synthetic data; false: read --audio-root / --image-root",
    ),
    "--audio-root": ("data.audio_root", "folder of wav/flac/ogg files (recursive)"),
    "--image-root": ("data.image_root", "folder of images, one subfolder per class"),
    "--pairs-csv": ("data.pairs_csv", "CSV of audio,image[,label] paths for multimodal data"),
    "--out-dir": ("train.out_dir", "run folder"),
    "--epochs": ("train.epochs", "training epochs"),
    "--max-steps": ("train.max_steps", "stop after N optimizer steps"),
    "--batch-size": ("train.batch_size", "examples per batch and device"),
    "--lr": ("train.lr", "Adam learning rate"),
    "--neg-mode": (
        "negatives.mode",
        "negative samplers joined by '+', e.g. inbatch, queue, queue+synthetic",
    ),
    "--z-dim": ("model.z_dim", "latent dimension"),
    "--c-dim": ("model.c_dim", "context dimension"),
    "--context": ("model.kind", "gru | lstm | transformer"),
    "--prediction-steps": ("model.prediction_steps", "K, future steps predicted"),
    "--queue-size": ("negatives.queue_size", "latents kept in the queue of negatives"),
    "--devices": ("train.devices", "devices (processes) per node; DDP when > 1"),
    "--num-nodes": ("train.num_nodes", "nodes for multi-node DDP"),
    "--strategy": ("train.strategy", "Lightning strategy (auto, ddp, ddp_spawn, ...)"),
    "--accelerator": ("train.accelerator", "cpu | gpu | auto"),
    "--precision": ("train.precision", "32 | 16-mixed | bf16-mixed"),
    "--accumulate-grad-batches": ("train.accumulate_grad_batches", "batches per optimizer step"),
    "--resume": (
        "train.resume",
        "checkpoint path, or 'auto' for the newest valid one in the run folder",
    ),
    "--checkpoint-every-n-steps": (
        "train.checkpoint_every_n_steps",
        "also checkpoint every N optimizer steps (0: at epoch ends only)",
    ),
    "--logger": ("train.logger", "tensorboard | mlflow | none"),
    "--seed": ("train.seed", "random seed"),
    "--threads": ("train.threads", "torch threads (0: default)"),
}


def _flag_values(args: argparse.Namespace, flags: dict[str, tuple[str, str]]) -> dict[str, Any]:
    from cpckit.config import parse_override

    out: dict[str, Any] = {}
    for flag, (key, _) in flags.items():
        raw = getattr(args, flag.lstrip("-").replace("-", "_"), None)
        if raw is not None:
            out[key] = parse_override(f"{key}={raw}")[1]
    return out


def _add_config_args(p: argparse.ArgumentParser, flags: dict[str, tuple[str, str]]) -> None:
    from cpckit.config import Config, iter_fields

    defaults = {key: default for key, _, default, _ in iter_fields(Config)}
    p.add_argument(
        "--config", metavar="FILE.yaml", help="YAML config (sections as in `cpckit config --keys`)"
    )
    for flag, (key, help_text) in flags.items():
        p.add_argument(
            flag,
            metavar="VALUE",
            default=None,
            help=f"{help_text} [{key}, default: {defaults.get(key)!s}]",
        )
    p.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="set any config field, e.g. train.lr=3e-4 model.kind=lstm (see `cpckit config --keys`)",
    )


def _resolve(args: argparse.Namespace, flags: dict[str, tuple[str, str]]) -> Any:
    from cpckit.build import load_checked_config

    return load_checked_config(args.config, args.overrides, _flag_values(args, flags))


def cmd_train(args: argparse.Namespace) -> int:
    from cpckit.training.process import tune_process

    tune_process()  # before torch starts its thread pool
    from cpckit.training.run import train

    cfg = _resolve(args, TRAIN_FLAGS)
    result = train(cfg)
    if result.metrics:
        print(format_metrics(result.metrics))
        print(f"run folder: {result.out_dir}  ({result.seconds:.1f} s)")
    return 0


def format_metrics(metrics: dict[str, Any], prefix: str = "") -> str:
    """Metrics as aligned ``key: value`` lines (nested keys dotted, baselines as a table)."""
    lines: list[str] = []

    def walk(d: dict[str, Any], pre: str) -> None:
        for key, value in d.items():
            name = f"{pre}{key}"
            if isinstance(value, dict):
                walk(value, name + ".")
            elif isinstance(value, list) and value and isinstance(value[0], dict):
                lines.append(f"{name}:")
                for row in value:
                    lines.append(
                        f"  {row.get('name', ''):<24} {row.get('features', ''):<20} "
                        f"train {row.get('train_accuracy', float('nan')):.4f}  "
                        f"test {row.get('test_accuracy', float('nan')):.4f}"
                    )
            elif isinstance(value, float):
                lines.append(f"{name}: {value:.4f}")
            else:
                lines.append(f"{name}: {value}")

    walk(metrics, prefix)
    return "\n".join(lines)


def cmd_config(args: argparse.Namespace) -> int:
    import yaml

    from cpckit.config import Config, config_to_dict, iter_fields

    if args.keys:
        for key, _tp, default, help_text in iter_fields(Config):
            print(f"{key} = {default!r}\n    {help_text}")
        return 0
    cfg = _resolve(args, TRAIN_FLAGS)
    print(yaml.safe_dump(config_to_dict(cfg), sort_keys=False), end="")
    return 0


# Subcommands that live in their own module under cpckit.commands; each
# module has ``add_parser(subparsers)``. Listed explicitly, in --help order.
SUBCOMMAND_MODULES: list[str] = [
    "prepare",
    "embed",
    "evaluate",
    "finetune",
    "report",
    "compare",
    "bench",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cpckit",
        description="Contrastive Predictive Coding: learn representations of audio, images or both, "
        "and measure what they are worth.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run `cpckit COMMAND --help` for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"cpckit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "train",
        help="train CPC and evaluate it (probe, geometry, t-SNE, report)",
        description="Train CPC as configured; write the run folder (config.yaml, cpc_model.pth, "
        "checkpoints/, losses.csv, training_curve.png, tsne_*.png, metrics.json, report).",
    )
    _add_config_args(p, TRAIN_FLAGS)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "config",
        help="print the resolved config, or every key with its help",
        description="Print the config that `cpckit train` would use with these arguments.",
    )
    p.add_argument(
        "--keys", action="store_true", help="list every config key with its default and help"
    )
    _add_config_args(p, TRAIN_FLAGS)
    p.set_defaults(func=cmd_config)

    import importlib

    for name in SUBCOMMAND_MODULES:
        importlib.import_module(f"cpckit.commands.{name}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except CpckitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
