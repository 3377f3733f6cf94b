"""Checks of the paths a command reads and writes, run before any work starts.

A typo in an output folder should cost seconds, not the minutes a corpus
takes to load before the first write fails with a traceback. Each check
raises a one-line :class:`~cpckit.errors.CpckitError` naming the key or
flag, the path and what is wrong with it.
"""

from __future__ import annotations

import os
from pathlib import Path

from cpckit.errors import CpckitError

__all__ = [
    "check_input_file",
    "check_input_folder",
    "check_output_file",
    "check_output_folder",
    "folder_problem",
]


def folder_problem(path: str | Path) -> tuple[str, Path] | None:
    """Why ``path`` cannot be a folder this process writes into, or None when it can be.

    ``("file", path)``: it is a file; ``("under_file", f)``: the file ``f`` is
    where a parent folder should be; ``("unwritable", d)``: ``d``, the
    nearest existing folder, gives no write permission. Each command words
    the message for its own flag.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        return "file", p
    probe = p
    while not probe.exists():  # ends at '.' or '/', which exist
        probe = probe.parent
    if not probe.is_dir():
        return "under_file", probe
    if not os.access(probe, os.W_OK | os.X_OK):
        return "unwritable", probe
    return None


def check_output_folder(path: str | Path, what: str) -> None:
    """``path`` is a folder this process can write into, or one it can create."""
    p = Path(path)
    problem = folder_problem(p)
    if problem is None:
        return
    kind, where = problem
    if kind == "file":
        raise CpckitError(f"{what} {str(p)!r} is a file, not a folder: give a folder path")
    if kind == "under_file":
        raise CpckitError(f"{what} {str(p)!r} cannot be made: {str(where)!r} is a file")
    raise CpckitError(f"{what} {str(p)!r} is not writable: no write permission in {str(where)!r}")


def check_output_file(path: str | Path, what: str) -> None:
    """``path`` is a file this process can write (its folder is made if missing)."""
    p = Path(path)
    if p.is_dir():
        raise CpckitError(f"{what} {str(p)!r} is a folder: give a file path")
    if p.exists() and not os.access(p, os.W_OK):
        raise CpckitError(f"{what} {str(p)!r} is not writable: no write permission on the file")
    check_output_folder(p.parent, f"the folder of {what}")


def check_input_folder(path: str | Path, what: str) -> None:
    """``path`` is an existing folder."""
    p = Path(path)
    if not p.exists():
        raise CpckitError(f"{what} {str(p)!r} does not exist")
    if not p.is_dir():
        raise CpckitError(f"{what} {str(p)!r} is a file, not a folder")


def check_input_file(path: str | Path, what: str) -> None:
    """``path`` is an existing file."""
    p = Path(path)
    if not p.exists():
        raise CpckitError(f"{what} {str(p)!r} does not exist")
    if p.is_dir():
        raise CpckitError(f"{what} {str(p)!r} is a folder, not a file")
