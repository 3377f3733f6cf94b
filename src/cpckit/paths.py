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

__all__ = ["check_input_file", "check_input_folder", "check_output_file", "check_output_folder"]


def _nearest_existing(p: Path) -> Path:
    probe = p.absolute()
    while not probe.exists():
        probe = probe.parent
    return probe


def check_output_folder(path: str | Path, what: str) -> None:
    """``path`` is a folder this process can write into, or one it can create."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise CpckitError(f"{what} {str(p)!r} is a file, not a folder: give a folder path")
    probe = _nearest_existing(p)
    if not probe.is_dir():
        raise CpckitError(f"{what} {str(p)!r} cannot be made: {str(probe)!r} is a file")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise CpckitError(
            f"{what} {str(p)!r} is not writable: no write permission in {str(probe)!r}"
        )


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
