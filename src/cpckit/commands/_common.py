"""Pieces shared by the commands that read a trained model (embed, evaluate, finetune).

Arguments with the same flag, help and default in several commands, the
checks of ``--checkpoint`` and of the one data source, and the one-line
warnings these commands print.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "add_checkpoint",
    "add_label_regex",
    "add_no_progress",
    "add_out_dir",
    "add_pool",
    "at_least",
    "check_out_dir",
    "checkpoint_and_data",
    "checkpoint_path",
    "one_root",
    "parse_command_line",
    "plain_warnings",
]


def add_checkpoint(p: Any) -> None:
    """``--checkpoint PATH`` (checked by :func:`checkpoint_path`)."""
    p.add_argument(
        "--checkpoint",
        metavar="PATH",
        help="cpc_model.pth or the run folder holding it; or a folder written by "
        "save_pretrained, a shipped model (fsdd-small, cifar-small) or a Hub id owner/name",
    )


def add_label_regex(p: Any) -> None:
    """``--label-regex RE`` as evaluate and finetune take it."""
    p.add_argument(
        "--label-regex", metavar="RE", help="regex with named groups matched against file names"
    )


def add_pool(p: Any, grid: bool = True) -> None:
    """``--pool`` as evaluate (with ``grid``; default None: resolved later) and finetune take it."""
    text = "mean | max | last over time"
    if grid:
        text += ", or grid (images: the mean of each quadrant of the patch grid, concatenated)"
        p.add_argument(
            "--pool",
            default=None,
            help=f"{text} [default: mean; with --run-data the run's eval.pool]",
        )
        return
    p.add_argument("--pool", default="mean", help=f"{text} [default: mean]")


def add_no_progress(p: Any, help: str = "no progress output") -> None:
    """``--no-progress``."""
    p.add_argument("--no-progress", action="store_true", help=help)


def add_out_dir(p: Any, help: str) -> None:
    """``--out-dir DIR`` (where the command writes), then ``--no-progress``."""
    p.add_argument("--out-dir", metavar="DIR", help=help)
    add_no_progress(p)


def check_out_dir(args: argparse.Namespace) -> None:
    """``--out-dir`` of :func:`add_out_dir`, when given, can be written: checked before any work."""
    if args.out_dir is not None:
        from cpckit.paths import check_output_folder

        check_output_folder(args.out_dir, "--out-dir")


def one_root(args: argparse.Namespace, *, embeddings: bool = False) -> tuple[str, str]:
    """``(flag, value)`` of the one data source given; a one-line error otherwise."""
    from cpckit.errors import UsageError

    flags = ["--audio-root", "--image-root"] + (["--embeddings"] if embeddings else [])
    given = [(f, getattr(args, f[2:].replace("-", "_"))) for f in flags]
    given = [(f, v) for f, v in given if v is not None]
    choices = ", ".join(flags[:-1]) + " or " + flags[-1]
    if not given:
        raise UsageError(f"give the data: one of {choices}")
    if len(given) > 1:
        raise UsageError(f"give one of {choices}, not {' and '.join(f for f, _ in given)}")
    return given[0]


def checkpoint_and_data(
    args: argparse.Namespace, *, embeddings: bool = False
) -> tuple[str, str, str]:
    """``(checkpoint, flag, value)``: :func:`checkpoint_path` and :func:`one_root`."""
    return (checkpoint_path(args), *one_root(args, embeddings=embeddings))


def checkpoint_path(args: argparse.Namespace) -> str:
    """``--checkpoint``, checked to exist or to be a model name (one-line error otherwise)."""
    from cpckit.errors import CpckitError, UsageError
    from cpckit.model_folder import CONFIG_NAME, WEIGHTS_NAME, is_model_name

    if args.checkpoint is None:
        raise UsageError("give --checkpoint PATH: a run folder or its cpc_model.pth")
    p = Path(args.checkpoint)
    if not p.exists() and is_model_name(str(args.checkpoint)):
        return str(args.checkpoint)  # a shipped name or a Hub id: from_pretrained resolves it
    saved = [p / n for n in ("cpc_model.pth", CONFIG_NAME, WEIGHTS_NAME)]
    if not p.exists() or (p.is_dir() and not any(f.is_file() for f in saved)):
        raise CpckitError(
            f"--checkpoint {args.checkpoint}: no saved model there (expected a run folder "
            "holding cpc_model.pth, or the file itself, or a folder written by save_pretrained)"
        )
    return str(p)


@contextlib.contextmanager
def plain_warnings() -> Iterator[None]:
    """Show warnings as one ``warning: ...`` line on stderr (no source line).

    Also a decorator: ``@plain_warnings()`` over a command's function.
    """

    def show(
        message: Any, category: Any, filename: Any, lineno: Any, file: Any = None, line: Any = None
    ) -> None:
        print(f"warning: {message}", file=sys.stderr, flush=True)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def _is_override(text: str) -> bool:
    return "=" in text and not text.startswith("-")


def parse_command_line(
    parser: argparse.ArgumentParser,
    argv: Any,
    commands: dict[str, argparse.ArgumentParser] | None = None,
) -> argparse.Namespace:
    """Parse ``argv``, taking ``KEY=VALUE`` overrides anywhere on the line.

    argparse gives a ``nargs="*"`` positional only its first run of words:
    ``--seed 3 train.lr=1e-3 --epochs 2 model.kind=lstm`` would leave
    ``model.kind=lstm`` unrecognised. The words it leaves over that look
    like overrides join ``args.overrides`` in their order; anything else is
    the usual usage error of the command (``commands``: subcommand name ->
    its parser) with exit status 2.
    """
    args, extra = parser.parse_known_args(argv)
    if not extra:
        return args
    target = (commands or {}).get(getattr(args, "command", None) or "", parser)
    takes_overrides = isinstance(getattr(args, "overrides", None), list)
    bad = [a for a in extra if not (takes_overrides and _is_override(a))]
    if bad:
        target.error(f"unrecognized arguments: {' '.join(bad)}")
    args.overrides = [*args.overrides, *extra]
    return args


def at_least(low: int) -> Any:
    """An argparse ``type``: an integer >= ``low``, else the flag's own usage error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an integer >= {low}, got {text!r}"
            ) from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {value}")
        return value

    parse.__name__ = "INT"  # argparse names the type in its messages
    return parse
