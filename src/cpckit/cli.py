"""The ``cpckit`` command line: one subcommand per module of :mod:`cpckit.commands`."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence

from cpckit import __version__
from cpckit.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_PIPE, CpckitError

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
    import importlib

    from cpckit.commands._completion import add_completion_flag

    add_completion_flag(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    commands = {
        name: importlib.import_module(f"cpckit.commands.{name}").add_parser(sub)
        for name in SUBCOMMAND_MODULES
    }
    return parser, commands


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``cpckit ARGV``; the exit status (docs/cli.md has the table).

    0: done. 1: the run failed (a :class:`~cpckit.errors.CpckitError`, one
    ``error:`` line; or a traceback, a bug). 2: a usage error (argparse's own,
    or a :class:`~cpckit.errors.UsageError`). 130: Ctrl-C or SIGTERM. 141:
    the reader of stdout closed it.
    """
    try:
        try:
            return _dispatch(argv)
        finally:
            # What is still buffered is written here, so a reader that has gone
            # shows as BrokenPipeError below, not at the interpreter's exit.
            sys.stdout.flush()
    except BrokenPipeError:
        return _reader_gone()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED


def _dispatch(argv: Sequence[str] | None) -> int:
    from cpckit.commands._common import parse_command_line

    parser, commands = _build()
    args = parse_command_line(parser, argv, commands)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return EXIT_OK
    try:
        return int(args.func(args) or EXIT_OK)
    except CpckitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


def _reader_gone() -> int:
    """stdout's reader closed the pipe (``| head``): end quietly with status 141.

    As the Python docs' recipe for SIGPIPE, stdout is pointed at /dev/null,
    so the interpreter's final flush cannot fail again (Python would print
    "Exception ignored ... BrokenPipeError" and exit 120). The status is not
    the recipe's 1: 1 means the run failed, and nothing failed here; 0 would
    claim the output was delivered whole. 141 (128 + SIGPIPE) is what a shell
    reports for any Unix tool stopped the same way (``seq 100000 | head -1``),
    so scripts treat cpckit like those. Python ignores SIGPIPE, and cpckit
    does not restore the default (which would end the process at once with
    141): that would also kill a training run writing to a closed socket,
    before its manifest and lock are put in order.
    """
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return EXIT_PIPE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
