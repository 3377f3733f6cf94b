"""The files of a folder: found recursively (hidden ones left out), and named in messages."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

__all__ = ["list_examples", "walk_files"]

_LISTED = 5


def walk_files(root: str | os.PathLike[str], extensions: Sequence[str]) -> list[str]:
    """Relative ``/``-separated paths of the files under ``root`` with one of ``extensions``, sorted.

    The search is recursive; extensions (without the dot) match
    case-insensitively; hidden files and folders (names starting with ``.``)
    are ignored. ``root`` must be a folder.
    """
    base = Path(root)
    suffixes = tuple("." + e.lower() for e in extensions)
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        rel_dir = Path(dirpath).relative_to(base)
        for name in filenames:
            if not name.startswith(".") and name.lower().endswith(suffixes):
                found.append((rel_dir / name).as_posix())
    return sorted(found)


def list_examples(names: Sequence[str]) -> str:
    """The first few names, comma-separated, and how many more there are."""
    shown = ", ".join(names[:_LISTED])
    return shown + (f", ... ({len(names) - _LISTED} more)" if len(names) > _LISTED else "")
