"""The ``cpckit`` command line: one subcommand per module of :mod:`cpckit.commands`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cpckit import __version__
from cpckit.errors import CpckitError

__all__ = ["main"]

# Subcommands that live in their own module under cpckit.commands; each
# module has ``add_parser(subparsers)``. Listed explicitly, in --help order.
SUBCOMMAND_MODULES: list[str] = [
    "train",
    "config",
    "prepare",
    "embed",
    "evaluate",
    "finetune",
    "report",
    "compare",
    "bench",
]


def build_parser() -> argparse.ArgumentParser:
    """The ``cpckit`` parser with every subcommand."""
    return _build()[0]


def _build() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(
        prog="cpckit",
        description="Contrastive Predictive Coding: learn representations of audio, images or both, "
        "and measure what they are worth.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run `cpckit COMMAND --help` for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"cpckit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    import importlib

    commands = {
        name: importlib.import_module(f"cpckit.commands.{name}").add_parser(sub)
        for name in SUBCOMMAND_MODULES
    }
    return parser, commands


def main(argv: Sequence[str] | None = None) -> int:
    from cpckit.commands._common import parse_command_line

    parser, commands = _build()
    args = parse_command_line(parser, argv, commands)
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
