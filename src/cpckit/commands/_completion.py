"""``cpckit --print-completion bash|zsh``: a shell completion script made from the parsers.

The script (written by ``shtab`` from the argparse parsers, so it always
matches them) completes the subcommands, each one's flags, the values of the
flags whose ``--help`` placeholder lists them (``{gru,lstm,transformer}``,
``BOOL``), folders for the ``DIR`` placeholders and files for ``FILE``,
``FILE.yaml``, ``PATH`` and the like.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from typing import Any

__all__ = ["SHELLS", "add_completion_flag", "completion_script"]

SHELLS = ("bash", "zsh")
"""The shells a script is printed for (``--print-completion`` rejects any other)."""

_DIR = {"bash": "_shtab_compgen_dirs", "zsh": "_files -/"}
_FILE = {"bash": "_shtab_compgen_files", "zsh": "_files"}


def _words(items: Sequence[str]) -> dict[str, Any]:
    """A completion of fixed ``items`` in both shells (a bash function, a zsh value list)."""
    name = "_cpckit_words_" + re.sub(r"\W", "_", "_".join(items))
    listed = " ".join(items)
    return {
        "bash": name,
        "zsh": f"({listed})",
        "preamble": {"bash": f'{name}() {{\n  compgen -W "{listed}" -- "$1"\n}}\n'},
    }


def _completion_of(metavar: Any) -> dict[str, Any] | None:
    """What completes a value with this ``--help`` placeholder, or None (nothing offered)."""
    if not isinstance(metavar, str):
        return None
    if metavar.endswith("DIR"):  # DIR, RUN_DIR
        return _DIR
    if metavar.startswith(("FILE", "PATH")) or re.fullmatch(r"[A-Z_]+\.[a-z]+", metavar):
        return _FILE  # FILE, FILE.yaml, FILE|auto, PATH, ALIGNMENTS.txt
    if metavar == "BOOL":
        return _words(["true", "false"])
    if re.fullmatch(r"\{[^{}]+\}", metavar):
        return _words(metavar[1:-1].split(","))
    return None


def _mark(parser: argparse.ArgumentParser) -> None:
    """Give every action of ``parser`` and its subcommands the completion of its placeholder."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):  # aliases share a parser
                _mark(sub)
            continue
        if action.choices is None and getattr(action, "complete", None) is None:
            found = _completion_of(action.metavar)
            if found is not None:
                action.complete = found  # type: ignore[attr-defined]


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script of ``parser`` (the whole ``cpckit`` parser) for ``shell``."""
    import shtab

    _mark(parser)
    script: str = shtab.complete(parser, shell=shell)
    return script


class _PrintCompletion(argparse.Action):
    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        print(completion_script(parser, str(values)), end="")
        parser.exit(0)


def add_completion_flag(parser: argparse.ArgumentParser) -> None:
    """``--print-completion SHELL`` on the top-level parser: print the script and exit 0."""
    parser.add_argument(
        "--print-completion",
        choices=SHELLS,
        metavar="{" + ",".join(SHELLS) + "}",
        action=_PrintCompletion,
        help="print a completion script for the shell and exit, e.g. "
        "`cpckit --print-completion bash > ~/.local/share/bash-completion/completions/cpckit`",
    )
