"""Labels and groups from file names (a regex with named groups) or from folder names.

A label regex is matched against the whole file name (``re.fullmatch`` on the
base name, extension included), e.g. for the Free Spoken Digit Dataset
``(?P<digit>\\d)_(?P<speaker>[a-z]+)_\\d+\\.wav`` or for names like
``7seven00032.wav`` ``(?P<digit>\\d)(?P<word>[a-z]+)\\d+\\.wav``. Any named group
can be the label or the grouping key; the key ``"folder"`` stands for the name
of the file's parent folder (unless the regex has a group of that name).
Strings are mapped to contiguous ints in a stable sorted order (numeric order
when every value is an integer, so digits ``"0"``..``"9"`` map to 0..9).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import numpy as np

from cpckit.data.files import list_examples
from cpckit.errors import ConfigError, DataError, LabelPatternError

__all__ = [
    "FOLDER_KEY",
    "NAME_PATTERNS",
    "ParsedNames",
    "compile_label_regex",
    "encode_labels",
    "match_names",
    "parse_names",
    "sort_names",
]

FOLDER_KEY = "folder"
"""Key that names the parent folder of a file instead of a regex group."""

NAME_PATTERNS: dict[str, str] = {
    "fsdd": r"(?P<digit>\d)_(?P<speaker>[a-z]+)_\d+\.wav",
    "digit_word": r"(?P<digit>\d)(?P<word>[a-z]+)\d+\.wav",
    "librispeech": r"(?P<speaker>\d+)-(?P<chapter>\d+)-(?P<utterance>\d+)\.flac",
}
"""Ready label regexes for known file-name layouts."""


@dataclass
class ParsedNames:
    """The files whose names gave every requested key, and the raw strings.

    Attributes:
        paths: relative paths of the kept files, in input order.
        label_values: label string per kept file, or None when no label key.
        group_values: group string per kept file, or None when no group key.
        unmatched: relative paths left out (name did not match, or no folder).
    """

    paths: list[str]
    label_values: list[str] | None
    group_values: list[str] | None
    unmatched: list[str] = field(default_factory=list)


def sort_names(values: Iterable[str]) -> list[str]:
    """Unique values sorted: numerically when all are integers, else as strings."""
    unique = set(values)
    if unique and all(re.fullmatch(r"[+-]?\d+", v) for v in unique):
        return sorted(unique, key=lambda v: (int(v), v))
    return sorted(unique)


def encode_labels(values: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Map strings to contiguous ints in :func:`sort_names` order.

    Returns:
        ``(codes, names)``: ``codes[i]`` is the index of ``values[i]`` in ``names``.

    Shape:
        -> codes ``(N,)`` int64
    """
    names = sort_names(values)
    index = {name: i for i, name in enumerate(names)}
    codes = np.fromiter((index[v] for v in values), dtype=np.int64, count=len(values))
    return codes, names


def _groups_text(pattern: re.Pattern[str]) -> str:
    groups = sorted(pattern.groupindex, key=lambda g: pattern.groupindex[g])
    return f"its groups are {', '.join(groups)}" if groups else "it has no named groups"


def compile_label_regex(
    pattern: str | re.Pattern[str],
    keys: Sequence[tuple[str, str | None]] = (),
    *,
    option: str = "label_regex",
) -> re.Pattern[str]:
    """Compile a label regex and check that each key names one of its groups.

    Args:
        pattern: the regex (matched against whole file names).
        keys: ``(argument name, key)`` pairs to check, e.g. ``("label_key", "digit")``;
            a key of None or :data:`FOLDER_KEY` (when not a group) is not checked.
        option: the regex's name in messages (e.g. ``--label-regex``).

    Raises:
        DataError: the regex does not compile, or a key is not one of its named groups.
    """
    if isinstance(pattern, re.Pattern):
        compiled = pattern
    else:
        try:
            compiled = re.compile(pattern)
        except re.error as err:
            raise LabelPatternError(f"{option} '{pattern}' is not a valid regex: {err}") from None
    for arg, key in keys:
        if key is None or key in compiled.groupindex or key == FOLDER_KEY:
            continue
        raise LabelPatternError(
            f"{arg} = {key!r} is not a named group of {option} '{compiled.pattern}': "
            f"{_groups_text(compiled)}"
        )
    return compiled


def match_names(
    paths: Sequence[str],
    regex: re.Pattern[str] | None,
    keys: Sequence[str],
    *,
    strict: bool = True,
    source: str = "the dataset",
    option: str = "label_regex",
) -> tuple[list[str], dict[str, list[str]], list[str]]:
    """The value of each key for each file: a group of ``regex`` or the parent folder.

    A key that names a group of ``regex`` (matched against the whole file
    name) takes that group's text; any other key (:data:`FOLDER_KEY`) takes
    the name of the file's parent folder. Files whose names do not match are
    left out, and so, with ``strict``, are files lacking a value (a group
    that took no part in the match, a file directly in the root); without
    ``strict`` such a value is ``""``. A warning gives the count and the
    first few names of the files left out.

    Args:
        paths: relative paths (``/``-separated) of the files.
        regex: the compiled label regex, or None (folder keys only).
        keys: the keys wanted.
        strict: leave out files lacking a value.
        source: where the files are, for messages (e.g. the root folder).
        option: the regex's name in messages.

    Returns:
        ``(kept paths, {key: one string per kept path}, paths left out)``.

    Raises:
        DataError: no file is left.
    """
    kept: list[str] = []
    values: dict[str, list[str]] = {k: [] for k in keys}
    unmatched: list[str] = []
    for rel in paths:
        p = PurePosixPath(rel)
        m = regex.fullmatch(p.name) if regex is not None else None
        if regex is not None and m is None:
            unmatched.append(rel)
            continue
        row: list[str | None] = []
        for key in keys:
            if m is not None and key in m.re.groupindex:
                row.append(m.group(key))
            else:  # folder key
                row.append(p.parent.name if len(p.parts) >= 2 else None)
        if strict and None in row:
            unmatched.append(rel)
            continue
        kept.append(rel)
        for key, value in zip(keys, row):
            values[key].append(value or "")

    what = f"{option} '{regex.pattern}'" if regex is not None else "a class folder"
    if not kept:
        raise DataError(
            f"no file of the {len(paths)} in {source} matches {what} "
            f"(e.g. {list_examples(list(paths))})"
            if regex is not None
            else f"no file of the {len(paths)} in {source} is in a class folder: "
            f"folder labels need root/<class>/<file> (found {list_examples(list(paths))})"
        )
    if unmatched:
        verb = "do not match" if regex is not None else "are not in"
        warnings.warn(
            f"{len(unmatched)} of {len(paths)} files in {source} {verb} {what} and are left out: "
            f"{list_examples(unmatched)}",
            stacklevel=3,
        )
    return kept, values, unmatched


def parse_names(
    paths: Sequence[str],
    *,
    label_regex: str | re.Pattern[str] | None = None,
    label_key: str | None = None,
    group_key: str | None = None,
    label_from: str = "name",
    source: str = "the dataset",
) -> ParsedNames:
    """Labels and groups of files from their names or parent folders.

    Files whose names do not match ``label_regex`` (or, for folder keys, that
    lie directly in the root) are left out; a warning gives their count and
    the first few names.

    Args:
        paths: relative paths (``/``-separated) of the files.
        label_regex: regex with named groups, matched against whole file names.
        label_key: regex group (or ``"folder"``) that gives the label.
        group_key: regex group (or ``"folder"``) that gives the group.
        label_from: ``"name"`` (label from ``label_key``) or ``"folder"`` (label
            from the parent folder; ``label_key`` must then be None or ``"folder"``).
        source: where the files are, for messages (e.g. the root folder).

    Raises:
        ConfigError: ``label_from`` is not ``"name"`` or ``"folder"``, or conflicts with ``label_key``.
        DataError: bad regex, a key that is not a group, or no file left.
    """
    if label_from not in ("name", "folder"):
        raise ConfigError(f"label_from = {label_from!r} is not valid: expected 'name' or 'folder'")
    if label_from == "folder":
        if label_key not in (None, FOLDER_KEY):
            raise ConfigError(
                f"label_from = 'folder' takes the label from the folder name, so label_key = "
                f"{label_key!r} would be ignored: drop label_key or use label_from = 'name'"
            )
        label_key = FOLDER_KEY
    regex: re.Pattern[str] | None = None
    if label_regex is not None:
        regex = compile_label_regex(
            label_regex, [("label_key", label_key), ("group_key", group_key)]
        )
    else:
        for arg, key in (("label_key", label_key), ("group_key", group_key)):
            if key is not None and key != FOLDER_KEY:
                raise LabelPatternError(
                    f"{arg} = {key!r} needs label_regex, a regex with a named group {key!r} "
                    f"(e.g. '{NAME_PATTERNS['fsdd']}'), or the key 'folder'"
                )

    keys = [k for k in dict.fromkeys((label_key, group_key)) if k is not None]
    kept, values, unmatched = match_names(paths, regex, keys, source=source)
    return ParsedNames(
        paths=kept,
        label_values=values[label_key] if label_key is not None else None,
        group_values=values[group_key] if group_key is not None else None,
        unmatched=unmatched,
    )
