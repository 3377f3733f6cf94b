"""``cpckit config``: the config `cpckit train` would use, or every key with its help."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "cmd_config"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from cpckit.commands.train import TRAIN_FLAGS, add_config_args

    p: argparse.ArgumentParser = subparsers.add_parser(
        "config",
        help="print the resolved config, or every key with its help",
        description="Print the config that `cpckit train` would use with these arguments.",
    )
    p.add_argument(
        "--keys", action="store_true", help="list every config key with its default and help"
    )
    add_config_args(p, TRAIN_FLAGS)
    p.set_defaults(func=cmd_config)
    return p


def cmd_config(args: argparse.Namespace) -> int:
    import yaml

    from cpckit.commands.train import TRAIN_FLAGS, resolve_config
    from cpckit.config import Config, config_to_dict, iter_fields

    if args.keys:
        for key, _tp, default, help_text in iter_fields(Config):
            print(f"{key} = {default!r}\n    {help_text}")
        return 0
    cfg = resolve_config(args, TRAIN_FLAGS)
    print(yaml.safe_dump(config_to_dict(cfg), sort_keys=False), end="")
    return 0
