"""``cpckit train``: train CPC as configured and evaluate it; the config flags it shares.

The named flags (:data:`TRAIN_FLAGS`), ``--config`` and ``KEY=VALUE``
overrides are read the same way by ``cpckit config``, ``bench`` and
``compare`` (:func:`add_config_args`, :func:`resolve_config`).
"""

from __future__ import annotations

import argparse
from typing import Any

from cpckit.commands._common import plain_warnings

__all__ = [
    "TRAIN_FLAGS",
    "add_config_args",
    "add_parser",
    "cmd_train",
    "flag_values",
    "format_metrics",
    "placeholder",
    "resolve_config",
]

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
    "--lr": ("train.lr", "learning rate (train.optimizer: adam, adamw or sgd)"),
    "--neg-mode": (
        "negatives.mode",
        "negative samplers joined by '+', e.g. inbatch, queue, queue+synthetic",
    ),
    "--z-dim": ("model.z_dim", "latent dimension"),
    "--c-dim": ("model.c_dim", "context dimension"),
    "--context": ("model.kind", "gru | lstm | transformer"),
    "--prediction-steps": ("model.prediction_steps", "K, future steps predicted"),
    "--k": ("model.prediction_steps", "k of the TF CPC framework: the same as --prediction-steps"),
    "--N": ("negatives.n_negatives", "N of the TF CPC framework: negatives per prediction"),
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
    "--overwrite": (
        "train.overwrite",
        "replace the run already in --out-dir (without it, or --resume, that run is kept and "
        "the command refused)",
    ),
    "--checkpoint-every-n-steps": (
        "train.checkpoint_every_n_steps",
        "also checkpoint every N optimizer steps (0: at epoch ends only)",
    ),
    "--logger": ("train.logger", "tensorboard | mlflow | none"),
    "--seed": ("train.seed", "random seed"),
    "--threads": ("train.threads", "torch threads (0: default)"),
}


def _bool_keys() -> set[str]:
    from cpckit.config import Config, iter_fields

    return {key for key, tp, _, _ in iter_fields(Config) if tp is bool}


def flag_values(args: argparse.Namespace, flags: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """``{config key: value}`` of the given ``flags`` that were set on the command line."""
    from cpckit.config import parse_override

    out: dict[str, Any] = {}
    bool_keys = _bool_keys() if isinstance(getattr(args, "overrides", None), list) else set()
    for flag, (key, _) in flags.items():
        raw = getattr(args, flag.lstrip("-").replace("-", "_"), None)
        if key in bool_keys and isinstance(raw, str) and "=" in raw:
            # A bare true/false flag took the override after it (`--overwrite train.lr=1`).
            args.overrides.insert(0, raw)
            raw = "true"
        if raw is not None:
            out[key] = parse_override(f"{key}={raw}")[1]
    return out


def placeholder(key: str, tp: Any) -> str:
    """The ``--help`` placeholder of a config key: INT, FLOAT, BOOL, DIR, FILE, {a,b} or TEXT."""
    from typing import Literal, get_args, get_origin

    args = [a for a in get_args(tp) if a is not type(None)]
    if get_origin(tp) is not Literal and len(args) == 1:
        tp = args[0]  # an optional value: the placeholder of the value
    if get_origin(tp) is Literal:
        return "{" + ",".join(str(a) for a in get_args(tp)) + "}"
    names = {bool: "BOOL", int: "INT", float: "FLOAT"}
    if tp in names:
        return names[tp]
    name = key.rsplit(".", 1)[-1]
    if name.endswith(("_root", "_dir")):
        return "DIR"
    if name == "resume":
        return "FILE|auto"
    if name.endswith(("_csv", "_file")):
        return "FILE"
    return "TEXT"


def add_config_args(p: argparse.ArgumentParser, flags: dict[str, tuple[str, str]]) -> None:
    """``--config``, the named ``flags`` (help with key and default) and ``KEY=VALUE`` overrides.

    A flag of a true/false key may stand alone (``--overwrite`` is
    ``--overwrite true``).
    """
    from cpckit.config import Config, iter_fields

    fields = {key: (tp, default) for key, tp, default, _ in iter_fields(Config)}
    p.add_argument(
        "--config", metavar="FILE.yaml", help="YAML config (sections as in `cpckit config --keys`)"
    )
    for flag, (key, help_text) in flags.items():
        tp, default = fields[key]
        bare = {"nargs": "?", "const": "true"} if tp is bool else {}
        p.add_argument(
            flag,
            metavar=placeholder(key, tp),
            default=None,
            help=f"{help_text} [{key}, default: {default!s}]",
            **bare,  # type: ignore[arg-type]
        )
    p.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="set any config field, e.g. train.lr=3e-4 model.kind=lstm (see `cpckit config --keys`)",
    )


def resolve_config(args: argparse.Namespace, flags: dict[str, tuple[str, str]]) -> Any:
    """The config of ``--config``, the named ``flags`` and the overrides (in that order of weight)."""
    from cpckit.build import load_checked_config

    with plain_warnings():  # a no-effect option: one `warning:` line
        return load_checked_config(args.config, args.overrides, flag_values(args, flags))


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "train",
        help="train CPC and evaluate it (probe, geometry, t-SNE, report)",
        description="Train CPC as configured; write the run folder (config.yaml, cpc_model.pth, "
        "checkpoints/, losses.csv, training_curve.png, tsne_*.png, metrics.json, report).",
    )
    add_config_args(p, TRAIN_FLAGS)
    p.set_defaults(func=cmd_train)
    return p


def cmd_train(args: argparse.Namespace) -> int:
    from cpckit.training.process import tune_process

    tune_process()  # before torch starts its thread pool
    from cpckit.training.run import train

    cfg = resolve_config(args, TRAIN_FLAGS)
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
